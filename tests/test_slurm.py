"""The SLURM and GPU profiles: GPU requests of the GPU rules (dry run), and the tiny workflow
for one subject through a real one-node SLURM cluster (tests/system/slurm.sh) giving that
subject's results of the local run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from result_compare import assert_same_results
from workflow_utils import (
    dry_run_jobs,
    one_subject_config,
    snakemake,
    tiny_workflow_config,
    write_plan,
)

REPO = Path(__file__).resolve().parents[1]
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
GPU_PROFILE = REPO / "workflow" / "profiles" / "gpu"
SLURM_SH = REPO / "tests" / "system" / "slurm.sh"
PARTITION = "debug"
# The jobs' conda env is replaced by the venv running the tests, as README.md says.
NO_CONDA = ("--sdm", "env-modules")


# ---- dry runs: what the profiles ask of SLURM / the scheduler -----------------------------


@pytest.fixture(scope="module")
def dry_config(tiny_dataset, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("wf_profiles")
    return work, tiny_workflow_config(tiny_dataset, work)


def test_slurm_profile_sends_gpu_rules_to_the_gpu_partition(dry_config):
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    from neuroalign.features import get_model

    work, cfg = dry_config
    res = snakemake(work, cfg, "--profile", str(SLURM_PROFILE), *NO_CONDA, "-n")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = dry_run_jobs(res.stdout + res.stderr)
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    assert by_rule.get("features") and by_rule.get("encoding"), sorted(by_rule)

    def wants_gpu(job):
        return int(job["resources"].get("gpu", 0)) > 0

    for job in by_rule["features"]:
        control = get_model(job["wildcards"]["model"]).is_control
        assert wants_gpu(job) != control, job
    assert any(wants_gpu(j) for j in by_rule["features"])
    for rule in ("encoding", "baseline"):
        for job in by_rule.get(rule, []):
            assert wants_gpu(job), job
    for rule in ("events", "electrodes", "responses", "stats"):
        for job in by_rule.get(rule, []):
            assert not wants_gpu(job), job

    # The plugin routes each job by its `gpu` request through partitions.yaml (the profile's
    # slurm-partition-config) and turns the request into `--gpus=<n>`.
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Res(dict):
        __getattr__ = dict.__getitem__

    class Job:
        def __init__(self, job):
            res = {k: int(v) if v.isdigit() else v for k, v in job["resources"].items()}
            self.resources, self.threads, self.name = Res(res), 2, job["rule"]

    partitions = read_partition_file(SLURM_PROFILE / "partitions.yaml")

    class Log:
        def info(self, *a): pass
        debug = warning = info

    for job in jobs:
        if job["rule"] == "all":
            continue
        fake = Job(job)
        partition = get_best_partition(partitions, fake, Log())
        gres = set_gres_string(fake)
        if wants_gpu(job):
            assert partition == "gpu", job
            assert "--gpus=1" in gres, (job, gres)
        else:
            assert partition == "cpu", job
            assert "gpu" not in gres, (job, gres)


def test_gpu_profile_limits_concurrent_gpu_jobs(dry_config):
    work, cfg = dry_config
    res = snakemake(work, cfg, "--profile", str(GPU_PROFILE), "-n")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    profile = yaml.safe_load((GPU_PROFILE / "config.yaml").read_text())
    assert profile["resources"]["gpu"] >= 1
    jobs = dry_run_jobs(res.stdout + res.stderr)
    assert any(j["rule"] == "features" and j["resources"].get("gpu") == "1" for j in jobs)
    assert all(j["resources"].get("gpu") == "1" for j in jobs if j["rule"] == "encoding")


# ---- a real one-node SLURM cluster -----------------------------------------------------------

def _missing_slurm() -> str | None:
    path = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue")
               if shutil.which(p, path=path) is None]
    if missing:
        return (f"SLURM test cluster needs {', '.join(missing)}: run tests/system/install.sh "
                "as root (Debian packages slurm-wlm and munge, tests/system/apt-packages.txt)")
    if os.geteuid() != 0:
        return "the SLURM test cluster (tests/system/slurm.sh) must run as root"
    return None


def _free_port_pair() -> int:
    for port in range(6817, 6917, 2):
        free = True
        for p in (port, port + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    free = False
        if free:
            return port
    raise RuntimeError("no free port pair for slurmctld/slurmd in 6817-6917")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A one-node SLURM cluster for the session; yields the environment its clients need."""
    why = _missing_slurm()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    env = dict(os.environ)
    env["PATH"] = f"{env.get('PATH', '')}:/usr/sbin:/sbin"
    env["SLURM_TEST_DIR"] = str(tmp_path_factory.mktemp("slurm"))
    env["SLURM_TEST_PARTITION"] = PARTITION
    env["SLURM_TEST_PORT"] = str(_free_port_pair())
    try:
        start = subprocess.run(["bash", str(SLURM_SH), "start"], env=env, capture_output=True,
                               text=True, timeout=120)
        if start.returncode != 0:
            pytest.fail("tests/system/slurm.sh start failed:\n" + start.stdout + start.stderr)
        env["SLURM_CONF"] = str(Path(env["SLURM_TEST_DIR"]) / "slurm.conf")
        # Wrappers that set SLURM_CONF: the jobstep plugin drops SLURM_* before its srun.
        env["PATH"] = f"{env['SLURM_TEST_DIR']}/bin{os.pathsep}{env['PATH']}"
        yield env
    finally:
        subprocess.run(["bash", str(SLURM_SH), "stop"], env=env, capture_output=True,
                       text=True, timeout=120)


def _test_profile(dest: Path) -> Path:
    """The SLURM profile with this cluster's settings: no accounting, one CPU-only partition."""
    dest.mkdir(parents=True, exist_ok=True)
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    # No slurmdbd: sacct cannot answer, squeue can (MinJobAge=600 keeps finished jobs listed).
    profile["slurm-status-command"] = "squeue"
    profile["slurm-no-account"] = True
    profile["slurm-init-seconds-before-status-checks"] = 3
    profile["slurm-logdir"] = str(dest / "slurm-logs")
    profile["slurm-keep-successful-logs"] = True
    (dest / "partitions.yaml").write_text(yaml.safe_dump(
        {"partitions": {PARTITION: {"max_gpu": 0}}}))
    profile["slurm-partition-config"] = str(dest / "partitions.yaml")
    profile["default-resources"] = {**profile["default-resources"],
                                    "slurm_partition": PARTITION}
    # No GPU on this node: the GPU rules run on CPU (the dry-run test above checks their
    # GPU requests). Failures must show, not be retried away.
    profile["set-resources"] = {**profile.get("set-resources", {}),
                                **{r: {**profile.get("set-resources", {}).get(r, {}), "gpu": 0}
                                   for r in ("features", "encoding", "baseline")}}
    # ~75 jobs at ~15 s of Snakemake start-up each would take half an hour on a 2-CPU CI
    # machine: bundle the per-model jobs into a few SLURM jobs (group jobs still go through
    # sbatch and the jobstep executor; `cores` caps each bundle at this node's CPUs).
    profile["groups"] = {"features": "features_batch", "encoding": "encoding_batch",
                         "baseline": "encoding_batch"}
    profile["group-components"] = {"features_batch": 16, "encoding_batch": 24}
    profile["cores"] = 2
    profile["retries"] = 0
    profile["keep-going"] = False
    profile["jobs"] = 4
    profile["latency-wait"] = 5
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def _run_on_slurm(work: Path, config: Path, profile: Path, env: dict,
                  *args: str) -> subprocess.CompletedProcess:
    planned = write_plan(work, config)  # on the login node, before snakemake
    assert planned.returncode == 0, planned.stderr
    env = dict(env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(work), "--configfile", str(config), "--profile", str(profile),
           *NO_CONDA, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work,
                          timeout=3600)


@pytest.mark.slow
def test_tiny_workflow_on_slurm_matches_local_run(slurm_cluster, tiny_workflow, tiny_dataset,
                                                  tmp_path_factory):
    ref_work, _ = tiny_workflow
    work = tmp_path_factory.mktemp("wf_slurm")
    # One subject: every rule still goes through sbatch (the dry-run tests above cover the
    # whole DAG's resources), at about 60 % of the full run's cost.
    cfg, movies = one_subject_config(tiny_dataset, work)
    profile = _test_profile(work / "profile")
    res = _run_on_slurm(work, cfg, profile, slurm_cluster)
    out = res.stdout + res.stderr
    assert res.returncode == 0, (
        "snakemake on SLURM failed:\n" + out[-4000:]
        + "".join(f"\n--- {p}\n{p.read_text()[-1500:]}"
                  for p in sorted((profile / "slurm-logs").rglob("*.log"))[-3:]))
    # Every job went through sbatch: the plugin keeps one SLURM log per job (kept on success).
    assert list((profile / "slurm-logs").rglob("*.log")), out[-2000:]
    assert "Nothing to be done" not in out
    assert_same_results(ref_work, work, ["sub_1"], movies)
