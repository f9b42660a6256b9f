"""Helpers for the tests that run the Snakemake workflow on a tiny simulated dataset."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# The models of the end-to-end runs: the simulator's controls (they carry the planted signal,
# so the sites can be checked against ground_truth.json) plus one tiny real network so the
# features stage runs a real forward pass.
TINY_MODELS = [{"name": "sim-vision"}, {"name": "sim-language"}, {"name": "sim-multimodal"},
               {"name": "tiny-minilm"}]


def tiny_workflow_config(dataset: Path, work: Path, **overrides) -> Path:
    """Write a config for the tiny simulated dataset with results under ``work/results``.

    Blocks are 10 s so that the 150 s tiny movie has enough blocks for 200 swaps.
    """
    cfg = {"dataset": {"root": str(dataset)},
           "movies": {"root": str(dataset / "movies"), "scene_cuts": str(dataset / "scene_cuts")},
           "events": {"block_s": 10},
           "models": TINY_MODELS,
           "stats": {"n_bootstrap": 200, "n_permutations": 200},
           "results": str(work / "results")}
    cfg.update(overrides)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def one_subject_config(dataset: Path, work: Path, subject: str = "sub_1",
                       **overrides) -> tuple[Path, list[str]]:
    """``tiny_workflow_config`` restricted to one subject: (config path, the movies it watched).

    Such a run reproduces that subject's and movies' files of the full tiny run
    (``result_compare.subject_files``) at about 60 % of its cost.
    """
    import json

    path = tiny_workflow_config(dataset, work, **overrides)
    cfg = yaml.safe_load(path.read_text())
    cfg["dataset"]["subjects"] = [subject]
    path.write_text(yaml.safe_dump(cfg))
    truth = json.loads((dataset / "ground_truth.json").read_text())
    movies = sorted({t["movie"] for t in truth[subject]["trials"].values()})
    return path, movies


def write_plan(workdir: Path, config: Path) -> subprocess.CompletedProcess:
    """``neuroalign plan --config config`` in ``workdir``: what a user runs (or check-data)
    before snakemake, which reads the plan instead of the dataset."""
    return subprocess.run([sys.executable, "-m", "neuroalign", "-q", "plan", "--config",
                           str(config)], capture_output=True, text=True, cwd=workdir)


def snakemake(workdir: Path, config: Path, *args: str, cores: int = 2,
              timeout: float | None = None, plan: bool = True) -> subprocess.CompletedProcess:
    """Run ``snakemake`` from this repository's Snakefile in ``workdir``.

    With ``plan`` (the default) ``neuroalign plan`` runs first, as a user would after
    editing the config's dataset section; when it fails, its result is returned.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if plan:
        planned = write_plan(workdir, config)
        if planned.returncode != 0:
            return planned
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(config), "--cores", str(cores),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir,
                          timeout=timeout)


def dry_run_jobs(text: str) -> list[dict]:
    """``rule``, ``wildcards``, ``resources`` and ``reason`` of every job a dry run prints."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", text):
        m = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not m:
            continue
        job = {"rule": m.group(1), "wildcards": {}, "resources": {}, "reason": ""}
        for key in ("wildcards", "resources"):
            line = re.search(rf"^\s+{key}: (.*)$", block, re.M)
            if line:
                job[key] = dict(kv.split("=", 1) for kv in line.group(1).split(", ") if "=" in kv)
        reason = re.search(r"^\s+reason: (.*)$", block, re.M)
        if reason:
            job["reason"] = reason.group(1)
        jobs.append(job)
    return jobs
