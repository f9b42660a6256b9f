"""The Snakemake workflow on a tiny simulated dataset: DAG, lint, run, resume, no-op rerun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(config), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)


@pytest.fixture(scope="module")
def tiny_config(tiny_dataset, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("wf")
    cfg = {"dataset": {"root": str(tiny_dataset)},
           "movies": {"root": str(tiny_dataset / "movies"),
                      "scene_cuts": str(tiny_dataset / "scene_cuts")},
           "models": [{"name": "tiny-minilm"}, {"name": "tiny-efficientnet"},
                      {"name": "sim-multimodal"}],
           "stats": {"n_bootstrap": 200, "n_permutations": 200},
           "results": str(work / "results")}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return work, path


def test_dry_run_lists_the_dag(tiny_config):
    work, cfg = tiny_config
    res = snakemake(work, cfg, "-n", "--quiet", "rules")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for rule in ("events", "electrodes", "responses", "features", "encoding", "baseline"):
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
def test_run_builds_all_responses_and_rerun_does_nothing(tiny_config, tiny_dataset):
    work, cfg = tiny_config
    res = snakemake(work, cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
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
    models = {"tiny-minilm", "tiny-efficientnet", "sim-multimodal"}
    expected = {Path(s) / "encoding" / m / i / f"{a}.h5" for s in subjects for m in models
                for i in ("trained", "random") for a in ("language", "vision")}
    expected |= {Path(s) / "encoding" / b / "trained" / f"{a}.h5" for s in subjects
                 for b in ("concat", "banded") for a in ("language", "vision")}
    assert set(encodings) == expected
    # Nothing changed: nothing to do.
    again = snakemake(work, cfg, "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr
