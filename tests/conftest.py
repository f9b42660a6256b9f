"""Shared fixtures: a seeded rng, the real sample recordings, a tiny simulated dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# The real recordings the tests read, with their licences and sources (tests/data/README.md).
SAMPLE_DATA = REPO / "tests" / "data"


#: Session fixtures that run a whole workflow (minutes each). Under pytest-xdist (`make test`
#: runs two workers) every worker would build its own copy; the tests that use one are kept on
#: one worker instead (``--dist loadgroup``), so each is built once per run.
_WORKFLOW_GROUPS = ("demo_workflow", "tiny_workflow")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in _WORKFLOW_GROUPS:
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(fixture))
                break


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real intracranial sample recordings in tests/data (read-only: copy before changing)."""
    if not (SAMPLE_DATA / "README.md").is_file():
        pytest.fail(f"{SAMPLE_DATA} is incomplete: the real sample recordings ship with the "
                    "repository (tests/data/README.md)")
    return SAMPLE_DATA


#: The simulator's realistic structure switched off (no slow drift, spikes or scenes): for the
#: tests that check an estimator against known truth at fixed thresholds. Robustness to that
#: structure is checked on it switched on (test_calibration_eventlevel, the demo, the null
#: calibration of the whole chain).
CLEAN = {"drift_sd": 0.0, "spike_frac": 0.0, "scenes": False}


def _simulate_tiny(root: Path, **structure) -> Path:
    from neuroalign.simulate import simulate_dataset

    simulate_dataset(root, preset="tiny", seed=0, latents="random", **structure)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A `tiny` simulated Brain TreeBank dataset (random latents), built once per session."""
    return _simulate_tiny(tmp_path_factory.mktemp("sim_tiny"))


@pytest.fixture(scope="session")
def tiny_dataset_clean(tmp_path_factory) -> Path:
    """The same `tiny` dataset without drift, spikes or scenes (``CLEAN``)."""
    return _simulate_tiny(tmp_path_factory.mktemp("sim_tiny_clean"), **CLEAN)


def _data_stage(dataset: Path, out: Path):
    import json

    from neuroalign.config import validate_config
    from neuroalign.data.build import write_electrodes, write_events, write_responses

    cfg = validate_config({"dataset": {"root": str(dataset)},
                           "movies": {"root": str(dataset / "movies"),
                                      "scene_cuts": str(dataset / "scene_cuts")},
                           # 10 s blocks as in the tiny workflow: the 150 s movie's 5 blocks
                           # of 30 s are refused before any fit (data.blocks).
                           "events": {"block_s": 10},
                           "stats": {"n_bootstrap": 200, "n_permutations": 200},
                           "results": str(out)})
    truth = json.loads((dataset / "ground_truth.json").read_text())
    for movie in truth["latents"]:
        for alignment in ("language", "vision"):
            write_events(cfg, movie, alignment,
                         out / "movies" / movie / "events" / f"{alignment}.parquet")
    summaries = {}
    for subject in ("sub_1", "sub_2"):
        write_electrodes(cfg, subject, out / subject / "electrodes.parquet")
        summaries[subject] = write_responses(
            cfg, subject, ["language", "vision"], out / subject / "electrodes.parquet",
            out / "movies", [out / subject / "language.h5", out / subject / "vision.h5"])
    return cfg, out, truth, summaries


@pytest.fixture(scope="session")
def built(tiny_dataset, tmp_path_factory):
    """The data stage run on the tiny dataset: (config, output dir, ground truth, summaries).

    Layout under the output dir: ``movies/{movie}/events/{alignment}.parquet`` and
    ``{subject}/electrodes.parquet``, ``{subject}/{alignment}.h5``.
    """
    return _data_stage(tiny_dataset, tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="session")
def built_clean(tiny_dataset_clean, tmp_path_factory):
    """``built`` on ``tiny_dataset_clean``."""
    return _data_stage(tiny_dataset_clean, tmp_path_factory.mktemp("built_clean"))


@pytest.fixture(scope="session")
def tiny_events(built):
    """(config, {movie: {alignment: events parquet}}) of the tiny dataset's movies."""
    cfg, out, truth, _ = built
    return cfg, {m: {a: out / "movies" / m / "events" / f"{a}.parquet"
                     for a in ("language", "vision")} for m in truth["latents"]}


@pytest.fixture(scope="session")
def tiny_workflow(tiny_dataset, tmp_path_factory) -> tuple[Path, Path]:
    """The whole workflow run once on the tiny dataset: (work dir, config path).

    Outputs are under ``work/results``; tests must not modify them (copy first).
    """
    from workflow_utils import snakemake, tiny_workflow_config

    work = tmp_path_factory.mktemp("wf_full")
    cfg = tiny_workflow_config(tiny_dataset, work)
    res = snakemake(work, cfg)
    if res.returncode != 0:
        pytest.fail("snakemake on the tiny dataset failed:\n"
                    + res.stdout[-3000:] + res.stderr[-3000:])
    return work, cfg


@pytest.fixture(scope="session")
def demo_workflow(tmp_path_factory) -> Path:
    """What `make demo` runs, in a scratch folder: the demo simulation (seed 0), check-data,
    then snakemake on the repository's own config.yaml. Returns the work folder (``data/sim``,
    ``results``); tests must not modify it."""
    import shutil
    import subprocess
    import sys

    from workflow_utils import REPO, snakemake

    from neuroalign.simulate import simulate_dataset

    work = tmp_path_factory.mktemp("demo")
    simulate_dataset(work / "data" / "sim", preset="demo", seed=0)
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    check = subprocess.run([sys.executable, "-m", "neuroalign", "check-data", "--config",
                            "config.yaml"], cwd=work, capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail("check-data on the demo dataset failed:\n" + check.stdout + check.stderr)
    res = snakemake(work, work / "config.yaml")
    if res.returncode != 0:
        pytest.fail("snakemake on the demo failed:\n" + res.stdout[-3000:] + res.stderr[-3000:])
    return work
