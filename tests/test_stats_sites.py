"""The stats stage end to end on simulated data with the sim-* controls as the models.

One subject, both alignments: sim-vision, sim-language, sim-multimodal (trained and their
block-permuted random twins) and the concat/banded baselines of sim-vision + sim-language.
The `tiny` preset's 150 s movie gives 5 blocks of 30 s (too few for 1,000 swaps) and 41
scene cuts, so this module simulates 450 s and uses 20 s blocks (22 blocks).
"""

from __future__ import annotations

import argparse
import copy
import json

import h5py
import pandas as pd
import pytest

from neuroalign.config import validate_config
from neuroalign.data.build import write_electrodes, write_events, write_responses
from neuroalign.encoding.build import fit_baseline, fit_encoding
from neuroalign.features.extract import extract_features
from neuroalign.stats import COMPARISON_COLUMNS, compute_stats, load_encodings, run_stats
from neuroalign.stats.cli import add_parser

SUBJECT, MOVIE, ALIGNMENTS = "sub_1", "sim-movie-a", ("language", "vision")
CONTROLS = ("sim-vision", "sim-language", "sim-multimodal")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from neuroalign.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("stats_sim")
    ds, out = root / "ds", root / "out"
    simulate_dataset(ds, preset="tiny", seed=0, latents="random", duration_s=450.0,
                     n_subjects=1)
    cfg = validate_config({"dataset": {"root": str(ds)},
                           "movies": {"root": str(ds / "movies"),
                                      "scene_cuts": str(ds / "scene_cuts")},
                           "results": str(out), "events": {"block_s": 20},
                           "stats": {"n_bootstrap": 10}})
    truth = json.loads((ds / "ground_truth.json").read_text())[SUBJECT]
    for al in ALIGNMENTS:
        write_events(cfg, MOVIE, al, out / "movies" / MOVIE / "events" / f"{al}.parquet")
    electrodes = out / SUBJECT / "electrodes.parquet"
    write_electrodes(cfg, SUBJECT, electrodes)
    write_responses(cfg, SUBJECT, list(ALIGNMENTS), electrodes, out / "movies",
                    [out / SUBJECT / f"{al}.h5" for al in ALIGNMENTS])
    paths = []
    for al in ALIGNMENTS:
        responses = out / SUBJECT / f"{al}.h5"
        for model in CONTROLS:
            for init in ("trained", "random"):
                feat = root / "features" / model / init
                extract_features(model, init, out / "movies" / MOVIE / "events" / f"{al}.parquet",
                                 ds / "movies", feat / MOVIE / f"{al}.h5", dataset_root=ds,
                                 seed=0, verbose=False)
                paths.append(root / "encoding" / model / init / f"{al}.h5")
                fit_encoding(cfg, SUBJECT, model, init, al, responses, feat, out / "movies",
                             paths[-1])
        unimodal = ["sim-vision", "sim-language"]
        for kind in ("concat", "banded"):
            paths.append(root / "encoding" / kind / "trained" / f"{al}.h5")
            fit_baseline(cfg, SUBJECT, kind, al, unimodal,
                         [root / "encoding" / m / "trained" / f"{al}.h5" for m in unimodal],
                         [root / "features" / m / "trained" for m in unimodal], responses,
                         out / "movies", paths[-1])
    stats_dir = root / "stats"
    run_stats(cfg, SUBJECT, paths, electrodes, stats_dir / "comparisons.parquet",
              stats_dir / "sites.parquet")
    return cfg, truth, paths, electrodes, stats_dir


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
    assert set(comp["comparison"]) == {"trained-vs-random", "multimodal-vs-best-vision",
                                       "multimodal-vs-best-language", "multimodal-vs-concat",
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


@pytest.mark.xfail(reason="tiny sim: multimodal recall in both alignments is 1/3 (the vision "
                          "alignment has ~125 events; issue #5, open); strict: a pass must be "
                          "noticed",
                   strict=True)
def test_planted_sites_both_alignments_and_nulls(fitted):
    sites = _sites(fitted)
    multi = sites[sites["truth"] == "multimodal"]
    assert (multi["class"] == "multimodal").sum() >= len(multi) - 1
    lang = sites[sites["truth"] == "language"]
    assert not lang["class"].str.startswith("multimodal").any()
    nulls = sites[(sites["truth"] == "null") & ~sites["adjacent"]]
    assert nulls["class"].isin(["none", "responsive"]).all(), nulls["class"]


def test_baselines_only_remove_sites(fitted):
    cfg, truth, paths, _, _ = fitted
    no_base = copy.deepcopy(cfg)
    no_base["sites"]["linear_baselines"] = []
    _, without = compute_stats(no_base, SUBJECT, load_encodings(paths))
    without = without.set_index("electrode")
    sites = _sites(fitted)
    for al in ALIGNMENTS:
        with_b = set(sites.index[sites[f"{al}_class"] == "multimodal"])
        without_b = set(without.index[without[f"{al}_class"] == "multimodal"])
        assert with_b <= without_b
        extra = sorted(without_b - with_b)
        print(f"{al}: multimodal without baselines only: "
              f"{[(e, truth['electrodes'][e]) for e in extra]}")


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
    bad["stats"]["n_permutations"] = 10 ** 7
    with pytest.raises(ValueError, match=r"needs at least 24 blocks"):
        compute_stats(bad, SUBJECT, load_encodings(lang))
