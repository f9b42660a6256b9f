"""Slow drifts: the non-stimulus, minutes-long fluctuations of real recordings and films.

Real high-gamma envelopes drift with arousal, medication and electrode state over tens of
seconds to minutes, and the features of a real film drift with its scenes. Neither is
stimulus-locked at the scale of one event, but two independent slow processes correlate by
chance over a short recording far more often than white noise does, which is what breaks
naive encoding statistics. This module is the one generator of such drifts, used by the
simulator (responses, movie) and by the calibration benchmarks (event-level data).
"""

from __future__ import annotations

import numpy as np

__all__ = ["slow_drift"]


def slow_drift(times_s: np.ndarray, rng: np.random.Generator, n_series: int = 1,
               tau_s: tuple[float, float] = (30.0, 180.0), n_components: int = 3,
               grid_hz: float = 1.0) -> np.ndarray:
    """Sum of Ornstein-Uhlenbeck (continuous AR(1)) processes, sampled at ``times_s``.

    Each series is the sum of ``n_components`` independent OU processes whose time
    constants are drawn log-uniformly in ``tau_s``, each started from its stationary
    distribution, generated on a ``grid_hz`` grid spanning ``times_s`` and linearly
    interpolated. The spectrum is a sum of Lorentzians: roughly ``1/f^2`` above
    ``1 / (2 pi tau)``, flat below, as the slow part of real envelopes.

    Parameters
    ----------
    times_s : array of shape (n_times,)
        Sample times in seconds (any order, any spacing).
    rng : numpy.random.Generator
    n_series : int
        Independent series to draw.
    tau_s : (float, float)
        Range of the time constants in seconds, ``0 < tau_s[0] <= tau_s[1]``.
    n_components : int
        OU processes summed per series.
    grid_hz : float
        Rate of the generating grid; must resolve the shortest time constant.

    Returns
    -------
    drift : array of shape (n_times, n_series)
        Zero mean and unit variance per series over the grid spanning ``times_s`` (so a
        caller sets the amplitude by one factor).
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    if times_s.ndim != 1 or times_s.size == 0 or not np.isfinite(times_s).all():
        raise ValueError(f"'times_s' must be a non-empty 1-D array of finite times, got "
                         f"shape {times_s.shape}.")
    lo, hi = float(tau_s[0]), float(tau_s[1])
    if not 0 < lo <= hi:
        raise ValueError(f"'tau_s' must satisfy 0 < tau_s[0] <= tau_s[1], got {tau_s!r}.")
    if int(n_series) < 1 or int(n_components) < 1:
        raise ValueError(f"'n_series' and 'n_components' must be >= 1, got {n_series!r} and "
                         f"{n_components!r}.")
    if grid_hz * lo < 1.0:
        raise ValueError(f"grid_hz={grid_hz} does not resolve tau_s[0]={lo} s; use "
                         f"grid_hz >= {1.0 / lo:.3g}.")
    t0, t1 = float(times_s.min()), float(times_s.max())
    n_grid = max(2, int(np.ceil((t1 - t0) * grid_hz)) + 2)
    grid = t0 + np.arange(n_grid) / grid_hz
    dt = 1.0 / grid_hz
    taus = np.exp(rng.uniform(np.log(lo), np.log(hi), size=(n_components, n_series)))
    phi = np.exp(-dt / taus)  # (n_components, n_series)
    innov = np.sqrt(1.0 - phi ** 2)
    eps = rng.standard_normal((n_grid, n_components, n_series))
    x = np.empty((n_grid, n_components, n_series))
    x[0] = eps[0]  # stationary start: unit variance
    for i in range(1, n_grid):
        x[i] = phi * x[i - 1] + innov * eps[i]
    series = x.sum(axis=1)  # (n_grid, n_series)
    series -= series.mean(axis=0)
    sd = series.std(axis=0)
    series /= np.where(sd > 0, sd, 1.0)
    return np.stack([np.interp(times_s, grid, series[:, j]) for j in range(n_series)], axis=1)
