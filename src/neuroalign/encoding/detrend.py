"""Removal of slow components (periods longer than a cut-off) from event-level series.

Real high-gamma envelopes drift over tens of seconds to minutes, and so do the features of a
real film (scenes). Two independent slow series correlate by chance over a short recording,
and a ridge model trained next to a test fold learns that chance correlation, which persists
into the test fold: the circular-shift and block-swap tests then reject far above their level
(issue #12). Regressing a discrete cosine (DCT) basis of periods longer than a cut-off out of
the series removes the slow part before it can be learnt or scored.

The basis is built in movie seconds from the events' own times (events are irregularly spaced)
and fitted separately on each *segment*: a run of events contiguous in time and in one trial.
Inside the cross-fit, the segments are those of each training set and of each test fold, so no
response of a test fold enters the projection of a training set, or the reverse (a projection
over the whole trial would mix them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["HIGHPASS_SIDES", "check_highpass", "slow_basis", "segment_runs", "SlowProjector",
           "remove_slow"]

HIGHPASS_SIDES = ("responses", "features", "both")


def check_highpass(highpass_s: float | None, highpass_on: str) -> float | None:
    """Validate the high-pass settings; return the cut-off (None when disabled).

    Parameters
    ----------
    highpass_s : float or None
        Cut-off period in seconds; None or 0 disables the removal.
    highpass_on : {"responses", "features", "both"}
        Which side(s) of the regression are high-passed.

    Returns
    -------
    cutoff : float or None
    """
    if highpass_on not in HIGHPASS_SIDES:
        raise ValueError(f"Invalid value for 'highpass_on': allowed values are "
                         f"{list(HIGHPASS_SIDES)}, but got {highpass_on!r}.")
    if highpass_s is None:
        return None
    try:
        cutoff = float(highpass_s)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid value for 'highpass_s': allowed values are null, 0 or a "
                         f"positive number of seconds, but got {highpass_s!r}.") from None
    if not np.isfinite(cutoff) or cutoff < 0:
        raise ValueError(f"Invalid value for 'highpass_s': allowed values are null, 0 or a "
                         f"positive number of seconds, but got {highpass_s!r}.")
    return cutoff if cutoff > 0 else None


def slow_basis(times_s: np.ndarray, cutoff_s: float) -> np.ndarray:
    """Orthonormal basis of the cosines of period longer than ``cutoff_s`` over a segment.

    With ``T = max(times_s) - min(times_s)``, the DCT-II cosines ``cos(pi k (t - t_0) / T)``
    have periods ``2 T / k``; those with ``2 T / k > cutoff_s`` (``k = 0`` included: the
    segment's mean) are kept, at most ``n_times // 2`` of them so that a short segment keeps
    most of its variance. They are evaluated at the events' own times and orthonormalised
    (QR), so irregular spacing is handled exactly.

    Parameters
    ----------
    times_s : array of shape (n_times,)
        Event times in seconds (sorted or not).
    cutoff_s : float
        Cut-off period in seconds, > 0.

    Returns
    -------
    Q : array of shape (n_times, n_basis), float64
        Orthonormal columns spanning the kept cosines; ``n_basis >= 1``.
    """
    t = np.asarray(times_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
        raise ValueError(f"'times_s' must be a non-empty 1-D array of finite times, got shape "
                         f"{t.shape}.")
    if not cutoff_s > 0:
        raise ValueError(f"'cutoff_s' must be > 0, got {cutoff_s!r}.")
    span = float(t.max() - t.min())
    n_basis = max(1, min(int(np.ceil(2.0 * span / cutoff_s)), t.size // 2))
    if span == 0:
        n_basis = 1
    phase = (t - t.min()) / span if span > 0 else np.zeros_like(t)
    basis = np.cos(np.pi * np.outer(phase, np.arange(n_basis)))  # (n_times, n_basis)
    Q, R = np.linalg.qr(basis)
    keep = np.abs(np.diag(R)) > 1e-10 * max(1.0, np.abs(R[0, 0]))  # rank-deficient cosines
    return Q[:, keep]


def segment_runs(index: np.ndarray, trials: np.ndarray | None = None
                 ) -> list[tuple[int, int]]:
    """Runs of positions whose events are consecutive and in one trial.

    Parameters
    ----------
    index : array of shape (n,)
        Sorted event indices of a set (a training set or a test fold).
    trials : array of shape (n_events,) or None
        Trial of every event (indexed by ``index``); None means one trial.

    Returns
    -------
    runs : list of (start, stop)
        Half-open position ranges into ``index``, in order, covering it.
    """
    index = np.asarray(index)
    if index.size == 0:
        return []
    cut = np.diff(index) != 1
    if trials is not None:
        tr = np.asarray(trials)[index]
        cut |= tr[1:] != tr[:-1]
    starts = np.r_[0, np.flatnonzero(cut) + 1]
    stops = np.r_[starts[1:], index.size]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


class SlowProjector:
    """Residualises columns against the slow basis of each segment of a set of events.

    Parameters
    ----------
    times_s : array of shape (n,)
        Times of the set's events, in seconds of movie.
    runs : list of (start, stop)
        Segments (positions into the set), e.g. from :func:`segment_runs`.
    cutoff_s : float
        Cut-off period in seconds, > 0.
    """

    def __init__(self, times_s: np.ndarray, runs: list[tuple[int, int]], cutoff_s: float):
        times_s = np.asarray(times_s, dtype=np.float64)
        self.n = times_s.size
        self.parts = [(a, b, slow_basis(times_s[a:b], cutoff_s)) for a, b in runs]

    def __call__(self, Z: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """Residual of ``Z`` (n, p) after each segment's projection, array (n, p) of ``dtype``.

        The projection runs in float64 one segment at a time, so a float32 result never
        holds a float64 copy of the whole of ``Z``.
        """
        Z = np.asarray(Z)
        if Z.shape[0] != self.n:
            raise ValueError(f"Expected {self.n} rows, got {Z.shape[0]}.")
        out = np.empty(Z.shape, dtype=dtype)
        for a, b, Q in self.parts:
            z = Z[a:b].astype(np.float64)
            out[a:b] = z - Q @ (Q.T @ z)
        return out


def remove_slow(Z: np.ndarray, times_s: np.ndarray, cutoff_s: float,
                trials: np.ndarray | None = None) -> np.ndarray:
    """Regress the slow cosines out of ``Z`` over each trial (whole-trial high-pass).

    Parameters
    ----------
    Z : array of shape (n_events, p)
        Events in time order.
    times_s : array of shape (n_events,)
    cutoff_s : float
        Cut-off period in seconds, > 0.
    trials : array of shape (n_events,) or None
        Trial of each event (contiguous runs); None means one trial.

    Returns
    -------
    residual : array of shape (n_events, p), float64
    """
    Z = np.asarray(Z)
    squeeze = Z.ndim == 1
    Z2 = Z[:, None] if squeeze else Z
    index = np.arange(Z2.shape[0])
    out = SlowProjector(times_s, segment_runs(index, trials), cutoff_s)(Z2)
    return out[:, 0] if squeeze else out
