"""`make demo` as a new user runs it: the embedded (simulated) dataset through the whole workflow
on the repository's config.yaml, checked against the simulation's ground truth.

The run is shared with tests/test_browser.py (the `demo_workflow` fixture); it takes ~12 min
on 2 cores, so the module is marked slow (CI runs it). The demo preset places no planted contact
next to one of another class (README, "Power"), so every planted multimodal electrode's signal
stays its own after the Laplacian; no electrode other than them and their same-shaft
neighbours (which carry their signal through the re-reference) may be called a site.

Recall is not what it was (14 of 14 until 2026-12-01). With the simulator's realistic
structure (slow drift SD 0.3, 1-3 min scenes, spikes), the 90 s high-pass and the strict
site claim (intersection-union over every competitor and both alignments, BH pooled over
subjects), `make demo` named 6 of 14 as sites (3 per subject), 0 false sites, 2 leakage
sites, and 13 of the 14 got a multimodal class in at least one alignment (measured
2026-12-01; most misses are vision-alignment misses of a 10-min film). Issue #12 keeps
"make demo names every planted multimodal electrode" open; this test pins the level seen,
so that a regression below it fails.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from neuroalign.simulate.validation import sites_against_truth

pytestmark = pytest.mark.slow


def test_demo_names_the_planted_sites(demo_workflow):
    work = demo_workflow
    truth = json.loads((work / "data" / "sim" / "ground_truth.json").read_text())
    table = pd.read_csv(work / "results" / "sites.tsv", sep="\t")
    summary = (work / "results" / "summary.html").read_text()
    verdicts = sites_against_truth(table, truth)
    print(verdicts.to_string())
    assert (verdicts["verdict"] == "found").sum() >= 5, verdicts
    assert not verdicts["verdict"].isin(["false"]).any(), verdicts
    # Every planted multimodal electrode shows a multimodal class in some alignment, but one.
    planted = {(s, e) for s, t in truth.items() if isinstance(t, dict) and "electrodes" in t
               for e, c in t["electrodes"].items() if c == "multimodal"}
    listed = table.set_index(["subject", "electrode"])["class"]
    multimodal_any = sum(str(listed.get(k, "")).startswith("multimodal") for k in planted)
    assert multimodal_any >= len(planted) - 2, (multimodal_any, len(planted))
    for row in verdicts.itertuples():
        assert row.electrode in summary, f"{row.subject} {row.electrode} not in summary.html"


def test_demo_planted_classes_do_not_touch(demo_workflow):
    """The premise of the test above: no two same-shaft neighbours carry different planted
    classes (checked on the electrode table the workflow wrote)."""
    truth = json.loads((demo_workflow / "data" / "sim" / "ground_truth.json").read_text())
    for subject in (s for s in truth if s.startswith("sub_")):
        electrodes = pd.read_parquet(demo_workflow / "results" / "subjects" / subject /
                                     "electrodes.parquet")
        kind = truth[subject]["electrodes"]
        at = {(r.shaft, r.contact): r.name for r in electrodes.itertuples() if r.name in kind}
        for (shaft, contact), name in at.items():
            near = at.get((shaft, contact + 1))
            if near and "null" not in (kind[name], kind[near]):
                assert kind[name] == kind[near], (subject, name, near)


def test_demo_rerun_does_nothing(demo_workflow):
    from workflow_utils import snakemake

    res = snakemake(demo_workflow, demo_workflow / "config.yaml", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "Nothing to be done" in res.stdout + res.stderr
