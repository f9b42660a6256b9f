"""Null calibration of the residual-autocorrelation flag (issue #12 item 5).

Null electrodes (no stimulus signal) on language-like event times (Poisson, 3 events/s) with
slow drift (``simulate.drift.slow_drift``, time constants 30-180 s, amplitude equal to the
white part) in:

- ``none``: neither responses nor predictions (the white null);
- ``responses``: responses only (predictions white: the tests stay calibrated, issue #12);
- ``both``: responses and, through the movie's features, predictions (the tests turn liberal).

Per electrode (``--bins`` bins sharing its drift) the flag is raised when the median over bins of
the block length needed (``residual_autocorr_time``) exceeds ``--block-s``. Printed next to it:
the old diagnostic (lag-1 correlation of residual block means over 0.1, any bin of the
electrode, as the report counted it), the circular-shift test's P(p < .05) over bins, and the
datasets the encoding job would stop (median electrode over ``--block-s``).

    PYTHONPATH=src python benchmarks/block_autocorr.py --datasets 20
"""

from __future__ import annotations

import argparse

import numpy as np

from neuroalign.data.events import assign_blocks
from neuroalign.encoding.blockstats import (
    block_sums,
    permutation_p,
    residual_autocorr_time,
    residual_block_autocorr,
)
from neuroalign.simulate.drift import slow_drift


def one_dataset(rng, scenario: str, duration_s: float, rate_hz: float, n_el: int, n_bins: int,
                block_s: float, n_perm: int) -> dict[str, np.ndarray]:
    times = np.sort(rng.uniform(0, duration_s, rng.poisson(rate_hz * duration_s)))
    blocks = assign_blocks(times, block_s)
    n = times.size
    white_y = rng.standard_normal((n, n_el, n_bins))
    white_h = rng.standard_normal((n, n_el, n_bins))
    y, h = white_y.copy(), white_h.copy()
    if scenario in ("responses", "both"):
        y += slow_drift(times, rng, n_el)[:, :, None]  # one drift per electrode, all its bins
    if scenario == "both":
        movie = slow_drift(times, rng, 4)  # the film's slow feature components
        w = rng.standard_normal((4, n_el * n_bins)) / 2
        h += (movie @ w).reshape(n, n_el, n_bins)
    y, h = y.reshape(n, -1), h.reshape(n, -1)
    _, needed = residual_autocorr_time(y, h)
    spacing = (times[-1] - times[0]) / n
    needed_s = np.median((needed * spacing).reshape(n_el, n_bins), axis=1)
    old = residual_block_autocorr(block_sums(y, h, blocks)).reshape(n_el, n_bins)
    p = permutation_p(y, h, blocks, n_permutations=n_perm, rng=rng)
    return {"needed_s": needed_s, "flag": needed_s > block_s,
            "old_flag": (old > 0.1).any(axis=1), "old_median": np.median(old, axis=1),
            "p05": np.mean(p < 0.05), "stop": np.median(needed_s) > block_s}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=20)
    ap.add_argument("--electrodes", type=int, default=20)
    ap.add_argument("--bins", type=int, default=10)
    ap.add_argument("--duration-s", type=float, default=900.0)
    ap.add_argument("--rate-hz", type=float, default=3.0)
    ap.add_argument("--block-s", type=float, default=30.0)
    ap.add_argument("--n-permutations", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(f"{a.datasets} datasets x {a.electrodes} null electrodes x {a.bins} bins, "
          f"{a.duration_s:g} s, {a.rate_hz:g} events/s, {a.block_s:g} s blocks")
    print("scenario   flagged(new)  needed_s median [q95]  flagged(old, any bin)  "
          "old median rho  shift P(p<.05)  datasets stopped")
    for scenario in ("none", "responses", "both"):
        rng = np.random.default_rng([a.seed, len(scenario)])
        res = [one_dataset(rng, scenario, a.duration_s, a.rate_hz, a.electrodes, a.bins,
                           a.block_s, a.n_permutations) for _ in range(a.datasets)]
        cat = {k: np.concatenate([np.atleast_1d(r[k]) for r in res]) for k in res[0]}
        print(f"{scenario:<10} {100 * cat['flag'].mean():6.1f} %     "
              f"{np.median(cat['needed_s']):6.1f} [{np.quantile(cat['needed_s'], 0.95):6.1f}]"
              f"          {100 * cat['old_flag'].mean():6.1f} %            "
              f"{np.median(cat['old_median']):+.3f}        {100 * cat['p05'].mean():5.1f} %"
              f"         {int(cat['stop'].sum())} / {a.datasets}")


if __name__ == "__main__":
    main()
