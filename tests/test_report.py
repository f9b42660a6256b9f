"""Report stage: per-subject report.html, summary.html and sites.tsv (docs/DESIGN.md §7).

The fast tests render small encoding/stats files written here in the documented schemas
(docs/DESIGN.md §4), so they do not depend on what the stats stage currently calls a site; the
slow test renders the tiny end-to-end workflow's outputs and runs `snakemake --report`.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from neuroalign.config import validate_config
from neuroalign.data.build import ELECTRODE_COLUMNS
from neuroalign.io import write_parquet
from neuroalign.report import (
    SITES_TSV_COLUMNS,
    SUBJECT_FIGURES,
    SUMMARY_FIGURES,
    render_subject_report,
    render_summary,
)
from neuroalign.stats.sites import COMPARISON_COLUMNS

HOSTILE = "<script>alert(1)</script>"
MATHTEXT = r"RA$\undefined{x}$"  # would be invalid mathtext if not escaped
ALIGNMENTS = ("language", "vision")
# model -> (modality, n_layers, has a random twin)
MODELS = {"sim-vision": ("vision", 1, True), "sim-language": ("language", 1, True),
          "sim-multimodal": ("multimodal", 2, True), "concat": ("linear-integration", 1, False)}
CLASSES = ["multimodal", "vision", "language", "responsive", "multimodal-language-only",
           "none", "none", "none"]
SECTIONS = ["methods", "data", "locations", "time", "layers", "scatter", "diagnostics",
            "comparisons", "sites", "provenance"]


def _electrodes(names: list[str], space: str, region: str = "superiortemporal") -> pd.DataFrame:
    n = len(names)
    rng = np.random.default_rng(1)
    mni = space != "native"  # coordinates in MNI or in another space (ACPC); none if native
    return pd.DataFrame({
        "name": names, "shaft": [("LT" if i < n // 2 else "RA") for i in range(n)],
        "contact": [i % (n // 2) + 1 for i in range(n)], "type": "SEEG",
        "x": rng.uniform(-60, 60, n) if mni else np.nan,
        "y": rng.uniform(-60, 40, n) if mni else np.nan,
        "z": rng.uniform(-30, 50, n) if mni else np.nan,
        "space": space, "region": [region] * n,
        "hemisphere": ["L" if i < n // 2 else "R" for i in range(n)],
        "clean": [True] * (n - 2) + [False, False],
        "reason": [""] * (n - 2) + ["corrupted (corrupted_elec.json)", "flat signal"],
    })[ELECTRODE_COLUMNS]


def _write_encoding(path: Path, model: str, init: str, alignment: str, names: list[str],
                    r: np.ndarray, rng: np.random.Generator, autocorr: float = 0.0) -> None:
    n_el, n_bins = r.shape
    n_layers = MODELS[model][1]
    n_blocks, n_events = 6, 60
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["electrodes"] = np.array(names, dtype="S")
        f["r"] = r.astype(np.float32)
        f["layer_r"] = np.stack([r * (0.6 + 0.4 * k / max(n_layers - 1, 1))
                                 for k in range(n_layers)]).astype(np.float32)
        f["layer"] = np.zeros((n_el, n_bins), np.int16)
        f["alpha"] = np.full((n_el, n_bins), 10.0, np.float32)
        f["ci_low"] = (r - 0.05).astype(np.float32)
        f["ci_high"] = (r + 0.05).astype(np.float32)
        f["p"] = np.where(r > 0.2, 0.001, 0.5)
        f["residual_autocorr"] = np.full((n_el, n_bins), autocorr, np.float32)
        f["blockstats"] = rng.normal(size=(n_blocks, 6, n_el, n_bins))
        f["block_trial"] = np.zeros(n_blocks, np.int64)
        f["event_id"] = np.arange(n_events, dtype=np.int64)
        f["trial"] = np.zeros(n_events, np.int64)
        f["movie"] = np.array(["movie_a"] * n_events, dtype="S")
        f.attrs.update({"subject": "sub_1", "model": model, "init": init,
                        "alignment": alignment, "modality": MODELS[model][0],
                        "is_control": model.startswith("sim-"),
                        "layers": np.array([f"{model}.layer{k}" for k in range(n_layers)],
                                           dtype="S"),
                        "bin_centers_s": np.linspace(-0.5, 1.5, n_bins)})


def make_subject(root: Path, subject: str = "sub_1", space: str = "MNI",
                 hostile: bool = False, autocorr: float = 0.0) -> dict:
    """Electrodes, encodings, comparisons and sites of one fake subject under ``root``."""
    rng = np.random.default_rng(0)
    names = [f"LT{i}" for i in range(1, 5)] + [f"RA{i}" for i in range(1, 5)]
    if hostile:
        names[0] = HOSTILE
        names[1] = MATHTEXT  # a vision electrode: drawn in the r-over-time figure
    n_bins = 9
    el_names = names + ["LT9", "RA9"]  # the two dropped channels
    subj = root / "subjects" / subject
    el = _electrodes(el_names, space, region=HOSTILE if hostile else "superiortemporal")
    write_parquet(el, subj / "electrodes.parquet")
    encodings = []
    base = np.linspace(0.05, 0.5, len(names))[:, None] * np.hanning(n_bins)[None, :]
    for a in ALIGNMENTS:
        for m, (_, _, twin) in MODELS.items():
            for init in (["trained", "random"] if twin else ["trained"]):
                scale = 1.0 if init == "trained" else 0.3
                r = base * scale + rng.normal(0, 0.01, base.shape)
                p = subj / "encoding" / m / init / f"{a}.h5"
                _write_encoding(p, m, init, a, names, r, rng, autocorr)
                encodings.append(p)
    comp_rows = []
    for a in ALIGNMENTS:
        for comparison, model_a, model_b in (
                ("trained-vs-random", "sim-multimodal", "sim-multimodal/random"),
                ("multimodal-vs-vision", "sim-multimodal", "sim-vision"),
                ("multimodal-vs-concat", "sim-multimodal", "concat")):
            for e, name in enumerate(names[:5]):
                comp_rows.append({"alignment": a, "comparison": comparison, "model_a": model_a,
                                  "model_b": model_b, "electrode": name, "n_bins": 9,
                                  "delta_r": 0.1 - 0.02 * e, "p": 0.001 * (e + 1),
                                  "q": 0.002 * (e + 1), "significant": e < 3})
    comparisons = pd.DataFrame(comp_rows)[COMPARISON_COLUMNS]
    rows = []
    for e, name in enumerate(names):
        row = {"electrode": name, "class": CLASSES[e]}
        for a in ALIGNMENTS:
            cls = CLASSES[e]
            if cls.startswith("multimodal-"):
                cls = "multimodal" if a in cls else "responsive"
            row.update({f"{a}_n_bins": 9 if cls != "none" else 0, f"{a}_class": cls,
                        f"{a}_model": "sim-multimodal",
                        f"{a}_mean_r": 0.3 - 0.02 * e if cls != "none" else np.nan,
                        f"{a}_best_unimodal": "sim-vision",
                        f"{a}_best_unimodal_r": 0.2 - 0.01 * e if cls != "none" else np.nan,
                        f"{a}_residual_autocorr": autocorr if cls != "none" else np.nan})
        rows.append(row)
    sites = pd.DataFrame(rows).join(el.set_index("name")[["region", "x", "y", "z"]],
                                    on="electrode")
    sites = sites[["electrode", "region", "x", "y", "z", "class"]
                  + [c for c in sites.columns if c not in ("electrode", "region", "x", "y", "z",
                                                           "class")]]
    write_parquet(comparisons, subj / "stats" / "comparisons.parquet")
    # The stats job records the subject (the summary reads it from there, not from the path).
    write_parquet(sites, subj / "stats" / "sites.parquet", metadata={"subject": subject})
    return {"subject": subject, "encodings": encodings, "electrodes": subj / "electrodes.parquet",
            "comparisons": subj / "stats" / "comparisons.parquet",
            "sites": subj / "stats" / "sites.parquet", "dir": subj}


def _config(root: Path) -> dict:
    return validate_config({"dataset": {"root": str(root)}, "results": str(root),
                            "events": {"block_s": 17}, "stats": {"fdr_q": 0.05, "min_bins": 3}})


@pytest.fixture
def config(tmp_path) -> dict:
    return _config(tmp_path)


def _render(cfg: dict, s: dict, out: Path, figures: Path | None = None) -> dict:
    return render_subject_report(cfg, s["subject"], s["encodings"], s["electrodes"],
                                 s["comparisons"], s["sites"], out, figures_dir=figures,
                                 verbose=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[dict, dict, Path, dict]:
    """One fake MNI subject rendered once: (config, subject files, report.html, summary)."""
    root = tmp_path_factory.mktemp("report")
    cfg = _config(root)
    s = make_subject(root)
    out = s["dir"] / "report.html"
    return cfg, s, out, _render(cfg, s, out, s["dir"] / "figures")


def test_subject_report_sections_figures_and_size(rendered):
    config, s, out, summary = rendered
    figs = s["dir"] / "figures"
    html = out.read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    # every figure embedded as PNG, captioned, and written beside the report
    assert html.count("<figure") == len(SUBJECT_FIGURES) == len(summary["figures"])
    assert html.count("<figcaption>") == len(SUBJECT_FIGURES)
    assert html.count('src="data:image/png;base64,') == len(SUBJECT_FIGURES)
    for name in SUBJECT_FIGURES:
        png = (figs / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 1000
    # self-contained: nothing fetched from the network
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "<script src" not in html
    assert out.stat().st_size < 5 * 1024 * 1024
    # data summary: kept/dropped with reasons, events per alignment
    assert "8 kept, 2 dropped" in html
    assert "corrupted (corrupted_elec.json)" in html and "flat signal" in html
    assert html.count("<td>movie_a</td>") == len(ALIGNMENTS)
    # methods from the config, with citations
    assert "17 s blocks" in html
    for cite in ("Subramaniam", "MNE-Python", "nilearn", "statsmodels", "Benjamini",
                 "Snakemake"):
        assert cite in html, cite
    assert "Electrode locations (glass brain)" in html  # MNI coordinates: nilearn
    # comparison table and site list: every non-'none' electrode, sites first
    assert "multimodal-vs-concat" in html
    site_table = html.split('id="site-table"')[1]
    assert site_table.count("<tr data-class=") == sum(c != "none" for c in CLASSES)
    assert site_table.index("LT1") < site_table.index("LT2")  # multimodal before vision
    # residual autocorrelation 0 everywhere: the diagnostic says so
    assert 'class="ok">No integration-site electrode' in html
    assert not list(s["dir"].rglob(".*.tmp"))  # atomic writes leave no temp file


def test_hostile_names_are_escaped(tmp_path, config):
    s = make_subject(tmp_path, hostile=True)
    out = s["dir"] / "report.html"
    _render(config, s, out)
    html = out.read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert MATHTEXT in html
    render_summary(config, [s["sites"]], [s["electrodes"]], tmp_path / "summary.html",
                   tmp_path / "sites.tsv", verbose=False)
    summary = (tmp_path / "summary.html").read_text()
    assert HOSTILE not in summary
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary


def test_shaft_diagram_without_mni(tmp_path, config, monkeypatch):
    from neuroalign.report import figures

    calls = []
    for name in ("plot_shaft_diagram", "plot_glass_brain_sites", "plot_native_coordinates"):
        original = getattr(figures, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(figures, name, spy)
    native = make_subject(tmp_path / "native", space="native")
    _render(config, native, native["dir"] / "report.html")
    assert calls == ["plot_shaft_diagram"]
    assert "Electrode locations (shaft diagram)" in (native["dir"] / "report.html").read_text()
    # Coordinates in another space (ds003688: ACPC) are drawn as they are, never on the MNI
    # glass brain, and grids are not strung into shafts.
    acpc = make_subject(tmp_path / "acpc", space="ACPC")
    _render(config, acpc, acpc["dir"] / "report.html")
    assert calls == ["plot_shaft_diagram", "plot_native_coordinates"]
    html = (acpc["dir"] / "report.html").read_text()
    assert "Electrode locations (native-space projections)" in html and "ACPC space" in html


def test_reports_are_byte_identical_across_renders(rendered, tmp_path):
    config, s, first, _ = rendered
    again = tmp_path / "report.html"
    _render(config, s, again, tmp_path / "figures")
    assert again.read_bytes() == first.read_bytes()
    for name in SUBJECT_FIGURES:
        assert (tmp_path / "figures" / f"{name}.png").read_bytes() == \
            (s["dir"] / "figures" / f"{name}.png").read_bytes()
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        render_summary(config, [s["sites"]], [s["electrodes"]], d / "summary.html",
                       d / "sites.tsv", figures_dir=d / "figures", verbose=False)
    for name in ("summary.html", "sites.tsv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_residual_autocorrelation_is_flagged(tmp_path, config):
    s = make_subject(tmp_path, autocorr=0.3)
    out = s["dir"] / "report.html"
    _render(config, s, out)
    html = out.read_text()
    note = html.split('id="diagnostics"')[1].split("</p>")[0]
    assert 'class="note"' in note and "LT1" in note  # the multimodal site is named
    assert "⚠" in html.split('id="site-table"')[1]


def test_summary_and_sites_tsv_match_sites_parquet(tmp_path, config):
    subjects = [make_subject(tmp_path, "sub_1"), make_subject(tmp_path, "sub_2", "native")]
    out_html, out_tsv = tmp_path / "summary.html", tmp_path / "sites.tsv"
    result = render_summary(config, [s["sites"] for s in subjects],
                            [s["electrodes"] for s in subjects], out_html, out_tsv,
                            figures_dir=tmp_path / "figures", verbose=False)
    tsv = pd.read_csv(out_tsv, sep="\t")
    assert list(tsv.columns[:len(SITES_TSV_COLUMNS)]) == SITES_TSV_COLUMNS
    for s in subjects:
        sites = pd.read_parquet(s["sites"])
        expected = sites.loc[sites["class"] != "none", "class"].value_counts().sort_index()
        got = tsv.loc[tsv["subject"] == s["subject"], "class"].value_counts().sort_index()
        pd.testing.assert_series_equal(got, expected, check_names=False)
        evidence = [c for c in sites.columns if c.startswith("language_")]
        assert set(evidence) <= set(tsv.columns)
    assert tsv["class"].iloc[0] == "multimodal"  # sites first
    counts = {r["subject"]: r for r in result["counts"]}
    n_resp = sum(c != "none" for c in CLASSES)
    assert counts["all"]["sites"] == 2 and counts["all"]["responsive"] == 2 * n_resp
    assert counts["all"]["pct_of_responsive"] == pytest.approx(100 * 2 / (2 * n_resp))
    html = out_html.read_text()
    assert f"{100 * 2 / (2 * n_resp):.2f} %" in html
    assert "12.94 %" in html  # the reference's rate, for comparison
    assert html.count("<figcaption>") == len(SUMMARY_FIGURES)
    assert "sub_2" in html.split('id="fig-summary_locations"')[1].split("</figure>")[0]
    assert 'table class="sortable" id="site-table"' in html and "data-filter-for" in html
    assert html.split('id="site-table"')[1].count("<tr data-class=") == len(tsv)
    for name in SUMMARY_FIGURES:
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000
    assert out_html.stat().st_size < 5 * 1024 * 1024


def test_report_cli(tmp_path, config):
    import json

    from neuroalign.cli import main

    s = make_subject(tmp_path)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config))
    out = tmp_path / "cli" / "report.html"
    rc = main(["-q", "report", "subject", "--config", str(cfg), "--subject", "sub_1",
               "--encodings", *map(str, s["encodings"]), "--electrodes", str(s["electrodes"]),
               "--comparisons", str(s["comparisons"]), "--sites", str(s["sites"]),
               "--figures-dir", str(tmp_path / "cli" / "figures"), "--out", str(out)])
    assert rc == 0 and out.exists()
    assert len(list((tmp_path / "cli" / "figures").glob("*.png"))) == len(SUBJECT_FIGURES)
    rc = main(["-q", "report", "summary", "--config", str(cfg), "--sites", str(s["sites"]),
               "--electrodes", str(s["electrodes"]), "--out-html", str(tmp_path / "s.html"),
               "--out-tsv", str(tmp_path / "s.tsv")])
    assert rc == 0
    assert pd.read_csv(tmp_path / "s.tsv", sep="\t")["subject"].eq("sub_1").all()


def test_stale_stats_are_refused(tmp_path, config):
    s = make_subject(tmp_path)
    sites = pd.read_parquet(s["sites"])
    write_parquet(sites[sites["electrode"] != "RA4"], s["sites"])
    with pytest.raises(ValueError, match="RA4"):
        _render(config, s, tmp_path / "report.html")


@pytest.mark.slow
def test_workflow_reports(tiny_workflow, tmp_path):
    from workflow_utils import snakemake

    work, cfg = tiny_workflow
    results = work / "results"
    subjects = sorted(p.name for p in (results / "subjects").iterdir())
    assert subjects
    for s in subjects:
        html = (results / "subjects" / s / "report.html").read_text()
        for section in SECTIONS:
            assert f'id="{section}"' in html, (s, section)
        assert (results / "subjects" / s / "report.html").stat().st_size < 5 * 1024 * 1024
        for name in SUBJECT_FIGURES:
            assert (results / "subjects" / s / "figures" / f"{name}.png").exists()
    assert (results / "summary.html").stat().st_size < 5 * 1024 * 1024
    tsv = pd.read_csv(results / "sites.tsv", sep="\t")
    # sites.tsv lists the pooled classes (BH over all subjects: results/stats/sites.parquet).
    pooled = pd.read_parquet(results / "stats" / "sites.parquet")
    for s in subjects:
        assert (tsv["subject"] == s).sum() == ((pooled["subject"] == s)
                                               & (pooled["class"] != "none")).sum()
    report = tmp_path / "report.zip"
    res = snakemake(work, cfg, "--report", str(report))
    assert res.returncode == 0, res.stderr[-3000:]
    assert report.stat().st_size > 10_000


def test_reports_show_the_pooled_classes(tmp_path, config):
    from neuroalign.report import render_subject_report

    subjects = [make_subject(tmp_path, "sub_1"), make_subject(tmp_path, "sub_2", "native")]
    # The pooled table demotes sub_2's site (BH across both subjects) and keeps the rest.
    frames = []
    for s in subjects:
        t = pd.read_parquet(s["sites"]).assign(subject=s["subject"])
        t["subject_class"] = t["class"]
        frames.append(t)
    pooled = pd.concat(frames, ignore_index=True)
    demoted = (pooled["subject"] == "sub_2") & (pooled["class"] == "multimodal")
    assert demoted.sum() == 1
    pooled.loc[demoted, ["class", "language_class", "vision_class"]] = "responsive"
    pooled["q_site"] = np.where(demoted, 0.2, 0.01)
    write_parquet(pooled, tmp_path / "stats" / "sites.parquet")
    out_tsv = tmp_path / "sites.tsv"
    render_summary(config, [s["sites"] for s in subjects], [s["electrodes"] for s in subjects],
                   tmp_path / "summary.html", out_tsv, verbose=False,
                   pooled=tmp_path / "stats" / "sites.parquet")
    tsv = pd.read_csv(out_tsv, sep="\t")
    got = tsv[tsv["class"] == "multimodal"]["subject"].tolist()
    assert got == ["sub_1"]
    assert "q_site" in tsv.columns and "subject_class" in tsv.columns
    out = tmp_path / "r2.html"
    res = render_subject_report(config, "sub_2", subjects[1]["encodings"],
                                subjects[1]["electrodes"], subjects[1]["comparisons"],
                                subjects[1]["sites"], out,
                                pooled=tmp_path / "stats" / "sites.parquet")
    assert res["classes"].get("multimodal", 0) == 0
    with pytest.raises(ValueError, match="sub_3"):
        render_summary(config, [subjects[0]["sites"]], [subjects[0]["electrodes"]],
                       tmp_path / "x.html", tmp_path / "x.tsv", subjects=["sub_3"],
                       pooled=tmp_path / "stats" / "sites.parquet")


def test_block_length_diagnostic_is_per_electrode(tmp_path, config):
    """With ``block_s_needed`` in the encodings, only electrodes whose median bin needs longer
    blocks than events.block_s are flagged, whatever the old per-target lag-1 column says."""
    s = make_subject(tmp_path, autocorr=0.3)  # old diagnostic: every site over 0.1
    for path in s["encodings"]:
        with h5py.File(path, "a") as f:
            n_el, n_bins = f["r"].shape
            need = np.full((n_el, n_bins), 5.0, np.float32)
            need[4, :2] = 500.0  # LT5 (a site): 2 of 9 bins only, the median is 5 s
            if "sim-multimodal/trained/" in str(path):
                need[0, :] = 80.0  # LT1 (a site): every bin
            f["block_s_needed"] = need
            f.attrs["block_s"] = float(config["events"]["block_s"])
            f.attrs["unshifted_trials"] = np.array([1] if "/vision.h5" in str(path) else [],
                                                   dtype=np.int64)
    out = s["dir"] / "report.html"
    _render(config, s, out)
    html = out.read_text()
    note = html.split('id="diagnostics"')[1].split("</p>")[0]
    assert 'class="note"' in note and "1 site electrode(s)" in note and "LT1" in note
    assert "LT5" not in note
    table = html.split('id="autocorr-table"')[1].split("</table>")[0]
    assert "electrodes" in table and f"&gt; {config['events']['block_s']:g} s" in table
    assert "trials left unshifted" in table
    vision_rows = [row for row in table.split("<tr")[2:] if "<td>vision</td>" in row]
    assert vision_rows and all("<td>1</td></tr>" in row for row in vision_rows)
    assert all("<td>none</td></tr>" in row for row in table.split("<tr")[2:]
               if "<td>language</td>" in row)
    assert html.split('id="site-table"')[1].count("⚠") == 2  # LT1, both alignments


def test_event_totals_come_from_each_tables_metadata(tmp_path):
    # The report is handed the events files; which movie and alignment each holds is read
    # from what the events job recorded, not from the path.
    from neuroalign.artifacts import EVENT_COLUMNS
    from neuroalign.report.subject import _event_totals

    table = pd.DataFrame({c: [0, 1, 2] for c in EVENT_COLUMNS})
    good = write_parquet(table, tmp_path / "x" / "anywhere.parquet",
                         metadata={"movie": "m", "alignment": "vision"})
    assert _event_totals([good]) == {("vision", "m"): 3}
    bad = write_parquet(table, tmp_path / "bare.parquet")
    with pytest.raises(ValueError, match="bare.parquet"):
        _event_totals([bad])


def test_contacts_of_a_pair_site_are_drawn_with_its_class():
    from neuroalign.report.subject import _electrode_classes

    electrodes = pd.DataFrame({"name": ["A1", "A2", "A3", "B1"],
                               "clean": [True, False, True, False]})
    # A1-A2 an isolated pair under the Laplacian (A2 kept once, in the pair); A3 on its own.
    sites = pd.DataFrame({"electrode": ["A1-A2", "A3"], "class": ["multimodal", "none"]})
    assert _electrode_classes(electrodes, sites) == ["multimodal", "multimodal", "none",
                                                     "dropped"]
    # Bipolar: a contact in two outputs takes the better-ranked class.
    bipolar = pd.DataFrame({"electrode": ["A1-A2", "A2-A3"], "class": ["vision", "multimodal"]})
    assert _electrode_classes(electrodes, bipolar)[:3] == ["vision", "multimodal", "multimodal"]
