"""Block statistics of held-out predictions: r, bootstrap CIs and permutation tests from sums.

Per block of events and per target we keep the six sums ``n, Σy, Σy², Σŷ, Σŷ², Σyŷ``
(axis 1 of a ``(n_blocks, 6, n_targets)`` array, in that order). Any resample or swap of whole
blocks gives the exact Pearson r from these sums, so resampling is a matrix product of a
(resamples × blocks) weight matrix with the block sums: no refits, no raw predictions.

Plain NumPy/SciPy: these are cheap next to the fit, and the stats stage can use them without
torch.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from ..utils import logger
from .folds import block_runs

N, SY, SYY, SH, SHH, SYH = range(6)


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"'{name}' must have shape (n_events, n_targets), got {a.shape}.")
    return a


def _check_pair(y, y_hat) -> tuple[np.ndarray, np.ndarray]:
    y, y_hat = _as_2d(y, "y"), _as_2d(y_hat, "y_hat")
    if y.shape != y_hat.shape:
        raise ValueError(f"'y' {y.shape} and 'y_hat' {y_hat.shape} must have the same shape.")
    return y, y_hat


def _batches(n_targets: int, n_targets_batch: int | None):
    step = n_targets if n_targets_batch is None else max(1, int(n_targets_batch))
    for start in range(0, n_targets, step):
        yield slice(start, start + step)


def block_sums(y, y_hat, blocks, n_targets_batch: int | None = 4096) -> np.ndarray:
    """Per-block sums ``n, Σy, Σy², Σŷ, Σŷ², Σyŷ`` in float64.

    Parameters
    ----------
    y : array of shape (n_events, n_targets)
    y_hat : array of shape (n_events, n_targets)
    blocks : array of shape (n_events,)
        Block label per event (events in time order, each block one contiguous run).
    n_targets_batch : int or None
        Targets cast to float64 at a time (bounds memory).

    Returns
    -------
    sums : array of shape (n_blocks, 6, n_targets)
        Blocks in time order.
    """
    y, y_hat = _check_pair(y, y_hat)
    starts, stops = block_runs(blocks)
    if stops[-1] != y.shape[0]:
        raise ValueError(f"'blocks' has {stops[-1]} events, 'y' has {y.shape[0]}.")
    out = np.empty((starts.size, 6, y.shape[1]))
    out[:, N] = (stops - starts)[:, None]
    for sl in _batches(y.shape[1], n_targets_batch):
        yb, hb = y[:, sl].astype(np.float64), y_hat[:, sl].astype(np.float64)
        for j, v in ((SY, yb), (SYY, yb * yb), (SH, hb), (SHH, hb * hb), (SYH, yb * hb)):
            out[:, j, sl] = np.add.reduceat(v, starts, axis=0)
    return out


def r_from_totals(totals: np.ndarray) -> np.ndarray:
    """Pearson r from summed moments.

    Parameters
    ----------
    totals : array of shape (..., 6, n_targets)
        ``n, Σy, Σy², Σŷ, Σŷ², Σyŷ`` summed over events.

    Returns
    -------
    r : array of shape (..., n_targets)
        NaN where either variable is constant.
    """
    totals = np.asarray(totals, dtype=np.float64)
    return r_from_moments(*(totals[..., j, :] for j in (N, SY, SYY, SH, SHH, SYH)))


def r_from_moments(n, sum_y, sum_y2, sum_yhat, sum_yhat2, sum_y_yhat) -> np.ndarray:
    """Pearson r from the six summed moments given as separate, broadcastable arrays.

    The stats stage's swap tests call it with the shared ``n, Σy, Σy²`` of shape (n_targets,)
    and swapped prediction moments of shape (n_permutations, n_targets), so the shared ones
    are never copied per permutation.

    Returns
    -------
    r : array of the broadcast shape
        NaN where either variable is constant.
    """
    cov = sum_y_yhat - sum_y * sum_yhat / n
    var_y = sum_y2 - sum_y * sum_y / n
    var_h = sum_yhat2 - sum_yhat * sum_yhat / n
    den = np.sqrt(np.clip(var_y, 0, None) * np.clip(var_h, 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, cov / den, np.nan)


def r_from_sums(sums: np.ndarray) -> np.ndarray:
    """Pearson r over all events from block sums (n_blocks, 6, n_targets) -> (n_targets,)."""
    return r_from_totals(np.asarray(sums).sum(0))


def bootstrap_ci(sums: np.ndarray, n_resamples: int = 1000,
                 rng: np.random.Generator | int | None = None, level: float = 0.95,
                 n_targets_batch: int | None = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Percentile block-bootstrap confidence interval of r.

    Blocks are drawn with replacement (``n_blocks`` per resample); resample ``i``'s moments are
    ``counts[i] @ sums``, with ``counts`` the (n_resamples, n_blocks) multinomial count matrix,
    drawn once so every target sees the same resamples.

    Parameters
    ----------
    sums : array of shape (n_blocks, 6, n_targets)
    n_resamples : int
    rng : numpy Generator, seed or None
    level : float
        Coverage of the interval, in (0, 1).
    n_targets_batch : int or None
        Targets per matrix product (memory is ``n_resamples * 6 * n_targets_batch`` floats).

    Returns
    -------
    ci_low : array of shape (n_targets,)
    ci_high : array of shape (n_targets,)
    """
    if not 0 < level < 1:
        raise ValueError(f"'level' must be in (0, 1), got {level!r}.")
    rng = np.random.default_rng(rng)
    n_blocks, _, n_targets = sums.shape
    counts = rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks),
                             size=n_resamples).astype(np.float64)  # (n_resamples, n_blocks)
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    low, high = np.empty(n_targets), np.empty(n_targets)
    for sl in _batches(n_targets, n_targets_batch):
        part = sums[:, :, sl]
        totals = (counts @ part.reshape(n_blocks, -1)).reshape(n_resamples, 6, -1)
        low[sl], high[sl] = np.quantile(r_from_totals(totals), q, axis=0)
    return low, high


def _trial_runs(trials, blocks, n_events: int) -> tuple[np.ndarray, np.ndarray]:
    if trials is None:
        return np.array([0]), np.array([n_events])
    trials = np.asarray(trials)
    if trials.shape != (n_events,):
        raise ValueError(f"'trials' must have shape ({n_events},), got {trials.shape}.")
    t_starts, t_stops = block_runs(trials)
    b_starts, _ = block_runs(blocks)
    if not np.isin(t_starts, b_starts).all():
        raise ValueError("A block spans two trials: blocks must nest within trials.")
    return t_starts, t_stops


def _shift_plan(t_starts, t_stops, b_starts, n_permutations: int,
                rng: np.random.Generator
                ) -> tuple[list[tuple[int, int, np.ndarray]], int, list[tuple[int, int]]]:
    """Per trial, the event offset of ŷ in each null resample, and how many resamples.

    A trial of ``n_t`` events whose longest block has ``g`` events allows the shifts
    ``g .. n_t - g``: every response then meets a prediction at least one block away in
    time. A trial with no such shift (a single block, or one block over half of its events)
    keeps offset 0 in every resample: its cross sum is the same in the null as observed, so
    the test is the shift test of the other trials' cross sums, exact for them (r is
    increasing in the total ``Σyŷ`` with ``n, Σy, Σy², Σŷ, Σŷ²`` fixed); that trial's
    evidence is not used. When all combinations across trials number at most
    ``n_permutations`` they are enumerated (an exact test); otherwise ``n_permutations`` are
    drawn uniformly.

    Returns
    -------
    plan : list of (start, stop, offsets of shape (n_null,))
    n_null : int
    unshifted : list of (start, stop)
        Event ranges of the trials left unshifted.
    """
    ranges, unshifted = [], []
    for s, e in zip(t_starts, t_stops, strict=True):
        inner = b_starts[(b_starts >= s) & (b_starts < e)]
        longest = int(np.diff(np.r_[inner, e]).max())
        lo, hi = longest, (e - s) - longest
        if hi < lo:
            unshifted.append((int(s), int(e)))
            ranges.append((s, e, np.zeros(1, dtype=np.int64)))
        else:
            ranges.append((s, e, np.arange(lo, hi + 1)))
    if len(unshifted) == len(ranges):
        raise ValueError(f"No trial can be shifted by a whole block: every trial (events "
                         f"{', '.join(f'{s}..{e - 1}' for s, e in unshifted)}) has a single "
                         "block or one block over half of its events. The shift test needs a "
                         "trial of 2 or more blocks, none over half of its events: use "
                         "shorter blocks (events.block_s).")
    n_all = int(np.prod([float(r.size) for _, _, r in ranges]))
    if n_all <= n_permutations:
        grids = np.meshgrid(*[r for _, _, r in ranges], indexing="ij")
        shifts = [g.ravel() for g in grids]
    else:
        shifts = [rng.choice(r, size=n_permutations) for _, _, r in ranges]
    plan = [(s, e, k) for (s, e, _), k in zip(ranges, shifts, strict=True)]
    return plan, shifts[0].size, unshifted


def unshifted_trials(blocks, trials=None) -> list[tuple[int, int]]:
    """Event ranges ``(start, stop)`` of the trials that :func:`permutation_p` leaves unshifted.

    Parameters
    ----------
    blocks : array of shape (n_events,)
    trials : array of shape (n_events,) or None

    Returns
    -------
    ranges : list of (int, int)
        Empty when every trial can be shifted by a whole block.
    """
    b_starts, _ = block_runs(blocks)
    t_starts, t_stops = _trial_runs(trials, blocks, np.asarray(blocks).size)
    out = []
    for s, e in zip(t_starts, t_stops, strict=True):
        inner = b_starts[(b_starts >= s) & (b_starts < e)]
        if int(np.diff(np.r_[inner, e]).max()) * 2 > e - s:
            out.append((int(s), int(e)))
    return out


def permutation_p(y, y_hat, blocks, trials=None, n_permutations: int = 1000,
                  rng: np.random.Generator | int | None = None,
                  n_targets_batch: int | None = 1024, return_null: bool = False):
    """One-sided permutation p-value of r > 0 by circular shifts within trials.

    Null: in each trial, ŷ is circularly shifted against y by an offset of at least the
    trial's longest block (in events) from either end, independently across trials
    (``_shift_plan``). A circular shift keeps the autocorrelation of both series (except
    at one seam per trial) and breaks only their alignment, so autocorrelated responses
    and predictions do not inflate the test. A trial too short for a whole-block shift is
    left unshifted in every resample (see ``_shift_plan``; logged as a warning): the test is
    then that of the other trials; it raises only when no trial can be shifted. Shifting by any such offset rather than by
    whole blocks only gives the test a finer resolution: with ``m`` blocks a whole-block
    shift has ``m - 1`` values, so a p-value below ``1 / m`` would be an artefact of
    drawing the same few shifts again; when all admissible shifts are fewer than
    ``n_permutations`` they are enumerated exactly instead.
    A shift leaves every trial's ``n, Σy, Σy², Σŷ, Σŷ²`` unchanged; only ``Σyŷ`` moves, and
    for all shifts at once it is the circular cross-correlation
    ``c[s] = Σ_i y_i ŷ_{(i + s) mod n}`` computed by FFT. The shifts are drawn once and
    shared by all targets. ``p = (1 + #{r_null >= r_obs}) / (1 + n_null)``.

    Parameters
    ----------
    y : array of shape (n_events, n_targets)
    y_hat : array of shape (n_events, n_targets)
    blocks : array of shape (n_events,)
        Block labels, contiguous, nested within trials.
    trials : array of shape (n_events,) or None
        Trial label per event (contiguous runs); None means one trial.
    n_permutations : int
        Resamples drawn (or fewer, all of them, when the admissible shifts are fewer).
    rng : numpy Generator, seed or None
    n_targets_batch : int or None
    return_null : bool
        Also return the null r.

    Returns
    -------
    p : array of shape (n_targets,)
    r_null : array of shape (n_null, n_targets)
        Only if ``return_null``; ``n_null = min(n_permutations, number of admissible
        shift combinations)``.
    """
    y, y_hat = _check_pair(y, y_hat)
    rng = np.random.default_rng(rng)
    n_events, n_targets = y.shape
    b_starts, _ = block_runs(blocks)
    if b_starts.size and (b_starts[-1] >= n_events):
        raise ValueError(f"'blocks' and 'y' disagree on the number of events ({n_events}).")
    t_starts, t_stops = _trial_runs(trials, blocks, n_events)
    plan, n_null, unshifted = _shift_plan(t_starts, t_stops, b_starts, n_permutations, rng)
    if unshifted:
        logger.warning("circular-shift test: trial(s) of events %s cannot be shifted by a whole "
                       "block and are left unshifted (their evidence is not used)",
                       ", ".join(f"{s}..{e - 1}" for s, e in unshifted))
    p = np.empty(n_targets)
    r_null = np.empty((n_null, n_targets)) if return_null else None
    for sl in _batches(n_targets, n_targets_batch):
        yb, hb = y[:, sl].astype(np.float64), y_hat[:, sl].astype(np.float64)
        nb = yb.shape[1]
        c_perm = np.zeros((n_null, nb))
        for s, e, k in plan:
            n_t = e - s
            fy = scipy.fft.rfft(yb[s:e], axis=0, workers=-1)
            fh = scipy.fft.rfft(hb[s:e], axis=0, workers=-1)
            c = scipy.fft.irfft(np.conj(fy) * fh, n=n_t, axis=0, workers=-1)  # (n_t, nb)
            c_perm += c[k]  # (n_null, nb)
        sy, sh = yb.sum(0), hb.sum(0)
        c_obs = (yb * hb).sum(0)
        var = np.sqrt(((yb * yb).sum(0) - sy * sy / n_events)
                      * ((hb * hb).sum(0) - sh * sh / n_events))
        # r is increasing in Σyŷ with everything else fixed, so compare cross sums; the
        # tolerance absorbs FFT round-off and counts near-ties as exceedances (conservative).
        tol = 1e-9 * np.sqrt((yb * yb).sum(0) * (hb * hb).sum(0))
        p[sl] = (1 + (c_perm >= c_obs - tol).sum(0)) / (1 + n_null)
        if return_null:
            with np.errstate(invalid="ignore", divide="ignore"):
                r_null[:, sl] = (c_perm - sy * sh / n_events) / var
    return (p, r_null) if return_null else p


def residual_block_autocorr(sums: np.ndarray, block_trials=None) -> np.ndarray:
    """Lag-1 correlation of the residual block means, within trials.

    The residual is ``y - (a + b ŷ)`` with ``a, b`` the least-squares fit over all events
    (from the total sums): the cross-fitted ŷ carries no intercept and is unit-scaled per
    half-fold, so the raw difference ``y - ŷ`` would mostly measure ŷ's own scale and offsets
    (on the demo that inflated the median diagnostic from ~0 to 0.09-0.24).
    Block resampling assumes nearly independent block sums; values above ~0.1 flag targets
    whose residuals are autocorrelated beyond a block (use longer blocks). Means rather than
    sums so unequal block lengths do not masquerade as correlation (equal lengths: identical).

    Parameters
    ----------
    sums : array of shape (n_blocks, 6, n_targets)
    block_trials : array of shape (n_blocks,) or None
        Trial of each block; consecutive blocks of different trials are not paired.

    Returns
    -------
    rho : array of shape (n_targets,)
    """
    totals = sums.sum(0)  # (6, n_targets)
    n = totals[N]
    mean_y, mean_h = totals[SY] / n, totals[SH] / n
    var_h = totals[SHH] / n - mean_h**2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(var_h > 0, (totals[SYH] / n - mean_y * mean_h) / var_h, 0.0)
    counts = sums[:, N]
    resid = (sums[:, SY] / counts - mean_y) - slope * (sums[:, SH] / counts - mean_h)
    pairs = np.ones(resid.shape[0] - 1, dtype=bool)
    if block_trials is not None:
        bt = np.asarray(block_trials)
        pairs = bt[1:] == bt[:-1]
    a, b = resid[:-1][pairs], resid[1:][pairs]
    a, b = a - a.mean(0), b - b.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


#: Largest correlation of adjacent block sums that block resampling tolerates; the block length
#: needed is set from it (see :func:`residual_autocorr_time`).
BLOCK_CORR_LIMIT = 0.1


def residual_autocorr_time(y, y_hat, trials=None, window_c: float = 5.0,
                           n_targets_batch: int | None = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Integrated autocorrelation time of the residual score ``e (ŷ - mean ŷ)``, in events.

    ``e = y - (a + b ŷ)`` is the residual of the least-squares line over all events (as in
    :func:`residual_block_autocorr`). The tests sum ``Σ y ŷ`` over blocks and treat the block
    sums as independent; the terms of that sum, under the null and around the fitted line, are
    ``z_i = e_i (ŷ_i - mean ŷ)``, whose autocorrelation is about ``ρ_e(k) ρ_ŷ(k)``. So drift in
    the responses alone (``ŷ`` white) leaves ``z`` white, as it leaves the tests calibrated (issue
    #12: 5.8 % at nominal 5 %), while drift shared by responses and predictions makes ``z`` slow,
    as it makes the tests liberal; the residual ``e`` alone would flag both.

    ``τ = 1 + 2 Σ_{k=1..M} ρ_z(k)`` with ``ρ_z`` pooled over trials (no pair spans two trials)
    and Sokal's window: the smallest ``M`` with ``M >= window_c * τ(M)`` (at most a quarter of
    the longest trial). For an AR(1) with correlation time ``t`` events, ``τ - 1 ≈ 2 t`` and the
    correlation of adjacent block sums of ``L`` events ``≈ t / L``, so blocks of at least
    ``(τ - 1) / (2 * BLOCK_CORR_LIMIT)`` events keep it below ``BLOCK_CORR_LIMIT``; white
    terms (``τ = 1``) need no particular length.

    Parameters
    ----------
    y, y_hat : arrays of shape (n_events, n_targets)
    trials : array of shape (n_events,) or None
    window_c : float
        Sokal's window constant.
    n_targets_batch : int or None

    Returns
    -------
    tau : array of shape (n_targets,)
        In events (1 for white terms; NaN for a constant prediction or response).
    needed_events : array of shape (n_targets,)
        Block length, in events, at which adjacent block sums correlate at most
        ``BLOCK_CORR_LIMIT``: ``max(τ - 1, 0) / (2 * BLOCK_CORR_LIMIT)``.
    """
    y, y_hat = _check_pair(y, y_hat)
    n_events, n_targets = y.shape
    blocks = np.zeros(n_events, dtype=np.int64) if trials is None else np.asarray(trials)
    t_starts, t_stops = _trial_runs(trials, blocks, n_events)
    max_lag = max(1, int(np.max(t_stops - t_starts)) // 4)
    tau = np.full(n_targets, np.nan)
    for sl in _batches(n_targets, n_targets_batch):
        yb, hb = y[:, sl].astype(np.float64), y_hat[:, sl].astype(np.float64)
        hc = hb - hb.mean(0)
        yc = yb - yb.mean(0)
        var_h = (hc * hc).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(var_h > 0, (yc * hc).sum(0) / var_h, 0.0)
        z = (yc - slope * hc) * hc
        z -= z.mean(0)
        acov = np.zeros((max_lag + 1, z.shape[1]))
        for s, e in zip(t_starts, t_stops, strict=True):
            n_t = e - s
            f = scipy.fft.rfft(z[s:e], n=2 * n_t, axis=0, workers=-1)
            c = scipy.fft.irfft(f * np.conj(f), n=2 * n_t, axis=0, workers=-1)
            k = min(max_lag, n_t - 1)
            acov[:k + 1] += c[:k + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = acov[1:] / acov[0]
        cum = 1 + 2 * np.cumsum(rho, axis=0)  # tau(M), M = 1..max_lag
        lags = np.arange(1, max_lag + 1)[:, None]
        ok = lags >= window_c * cum
        first = np.where(ok.any(0), ok.argmax(0), max_lag - 1)
        t = cum[first, np.arange(cum.shape[1])]
        tau[sl] = np.where(acov[0] > 0, t, np.nan)
    needed = np.clip(tau - 1, 0, None) / (2 * BLOCK_CORR_LIMIT)
    return tau, needed
