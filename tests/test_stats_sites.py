"""The stats stage end to end on simulated data with the sim-* controls as the models.

One subject, both alignments: sim-vision, sim-language, sim-multimodal (trained and their
block-permuted random twins) and the concat/banded baselines of sim-vision + sim-language.
The `tiny` preset's 150 s movie gives 5 blocks of 30 s (too few for 1,000 swaps) and 41
scene cuts, so this module simulates 1,200 s (~330 scene cuts, 40 blocks of the default
30 s) at the default SNR: the vision alignment needs that many events for power.
"""

from __future__ import annotations

import argparse
import copy
import json

import h5py
import pandas as pd
import pytest

from neuroalign.simulate.validation import run_control_chain, score_sites
from neuroalign.stats import COMPARISON_COLUMNS, compute_stats, load_encodings
from neuroalign.stats.cli import add_parser
from neuroalign.stats.sites import claim_columns, q_column

SUBJECT, ALIGNMENTS = "sub_1", ("language", "vision")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    run = run_control_chain(tmp_path_factory.mktemp("stats_sim"), seed=0, duration_s=1200.0,
                            additive_frac=0.12, config={"stats": {"n_bootstrap": 10}},
                            # Known truth at fixed thresholds: realistic structure off
                            # (with it on, recall was 2 of 3 and additive electrodes were
                            # classed vision/language; measured 2026-12-01).
                            structure={"drift_sd": 0.0, "spike_frac": 0.0, "scenes": False})
    return (run["config"], run["truth"], run["encodings"], run["electrodes"],
            run["sites"].parent)


def _sites(fitted):
    _, truth, _, _, stats_dir = fitted
    sites = pd.read_parquet(stats_dir / "sites.parquet").set_index("electrode")
    sites["truth"] = sites.index.map(truth["electrodes"])
    sites["adjacent"] = sites.index.isin(list(truth["adjacent_to_planted"]))
    return sites


def test_output_schemas(fitted):
    _, _, _, _, stats_dir = fitted
    comp = pd.read_parquet(stats_dir / "comparisons.parquet")
    assert list(comp.columns) == COMPARISON_COLUMNS
    assert set(comp["comparison"]) == {"trained-vs-random", "multimodal-vs-vision",
                                       "multimodal-vs-language", "multimodal-vs-concat",
                                       "multimodal-vs-banded"}
    assert set(comp["alignment"]) == set(ALIGNMENTS)
    assert comp["p"].between(0, 1).all() and comp["q"].between(0, 1).all()
    assert (comp["n_bins"] >= 10).all()
    sites = pd.read_parquet(stats_dir / "sites.parquet")
    assert list(sites.columns[:6]) == ["electrode", "region", "x", "y", "z", "class"]
    for al in ALIGNMENTS:
        for col in ("class", "n_bins", "model", "mean_r", "vs_random_q", "vs_vision_delta_r",
                    "vs_language_model", "vs_concat_q", "vs_banded_q", "residual_autocorr"):
            assert f"{al}_{col}" in sites.columns
    assert sites["region"].notna().all()
    for col in claim_columns(list(ALIGNMENTS)):  # one p per electrode per claim, and its q
        assert sites[col].between(0, 1).all(), col
        assert sites[q_column(col, "subject_q")].between(0, 1).all(), col


def test_planted_sites(fitted):
    sites = _sites(fitted)
    multi = sites[sites["truth"] == "multimodal"]
    recall_lang = float((multi["language_class"] == "multimodal").mean())
    recall_both = float((multi["class"] == "multimodal").mean())
    print(f"multimodal recall: language alignment {recall_lang:.2f}, both alignments "
          f"{recall_both:.2f} (n={len(multi)})")
    assert (multi["language_class"] == "multimodal").sum() >= len(multi) - 1
    # Planted vision electrodes are never called multimodal, in any alignment.
    vis = sites[sites["truth"] == "vision"]
    for al in ALIGNMENTS:
        assert (vis[f"{al}_class"] != "multimodal").all()
    assert (vis["class"] == "vision").all()
    # No unimodal electrode is a (both-alignment) multimodal site.
    uni = sites[sites["truth"].isin(["vision", "language"])]
    assert not uni["class"].eq("multimodal").any()


def test_planted_sites_both_alignments_and_nulls(fitted):
    _, truth, _, _, stats_dir = fitted
    scores = score_sites(pd.read_parquet(stats_dir / "sites.parquet"), truth)
    print("scores against ground truth:", scores)
    assert scores["multimodal_recall"] >= 0.9
    assert scores["multimodal_fdp"] <= 0.05
    sites = _sites(fitted)
    uni = sites[sites["truth"].isin(["vision", "language"])]
    assert not uni["class"].str.startswith("multimodal").any()
    for kind in ("vision", "language"):
        assert (sites.loc[sites["truth"] == kind, "class"] == kind).all(), kind
    nulls = sites[(sites["truth"] == "null") & ~sites["adjacent"]]
    assert nulls["class"].isin(["none", "responsive"]).all(), nulls["class"]


def test_linear_baselines_stop_additive_electrodes(fitted):
    """An additive vision+language electrode beats each unimodal model, so without the linear
    baselines it would be called multimodal; with them it is not (docs/DESIGN.md §6).

    Seen on this dataset: all three additive electrodes ``multimodal-language-only`` without
    the baselines (in the vision alignment their language part is weak), ``vision`` with them.
    """
    cfg, truth, paths, _, _ = fitted
    no_base = copy.deepcopy(cfg)
    no_base["sites"]["linear_baselines"] = []
    _, without = compute_stats(no_base, SUBJECT, load_encodings(paths))
    without = without.set_index("electrode")
    sites = _sites(fitted)
    additive = sites.index[sites["truth"] == "vision+language"]
    assert len(additive) >= 2
    print("additive electrodes, class without / with baselines:",
          {e: (without.loc[e, "class"], sites.loc[e, "class"]) for e in additive})
    assert without.loc[additive, "class"].str.startswith("multimodal").all()
    assert not sites.loc[additive, "class"].str.startswith("multimodal").any()
    for al in ALIGNMENTS:  # the baselines only ever remove sites
        with_b = set(sites.index[sites[f"{al}_class"] == "multimodal"])
        without_b = set(without.index[without[f"{al}_class"] == "multimodal"])
        assert with_b <= without_b


def test_deterministic_and_cli(fitted, tmp_path):
    cfg, _, paths, electrodes, stats_dir = fitted
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(cfg))
    args = parser.parse_args(["stats", "run", "--config", str(cfg_path), "--subject", SUBJECT,
                              "--encodings", *map(str, paths), "--electrodes", str(electrodes),
                              "--out-comparisons", str(tmp_path / "c.parquet"),
                              "--out-sites", str(tmp_path / "s.parquet")])
    assert args.func(args) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "c.parquet"),
                                  pd.read_parquet(stats_dir / "comparisons.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "s.parquet"),
                                  pd.read_parquet(stats_dir / "sites.parquet"))


def _copy(src, dst, **change):
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        for k, v in change.items():
            if k in f:
                data = f[k][()]
                del f[k]
                f.create_dataset(k, data=v(data))
            else:
                f.attrs[k] = v
    return dst


def test_bad_input(fitted, tmp_path):
    cfg, _, paths, _, _ = fitted
    lang = [p for p in paths if p.name == "language.h5"]
    vis_random = next(p for p in lang if p.parent.name == "random"
                      and p.parent.parent.name == "sim-vision")
    other = _copy(vis_random, tmp_path / "other_config.h5", config_hash="0" * 16)
    swapped = [other if p == vis_random else p for p in lang]
    with pytest.raises(ValueError, match=r"(?s)language\.h5 and .*other_config\.h5.*config_hash"):
        compute_stats(cfg, SUBJECT, load_encodings(swapped))
    events = _copy(vis_random, tmp_path / "other_events.h5", event_id=lambda x: x[::-1].copy())
    swapped = [events if p == vis_random else p for p in lang]
    with pytest.raises(ValueError, match=r"other_events\.h5 cannot be compared: 'event_id'"):
        compute_stats(cfg, SUBJECT, load_encodings(swapped))
    bad = copy.deepcopy(cfg)
    bad["sites"]["vision_models"] = ["clip.vision"]
    with pytest.raises(ValueError, match=r"'clip.vision', which was not run.*'sim-language'"):
        compute_stats(bad, SUBJECT, load_encodings(lang))
    bad = copy.deepcopy(cfg)
    bad["stats"]["n_permutations"] = 10 ** 14  # 40 blocks of 30 s here
    with pytest.raises(ValueError, match=r"needs at least 47 blocks"):
        compute_stats(bad, SUBJECT, load_encodings(lang))
