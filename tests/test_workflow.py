"""The Snakemake workflow on a tiny simulated dataset: DAG, lint, run, resume, no-op rerun."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from workflow_utils import TINY_MODELS, snakemake, tiny_workflow_config


@pytest.fixture(scope="module")
def tiny_config(tiny_dataset, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("wf")
    return work, tiny_workflow_config(tiny_dataset, work)


def test_dry_run_lists_the_dag(tiny_config):
    work, cfg = tiny_config
    res = snakemake(work, cfg, "-n", "--quiet", "rules")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for rule in ("events", "electrodes", "responses", "features", "encoding", "baseline",
                 "stats"):
        assert rule in out


def test_lint(tiny_config):
    work, cfg = tiny_config
    res = snakemake(work, cfg, "--lint")
    assert res.returncode == 0, res.stdout + res.stderr


def test_misspelled_config_key_stops_before_running(tiny_config, tmp_path):
    work, cfg = tiny_config
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg.read_text() + "preprocesing: {}\n")
    res = snakemake(work, bad, "-n")
    assert res.returncode != 0
    assert "did you mean 'preprocessing'" in res.stdout + res.stderr


@pytest.mark.slow
def test_run_builds_all_outputs_and_rerun_does_nothing(tiny_workflow):
    work, cfg = tiny_workflow
    results = work / "results"
    subjects = sorted(p.name for p in (results / "subjects").iterdir())
    assert subjects == ["sub_1", "sub_2"]
    for subject in subjects:
        el = pd.read_parquet(results / "subjects" / subject / "electrodes.parquet")
        assert el["clean"].any() and (~el["clean"]).any()
        for alignment in ("language", "vision"):
            path = results / "subjects" / subject / "responses" / f"{alignment}.h5"
            with h5py.File(path) as f:
                resp = f["responses"][()]
                assert resp.ndim == 3 and resp.shape[2] == 81
                assert np.isfinite(resp).all()
                assert len(f["event_id"]) == resp.shape[0]
                names = [n.decode() for n in f["electrodes"][()]]
                assert set(names) <= set(el.loc[el["clean"], "name"])
    encodings = sorted(p.relative_to(results / "subjects")
                       for p in (results / "subjects").glob("*/encoding/*/*/*.h5"))
    models = {m["name"] for m in TINY_MODELS}
    expected = {Path(s) / "encoding" / m / i / f"{a}.h5" for s in subjects for m in models
                for i in ("trained", "random") for a in ("language", "vision")}
    expected |= {Path(s) / "encoding" / b / "trained" / f"{a}.h5" for s in subjects
                 for b in ("concat", "banded") for a in ("language", "vision")}
    assert set(encodings) == expected
    # Nothing changed: nothing to do.
    again = snakemake(work, cfg, "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr
