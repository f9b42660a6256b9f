"""Shared fixtures: a seeded rng, the real sample recordings, a tiny simulated dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real intracranial sample recordings in ../shared/data (read-only)."""
    if not SHARED_DATA.exists():
        pytest.fail(f"{SHARED_DATA} is missing: the real sample recordings are required")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A `tiny` simulated Brain TreeBank dataset (random latents), built once per session."""
    from neuroalign.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("sim_tiny")
    simulate_dataset(root, preset="tiny", seed=0, latents="random")
    return root
