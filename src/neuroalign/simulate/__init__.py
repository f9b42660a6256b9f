"""Simulated Brain TreeBank datasets with planted vision, language and multimodal electrodes.

``simulate_dataset(out, preset=...)`` writes the Brain TreeBank on-disk layout (see
``data/README.md``) plus a synthetic movie, its scene cuts and ``ground_truth.json``.
``PRESETS`` holds the ``tiny``, ``demo`` and ``paper`` sizes.
"""

from ._core import simulate_dataset
from .presets import PRESETS, Preset

__all__ = ["simulate_dataset", "PRESETS", "Preset"]
