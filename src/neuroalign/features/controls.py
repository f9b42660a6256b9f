"""Validation controls: the simulator's ground-truth latents exposed as feature spaces.

These are **not networks**. On a simulated dataset they let the encoding and statistics
stages be validated against truth end to end: planted vision electrodes must be predicted
by ``sim-vision``, language electrodes by ``sim-language``, multimodal ones only by
``sim-multimodal``. Outputs carry ``is_control = True`` and a ``control`` attr saying so.

Per event (DESIGN §5, ``ground_truth.json`` ``latents[movie]``):

- ``sim-vision``: the latent of the scene on screen at ``frame_time_s``, shape ``(k,)``.
- ``sim-language``: the latent of the last word starting at or before ``time_s``
  (zeros before the first word), shape ``(k,)``.
- ``sim-multimodal``: ``[vision, language, outer(vision, language).ravel()]``,
  shape ``(k + k + k*k,)``: the interaction the planted multimodal electrodes respond to.

plus seeded Gaussian noise (sd ``NOISE_SD``). The ``init: random`` twin is the same rows with
whole blocks of events permuted (seeded): block order is shuffled and the rows are laid out
again in that order, so each block's rows stay contiguous and in order but land on other
events' times, destroying the alignment to the brain while keeping the distribution.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import sha256_file
from ._base import Loaded, ModelSpec, WeightsNotFoundError

__all__ = ["SPECS", "SimControl", "block_permutation", "NOISE_SD"]

NOISE_SD = 0.1  # small next to the unit-scale latents, so controls stay near-perfect predictors
_KINDS = ("vision", "language", "multimodal")


def _ground_truth(weights: str | None, name: str) -> Path:
    if weights is None:
        raise WeightsNotFoundError(
            f"model {name!r} is a validation control: it needs the simulated dataset's "
            "ground_truth.json (set dataset.root to a dataset made by `neuroalign simulate`)")
    path = Path(weights)
    if path.is_dir():
        path = path / "ground_truth.json"
    if not path.is_file():
        raise WeightsNotFoundError(
            f"model {name!r}: {path} not found; sim-* controls only exist for simulated datasets "
            "(`neuroalign simulate`), whose root holds ground_truth.json")
    return path


def block_permutation(blocks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row order that permutes whole blocks, keeping each block's rows contiguous and in order.

    Parameters
    ----------
    blocks : array of shape (n_events,)
        Block label of each event (contiguous runs, as in the events table).
    rng : numpy.random.Generator
        Source of the permutation.

    Returns
    -------
    order : array of shape (n_events,)
        ``X[order]`` is ``X`` with its blocks shuffled; never the identity when there are
        at least two blocks.
    """
    blocks = np.asarray(blocks)
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]]) if len(blocks) else np.array([], int)
    runs = np.split(np.arange(len(blocks)), starts[1:])
    perm = rng.permutation(len(runs))
    if len(runs) > 1 and np.array_equal(perm, np.arange(len(runs))):
        perm = np.roll(perm, 1)  # an identity draw would make the twin equal the control
    return np.concatenate([runs[p] for p in perm]) if runs else np.array([], int)


class SimControl:
    """Ground-truth latent features of one kind (``vision``, ``language`` or ``multimodal``).

    Parameters
    ----------
    truth_path : Path
        The simulated dataset's ``ground_truth.json``.
    kind : {'vision', 'language', 'multimodal'}
        Which latent to expose.
    init : {'trained', 'random'}
        ``random`` applies the seeded block permutation.
    seed : int
        Seeds the noise and the permutation.
    """

    layers = ("latent",)

    def __init__(self, truth_path: Path, kind: str, init: str, seed: int) -> None:
        self.truth_path, self.kind, self.init, self.seed = Path(truth_path), kind, init, int(seed)
        self.latents = json.loads(self.truth_path.read_text()).get("latents", {})

    def _movie(self, movie: str) -> dict[str, Any]:
        if movie not in self.latents:
            raise ValueError(f"{self.truth_path}: no latents for movie {movie!r} "
                             f"(movies: {sorted(self.latents)})")
        return self.latents[movie]

    def clean(self, events: pd.DataFrame, movie: str) -> np.ndarray:
        """Noise-free latents of each event: array of shape (n_events, d)."""
        lat = self._movie(movie)
        k = int(lat["dim"])
        scene_t = np.asarray(lat["vision"]["scene_start_s"], float)
        scene_v = np.asarray(lat["vision"]["values"], float).reshape(-1, k)
        word_t = np.asarray(lat["language"]["word_start_s"], float)
        word_v = np.asarray(lat["language"]["values"], float).reshape(-1, k)
        # 1e-6 s tolerance: event times and latent onsets are rounded separately
        s = np.searchsorted(scene_t, events["frame_time_s"].to_numpy(float) + 1e-6, "right") - 1
        vision = scene_v[np.clip(s, 0, len(scene_v) - 1)]
        w = np.searchsorted(word_t, events["time_s"].to_numpy(float) + 1e-6, "right") - 1
        language = np.where((w >= 0)[:, None], word_v[np.clip(w, 0, max(len(word_v) - 1, 0))], 0.0)
        if self.kind == "vision":
            return vision
        if self.kind == "language":
            return language
        inter = (vision[:, :, None] * language[:, None, :]).reshape(len(events), k * k)
        return np.concatenate([vision, language, inter], axis=1)  # (n, k + k + k*k)

    def features(self, events: pd.DataFrame, movie: str) -> dict[str, np.ndarray]:
        """Control features: ``{"latent": float32 array of shape (n_events, d)}``."""
        tag = zlib.crc32(f"sim-{self.kind}".encode())
        x = self.clean(events, movie)
        x = x + NOISE_SD * np.random.default_rng([self.seed, tag]).standard_normal(x.shape)
        if self.init == "random":
            order = block_permutation(events["block"].to_numpy(),
                                      np.random.default_rng([self.seed, tag, 1]))
            x = x[order]
        return {"latent": x.astype(np.float32)}


def _loader(kind: str):
    def load(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
        path = _ground_truth(weights, f"sim-{kind}")
        return Loaded(SimControl(path, kind, init, seed), sha256_file(path), str(path))
    return load


def _id(kind: str):
    return lambda weights: sha256_file(_ground_truth(weights, f"sim-{kind}"))


SPECS = [
    ModelSpec(
        name=f"sim-{kind}", family="sim", modality=kind,
        inputs={"vision": "image", "language": "text", "multimodal": "image+text"}[kind],
        loader=_loader(kind), preprocess=None, layers=("latent",), default_pooling="cls",
        languages=("*",),  # the ground-truth latent reads no text
        is_control=True, trained_id=_id(kind),
        description=f"VALIDATION CONTROL: simulator's ground-truth {kind} latent + noise",
        random_init="same latents with whole blocks of events permuted (seeded)")
    for kind in _KINDS
]
