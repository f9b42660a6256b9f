"""Shared fixtures: a seeded rng, the real sample recordings, a tiny simulated dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# The real recordings the tests read, with their licences and sources (tests/data/README.md).
SAMPLE_DATA = REPO / "tests" / "data"


def pytest_configure(config):
    """Allocate in the test processes as every `neuroalign` command does.

    The in-process chain runs (calibrations, the data stage fixtures) then behave, and cost,
    as the workflow's jobs do (`neuroalign.utils.keep_freed_memory`).
    """
    from neuroalign.utils import keep_freed_memory

    keep_freed_memory()


#: Session fixtures that run a whole workflow: the demo (~15 min) and the tiny run (~5 min).
_WORKFLOW_FIXTURES = ("demo_workflow", "tiny_workflow")

#: The other files whose module fixtures take minutes, longest first (CI log of 2026-12-06:
#: 6.4, 4.7, 3.6, 3.5, 3.3, 3.2, 2.0 and 1.8 min): they start before the short files, so
#: that no worker is left running a long one while the other has nothing to do.
_LONGEST_FIRST = ("test_stats_null_calibration_default_blocks.py",
                  "test_stats_null_calibration.py", "test_stats_claims_calibration.py",
                  "test_packaging.py", "test_bids_published.py",
                  "test_calibration_eventlevel.py", "test_bids_podcast.py",
                  "test_stats_sites.py")


def pytest_collection_modifyitems(config, items):
    """Collect the files that use a workflow fixture first, alternating demo and tiny files.

    Under xdist (``--dist loadfile --no-loadscope-reorder``: one file per worker at a time, in
    collection order, each worker starting with two files) the first worker starts the demo's
    run at once and gets the demo's second file, the second worker builds the tiny run and
    gets its second file, and neither waits on the other's lock; then the files of
    ``_LONGEST_FIRST``, then the fast tests fill in.
    In one process only the order changes.
    """
    files: dict[str, int] = {}
    for item in items:
        key = item.nodeid.split("::")[0]
        names = getattr(item, "fixturenames", ())
        rank = next((i for i, f in enumerate(_WORKFLOW_FIXTURES) if f in names),
                    len(_WORKFLOW_FIXTURES))
        files[key] = min(files.get(key, rank), rank)
    by_rank = [[f for f in files if files[f] == r] for r in range(len(_WORKFLOW_FIXTURES) + 1)]
    demo, tiny, rest = by_rank
    rest.sort(key=lambda f: next((i for i, name in enumerate(_LONGEST_FIRST)
                                  if f.endswith("/" + name) or f == name),
                                 len(_LONGEST_FIRST)))  # stable: the others in file order
    alternating = [f for pair in zip(demo, tiny, strict=False) for f in pair]
    n = min(len(demo), len(tiny))
    order = alternating + demo[n:] + tiny[n:] + rest
    position = {f: i for i, f in enumerate(order)}
    items.sort(key=lambda it: position[it.nodeid.split("::")[0]])  # stable within a file


def _built_once(tmp_path_factory, name: str, build) -> Path:
    """Build ``name`` once per test run, shared by every pytest-xdist worker; return its folder.

    `make test` runs two xdist workers, and each would otherwise build its own copy of a
    session fixture: whole workflows take minutes, and datasets must have one path so that the
    config hashes recorded in outputs agree between tests on different workers. The first
    worker to ask builds under a file lock; the others wait and reuse it (the recipe of the
    pytest-xdist documentation). A failed build is recorded, so no worker retries it.
    ``build(folder)`` fills ``folder``. Outside xdist it is a plain temporary folder.
    """
    import os

    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent  # shared by the run's workers
    folder, done, failed = root / name, root / f"{name}.built", root / f"{name}.failed"
    with FileLock(str(root / f"{name}.lock")):
        if failed.is_file():
            pytest.fail(f"building {name} failed on another worker:\n{failed.read_text()}")
        if not done.is_file():
            folder.mkdir()
            try:
                build(folder)
            except BaseException as err:
                failed.write_text(f"{type(err).__name__}: {err}")
                raise
            done.touch()
    return folder


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
    """A `tiny` simulated Brain TreeBank dataset (random latents), built once per run."""
    return _built_once(tmp_path_factory, "sim_tiny", _simulate_tiny)


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

    def build(work: Path) -> None:
        res = snakemake(work, tiny_workflow_config(tiny_dataset, work))
        if res.returncode != 0:
            pytest.fail("snakemake on the tiny dataset failed:\n"
                        + res.stdout[-3000:] + res.stderr[-3000:])

    work = _built_once(tmp_path_factory, "wf_full", build)
    return work, work / "config.yaml"


@pytest.fixture(scope="session")
def demo_workflow(tmp_path_factory) -> Path:
    """What `make demo` runs, in a scratch folder: the demo simulation (seed 0), check-data
    (which writes the plan), then snakemake on the repository's own config.yaml. Returns the
    work folder (``data/sim``, ``results``); tests must not modify it."""
    import shutil
    import subprocess
    import sys

    from workflow_utils import REPO, snakemake

    from neuroalign.simulate import simulate_dataset

    def build(work: Path) -> None:
        simulate_dataset(work / "data" / "sim", preset="demo", seed=0)
        shutil.copy(REPO / "config.yaml", work / "config.yaml")
        check = subprocess.run([sys.executable, "-m", "neuroalign", "check-data", "--config",
                                "config.yaml"], cwd=work, capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail("check-data on the demo dataset failed:\n" + check.stdout
                        + check.stderr)
        res = snakemake(work, work / "config.yaml", plan=False)  # check-data wrote it
        if res.returncode != 0:
            pytest.fail("snakemake on the demo failed:\n" + res.stdout[-3000:]
                        + res.stderr[-3000:])

    return _built_once(tmp_path_factory, "demo", build)
