"""Linear-integration baselines: ``concat`` and ``banded`` ridge over several feature spaces.

Both reuse the cross-fitting of :mod:`.ridge`: ``concat`` is plain ridge on the column-wise
concatenation; ``banded`` treats each candidate ratio of per-space penalties as a "layer".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from ._backend import get_device
from .ridge import CrossFitResult, _check_alphas, _cross_fit


def concat_feature_spaces(X_spaces: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate feature spaces column-wise for the ``concat`` baseline.

    Standardisation is column-wise, so ridge on the concatenation standardises each space with
    its own training statistics. The caller chooses the layer of each space.

    Parameters
    ----------
    X_spaces : list of arrays of shape (n_events, d_b)

    Returns
    -------
    X : array of shape (n_events, sum of d_b), float32
    """
    n = {np.asarray(X).shape[0] for X in X_spaces}
    if len(n) != 1:
        raise ValueError(f"Feature spaces disagree on the number of events: {sorted(n)}.")
    return np.concatenate([np.asarray(X, dtype=np.float32) for X in X_spaces], axis=1)


def banded_ratio_grid(n_bands: int, log10_span: float = 3.0, n_steps: int = 7) -> np.ndarray:
    """Candidate ratios of per-band penalties for banded ridge.

    Band 0 has ratio 1; every other band's ratio runs over
    ``logspace(-log10_span, log10_span, n_steps)`` (a full grid, ``n_steps ** (n_bands - 1)``
    candidates). The overall scale is the ridge alpha, so band ``b`` is penalised by
    ``alpha * ratios[c, b]``. With an odd ``n_steps`` the all-ones candidate (plain ridge on the
    concatenation) is included.

    Returns
    -------
    ratios : array of shape (n_candidates, n_bands)
    """
    steps = np.logspace(-log10_span, log10_span, n_steps)
    rest = np.array(list(itertools.product(steps, repeat=n_bands - 1))).reshape(-1, n_bands - 1)
    return np.hstack([np.ones((rest.shape[0], 1)), rest])


def cross_fitted_banded_predictions(X_spaces: Sequence[np.ndarray], Y: np.ndarray,
                                    blocks: np.ndarray,
                                    alphas=(0.1, 1, 10, 100, 1e3, 1e4, 1e5), n_folds: int = 5,
                                    ratios: np.ndarray | None = None, gap_blocks: int = 1,
                                    guard_blocks: int = 1,
                                    device: str | torch.device = "cpu",
                                    n_targets_batch: int | None = None,
                                    dtype: torch.dtype = torch.float32,
                                    training: str = "cyclic", highpass_s: float | None = None,
                                    highpass_on: str = "responses",
                                    times_s: np.ndarray | None = None,
                                    trials: np.ndarray | None = None) -> CrossFitResult:
    """Cross-fitted banded ridge: one penalty per feature space.

    Each candidate ratio vector ``rho`` is solved as plain ridge on the standardised
    concatenation with band ``b`` scaled by ``1 / sqrt(rho_b)``, which penalises band ``b`` by
    ``alpha * rho_b``; one decomposition per candidate and fold gives every alpha. Candidates play
    the role of layers in :func:`cross_fitted_predictions`: each half uses the (candidate, alpha)
    that maximises r on the other half.

    Parameters
    ----------
    X_spaces : list of n_bands arrays of shape (n_events, d_b)
    Y : array of shape (n_events, n_targets)
    blocks : array of shape (n_events,)
    alphas : array of shape (n_alphas,)
    n_folds : int
    ratios : array of shape (n_candidates, n_bands) or None
        Per-band penalty ratios; None uses :func:`banded_ratio_grid`.
    gap_blocks, guard_blocks, device, n_targets_batch, dtype, training
        As in :func:`cross_fitted_predictions`.
    highpass_s, highpass_on, times_s, trials
        As in :func:`cross_fitted_predictions` (slow-component removal).

    Returns
    -------
    result : CrossFitResult
        ``layer`` indexes the modal candidate, ``layer_r`` is per candidate, and
        ``band_alphas`` (n_bands, n_targets) = modal ``alpha * ratios[layer]``.
    """
    X = concat_feature_spaces(X_spaces)
    n_bands = len(X_spaces)
    ratios = banded_ratio_grid(n_bands) if ratios is None else np.atleast_2d(ratios)
    if ratios.shape[1] != n_bands or np.any(ratios <= 0):
        raise ValueError(f"'ratios' must be positive with shape (n_candidates, {n_bands}), "
                         f"got shape {ratios.shape}.")
    widths = [np.asarray(Xb).shape[1] for Xb in X_spaces]
    designs = [(X, np.repeat(1.0 / np.sqrt(rho), widths)) for rho in ratios]
    alphas = _check_alphas(alphas)
    result = _cross_fit(designs, Y, blocks, alphas, n_folds, gap_blocks, guard_blocks,
                        get_device(device), n_targets_batch, dtype, training, highpass_s,
                        highpass_on, times_s, trials)
    result.band_alphas = (result.alpha[None, :] * ratios[result.layer].T)  # (n_bands, n_targets)
    return result
