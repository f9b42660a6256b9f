"""Resume and determinism: a run killed mid-encoding resumes to the same bytes as an
uninterrupted run, and editing one model reruns only that model's jobs and what follows.
(A rerun with nothing changed doing nothing is checked in test_workflow.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from result_compare import assert_same_results
from workflow_utils import REPO, dry_run_jobs, one_subject_config, snakemake, write_plan

from neuroalign.io import atomic_path

UPSTREAM = {"events", "electrodes", "responses"}
PER_MODEL = {"features", "encoding"}


def test_atomic_path_removes_temporaries_of_dead_writers(tmp_path):
    out = tmp_path / "x.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    from neuroalign import io
    stale = tmp_path / f".x.h5.{io._HOST}.{dead}.abc.h5.tmp"
    live = tmp_path / f".x.h5.{io._HOST}.{os.getppid()}.abc.h5.tmp"
    other_host = tmp_path / f".x.h5.elsewhere.{dead}.abc.h5.tmp"
    other_file = tmp_path / f".y.h5.{io._HOST}.{dead}.abc.h5.tmp"
    for p in (stale, live, other_host, other_file):
        p.write_bytes(b"partial")
    with atomic_path(out, suffix=".h5") as tmp:
        tmp.write_bytes(b"done")
    assert out.read_bytes() == b"done"
    assert not stale.exists()
    assert live.exists() and other_host.exists() and other_file.exists()


def _kill_during_encoding(work: Path, config: Path, timeout: float = 1200) -> str:
    """Start snakemake; SIGKILL its whole process group while an encoding job runs.

    Returns what was seen running when the group was killed.
    """
    planned = write_plan(work, config)
    assert planned.returncode == 0, planned.stderr
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(work), "--configfile", str(config), "--cores", "2"]
    log = (work / "killed_run.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                            start_new_session=True)
    seen, first_log = "", None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"snakemake ended (rc {proc.returncode}) before an encoding job "
                            "was seen running:\n" + (work / "killed_run.log").read_text()[-3000:])
            temps = list((work / "results" / "subjects").glob("*/encoding/*/*/.*.tmp"))
            if temps:
                seen = f"encoding temp file {temps[0].name}"
                break
            logs = list((work / "logs" / "encoding").glob("*.log"))
            if logs and first_log is None:
                first_log = time.monotonic()
            # Mid-fit: the first encoding log has existed for a while.
            if first_log is not None and time.monotonic() - first_log > 1.5:
                seen = f"encoding job logging to {logs[0].name}"
                break
            time.sleep(0.05)
        else:
            pytest.fail("no encoding job started within the timeout")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    # Every process of the run is gone (the jobs were in snakemake's process group).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the killed run are still alive")
    return seen


@pytest.fixture(scope="module")
def resumed(tiny_workflow, tiny_dataset, tmp_path_factory):
    """A run SIGKILLed during an encoding job, then resumed with --rerun-incomplete."""
    work = tmp_path_factory.mktemp("wf_resume")
    # One subject: the same rules at about 60 % of the full run's cost.
    cfg, movies = one_subject_config(tiny_dataset, work)
    seen = _kill_during_encoding(work, cfg)
    done = sorted((work / "results" / "subjects").glob("*/encoding/*/*/*.h5"))
    # The kill left the snakemake lock behind, as it would for a user: unlock, then resume.
    unlock = snakemake(work, cfg, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    res = snakemake(work, cfg, "--rerun-incomplete")
    assert res.returncode == 0, (f"resume after kill ({seen}) failed:\n"
                                 + res.stdout[-3000:] + res.stderr[-3000:])
    return work, cfg, seen, done, res, movies


@pytest.mark.slow
def test_killed_run_resumes_to_identical_outputs(resumed, tiny_workflow):
    work, cfg, seen, done_before, res, movies = resumed
    ref_work, _ = tiny_workflow
    n_encodings = len(list((ref_work / "results" / "subjects").glob("sub_1/encoding/*/*/*.h5")))
    # It was killed mid-pipeline: some encodings were left to the resumed run.
    assert len(done_before) < n_encodings, seen
    assert "encoding" in res.stdout + res.stderr
    assert_same_results(ref_work, work, ["sub_1"], movies)


@pytest.mark.slow
def test_editing_one_model_reruns_only_its_jobs(resumed, tmp_path):
    work, cfg, *_ = resumed
    config = yaml.safe_load(cfg.read_text())
    target = "tiny-minilm"
    models = [m["name"] for m in config["models"]]
    assert target in models and len(models) > 1
    # Its layers: keep the first of the layers its features file has (the ones of a full run).
    feats = sorted((work / "results" / "features" / target / "trained").rglob("*.h5"))
    import h5py
    with h5py.File(feats[0]) as f:
        layers = _layer_names(f)
    assert len(layers) > 1, layers
    for m in config["models"]:
        if m["name"] == target:
            m["layers"] = layers[:1]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    res = snakemake(work, edited, "-n")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = dry_run_jobs(res.stdout + res.stderr)
    assert jobs, res.stdout[-3000:]
    rerun = {(j["rule"], j["wildcards"].get("model")) for j in jobs}
    # Its features (trained and random) and encodings rerun, for a changed parameter ...
    for rule in PER_MODEL:
        mine = [j for j in jobs if j["rule"] == rule and j["wildcards"].get("model") == target]
        assert mine, (rule, sorted(rerun, key=str))
        assert {j["wildcards"]["init"] for j in mine} == {"trained", "random"}
    feats_mine = [j for j in jobs if j["rule"] == "features"]
    assert all("params" in j["reason"].lower() for j in feats_mine), feats_mine
    # ... no other model's features or encoding job, nothing upstream of the features ...
    others = sorted({(r, m) for r, m in rerun if r in PER_MODEL and m != target}, key=str)
    assert not others, f"jobs of other models rerun: {others}"
    assert not {r for r, _ in rerun} & UPSTREAM, sorted(rerun, key=str)
    # ... and what follows (stats, baselines, report) only because its inputs changed.
    for j in jobs:
        if j["rule"] not in PER_MODEL and j["rule"] != "all":
            assert "updated by another job" in j["reason"] or "params" in j["reason"].lower(), j


def _layer_names(f) -> list[str]:
    """Named layers of a features file: its top-level groups or its `layers` list."""
    if "layers" in f.attrs:
        names = f.attrs["layers"]
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    if "layers" in f and hasattr(f["layers"], "keys"):
        return list(f["layers"].keys())
    if "layers" in f:
        return [n.decode() if isinstance(n, bytes) else str(n) for n in f["layers"][()]]
    return [k for k in f.keys() if hasattr(f[k], "keys")]
