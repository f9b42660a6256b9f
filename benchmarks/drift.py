"""Encoding statistics under slow drift in responses and features together (issue #12 item 2).

Event-level datasets (no simulator run): ``--duration`` s of movie (default 900), one event
per second on average at uniform random times, one trial, 30 s blocks, 5 cyclic folds. Each
dataset has

- ``--null`` null electrodes and ``--planted`` planted ones, 3 bins each; every electrode's
  bins share one envelope drift from :func:`neuroalign.simulate.drift.slow_drift`
  (time constants 30-180 s, sd equal to the white noise's) plus noise shared by the bins
  (correlation 0.5);
- a *trained* model of 13 layers × 8 features: per layer white event-level features plus
  three slow scene drifts (``slow_drift``, 30-180 s, shared by the layers, as much variance
  as the white part), and its 1-layer version (layer 0);
- a *random* model of 13 layers × 8 white features (no drift);
- on the planted electrodes, ``--snr`` × (a fixed projection of the trained model's white
  layer-6 features, unit variance): an event-locked signal in the features.

Methods (all with gap 1 block and guard 1 block except ``gap3``):
``none``; ``gap3`` (3-block gap); ``trial{c}`` (DCT cosines of period > c s regressed out of
the responses over the whole trial before fitting); ``folds{c}`` (regressed out of the
responses inside each training set and each test fold separately: ``encoding.highpass_s = c``,
``highpass_on = responses``; c in 60/90/120/240, the default being ``folds90``);
``both{c}`` (the same on the features too), c in 60/120/240; a suffix ``g<k>`` widens the
gap to k blocks (``folds60g2``, ``folds60g3``, ``folds90g2``).

Per method, over datasets: mean null out-of-sample r (trained, 13 layers) and its SE; per
target P(shift p < .05) of the null targets (trained 13 layers, trained 1 layer, random 13
layers); per null electrode P(block-swap p < .05) for trained > random and random > trained
(all bins); on planted targets the trained model's r and P(shift p < .05). Rates are means
of per-dataset rates, with 95 % CIs from the SE across datasets (datasets are independent;
targets within one are not). Writes ``drift.tsv`` (summary), ``drift_datasets.tsv`` (one
row per dataset and method) and ``drift.png`` under ``--out``.

    OMP_NUM_THREADS=1 python benchmarks/drift.py --datasets 100 --out benchmarks/out
    OMP_NUM_THREADS=1 python benchmarks/drift.py --datasets 300 --methods folds90
    python benchmarks/drift.py --quick

CPU: about 0.2 s per dataset and method on one core (100 datasets x 17 methods ~ 6 min).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np

BLOCK_S = 30.0
N_LAYERS, WIDTH, N_BINS = 13, 8, 3
METHODS = (["none", "gap3"] + [f"trial{c}" for c in (60, 120, 240)]
           + [f"folds{c}" for c in (60, 90, 120, 240)] + ["folds60g2", "folds60g3", "folds90g2"]
           + [f"both{c}" for c in (60, 120, 240)])


def make_dataset(seed: int, duration_s: float, n_null: int, n_planted: int, snr: float
                 ) -> dict:
    """One event-level dataset (see the module docstring); arrays in event order."""
    from neuroalign.simulate.drift import slow_drift

    rng = np.random.default_rng(np.random.SeedSequence([20261212, seed]))
    n = int(round(duration_s))
    times = np.sort(rng.uniform(0, duration_s, n))
    blocks = (times // BLOCK_S).astype(np.int64)
    n_el = n_null + n_planted
    env = slow_drift(times, rng, n_el)  # (n, n_el), envelope drift per electrode
    shared = rng.standard_normal((n, n_el, 1))
    own = rng.standard_normal((n, n_el, N_BINS))
    y = env[:, :, None] + np.sqrt(0.5) * shared + np.sqrt(0.5) * own  # (n, n_el, n_bins)
    scene = slow_drift(times, rng, 3)  # (n, 3), the film's slow drift
    white = [rng.standard_normal((n, WIDTH)) for _ in range(N_LAYERS)]
    trained = [w + scene @ rng.standard_normal((3, WIDTH)) / np.sqrt(3) for w in white]
    random = [rng.standard_normal((n, WIDTH)) for _ in range(N_LAYERS)]
    signal = white[6] @ rng.standard_normal(WIDTH)
    signal /= signal.std()
    y[:, n_null:, :] += snr * signal[:, None, None]
    return {"times": times, "blocks": blocks, "y": y.reshape(n, -1).astype(np.float32),
            "n_el": n_el, "n_null": n_null,
            "trained": [x.astype(np.float32) for x in trained],
            "random": [x.astype(np.float32) for x in random]}


def _settings(method: str) -> dict:
    """Keyword arguments of a method; a suffix ``g<k>`` (e.g. ``folds60g2``) sets a k-block gap."""
    match = re.fullmatch(r"(none|gap|trial|folds|both)(\d*)(?:g(\d+))?", method)
    if match is None or (match[1] == "none") == bool(match[2]):
        raise ValueError(f"Invalid method: allowed values are none, gap<k>, trial<c>, "
                         f"folds<c>, both<c> (c: cut-off in s), optionally with a g<k> "
                         f"suffix (k-block gap), e.g. {list(METHODS)}; but got {method!r}.")
    kind, value = match[1], match[2]
    kw: dict = {} if match[3] is None else {"gap_blocks": int(match[3])}
    if kind == "gap":
        kw["gap_blocks"] = int(value)
    elif kind == "trial":
        kw["trial_s"] = float(value)
    elif kind in ("folds", "both"):
        kw.update(highpass_s=float(value),
                  highpass_on="responses" if kind == "folds" else "both")
    return kw


def evaluate(data: dict, method: str, n_permutations: int, seed: int) -> dict:
    """Fit the three models with one method and return the per-dataset metrics."""
    from neuroalign.encoding import block_sums, cross_fitted_predictions, permutation_p
    from neuroalign.encoding.detrend import remove_slow
    from neuroalign.stats.comparisons import electrode_swap_test

    kw = _settings(method)
    y = data["y"]
    trial_s = kw.pop("trial_s", None)
    if trial_s is not None:
        y = remove_slow(y, data["times"], trial_s).astype(np.float32)
    fits = {name: cross_fitted_predictions(X, y, data["blocks"], times_s=data["times"], **kw)
            for name, X in (("trained", data["trained"]), ("trained1", data["trained"][:1]),
                            ("random", data["random"]))}
    y_eval = fits["trained"].y_eval
    for res in fits.values():
        assert np.array_equal(res.y_eval, y_eval), "models scored on different responses"
    n_el, n_null = data["n_el"], data["n_null"]
    null_t = slice(0, n_null * N_BINS)
    plant_t = slice(n_null * N_BINS, n_el * N_BINS)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    p = {name: permutation_p(y_eval, res.y_hat, data["blocks"], n_permutations=n_permutations,
                             rng=rng) for name, res in fits.items()}
    sums = {name: block_sums(y_eval, fits[name].y_hat, data["blocks"]).reshape(
        -1, 6, n_el, N_BINS) for name in ("trained", "random")}
    bins = np.zeros((n_el, N_BINS), dtype=bool)
    bins[:n_null] = True
    _, p_tr = electrode_swap_test(sums["trained"], sums["random"], bins,
                                  n_permutations=n_permutations, rng=rng)
    _, p_rt = electrode_swap_test(sums["random"], sums["trained"], bins,
                                  n_permutations=n_permutations, rng=rng)
    out = {"null_r": float(np.nanmean(fits["trained"].r[null_t])),
           "shift13": float(np.mean(p["trained"][null_t] < 0.05)),
           "shift1": float(np.mean(p["trained1"][null_t] < 0.05)),
           "shift_random": float(np.mean(p["random"][null_t] < 0.05)),
           "swap_tr_gt_rand": float(np.mean(p_tr[:n_null] < 0.05)),
           "swap_rand_gt_tr": float(np.mean(p_rt[:n_null] < 0.05))}
    if n_el > n_null:
        out["planted_r"] = float(np.nanmean(fits["trained"].r[plant_t]))
        out["planted_shift"] = float(np.mean(p["trained"][plant_t] < 0.05))
    return out


RATE_COLS = ["shift13", "shift1", "shift_random", "swap_tr_gt_rand", "swap_rand_gt_tr",
             "planted_shift"]


def summarise(table):
    """Per method: datasets, and mean, SE and 95 % CI of each metric across datasets."""
    import pandas as pd

    rows = []
    for method, g in table.groupby("method", sort=False):
        row = {"method": method, "datasets": len(g)}
        for col in [c for c in g.columns if c not in ("method", "dataset", "seconds")]:
            v = g[col].to_numpy(float)
            m, se = float(np.mean(v)), float(np.std(v, ddof=1) / np.sqrt(v.size))
            row[col] = m
            row[col + "_se"] = se
        rows.append(row)
    return pd.DataFrame(rows)


def _plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    x = np.arange(len(summary))
    width = 0.2
    for k, (col, label) in enumerate([("shift13", "shift, 13 layers"),
                                      ("shift1", "shift, 1 layer"),
                                      ("swap_tr_gt_rand", "swap trained>random"),
                                      ("swap_rand_gt_tr", "swap random>trained")]):
        axes[0].bar(x + (k - 1.5) * width, summary[col], width,
                    yerr=1.96 * summary[col + "_se"], label=label, capsize=2)
    axes[0].axhline(0.05, color="k", lw=0.8, ls="--")
    axes[0].set_ylabel("P(p < .05) on null data")
    axes[0].legend(fontsize=7)
    axes[1].errorbar(x, summary["null_r"], yerr=1.96 * summary["null_r_se"], fmt="o")
    axes[1].axhline(0, color="k", lw=0.8, ls="--")
    axes[1].set_ylabel("mean null r (trained, 13 layers)")
    if "planted_r" in summary:
        axes[2].errorbar(x, summary["planted_r"], yerr=1.96 * summary["planted_r_se"], fmt="o")
        axes[2].set_ylabel("planted r (matching model)")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(summary["method"], rotation=60, fontsize=7)
    fig.suptitle("Slow drift in responses and features: encoding statistics per method")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=100,
                        help="datasets for the methods in --full (default 100)")
    parser.add_argument("--others", type=int, default=None,
                        help="datasets for the other methods (default: --datasets)")
    parser.add_argument("--full", nargs="*", default=None,
                        help="methods given --datasets datasets (default: all)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        help=f"default: {' '.join(METHODS)}")
    parser.add_argument("--duration", type=float, default=900.0, help="movie length (s)")
    parser.add_argument("--null", type=int, default=16, help="null electrodes per dataset")
    parser.add_argument("--planted", type=int, default=8, help="planted electrodes per dataset")
    parser.add_argument("--snr", type=float, default=0.3, help="planted signal sd")
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument("--quick", action="store_true",
                        help="5 datasets, methods none/folds90/both120, 200 permutations")
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args(argv)
    for method in args.methods:
        _settings(method)  # refuse a bad name before any fit
    if args.quick:
        args.datasets, args.others = 5, 5
        args.methods = ["none", "folds90", "both120"]
        args.n_permutations = 200
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    full = set(args.methods if args.full is None else args.full)
    others = args.datasets if args.others is None else args.others
    n_max = max(args.datasets if m in full else others for m in args.methods)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    t_start = time.process_time()
    for i in range(n_max):
        data = make_dataset(i, args.duration, args.null, args.planted, args.snr)
        for method in args.methods:
            if i >= (args.datasets if method in full else others):
                continue
            t0 = time.process_time()
            rows.append({"method": method, "dataset": i,
                         **evaluate(data, method, args.n_permutations, i),
                         "seconds": round(time.process_time() - t0, 2)})
        if (i + 1) % 10 == 0 or i + 1 == n_max:
            print(f"{i + 1}/{n_max} datasets, {time.process_time() - t_start:.0f} s CPU",
                  flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "drift_datasets.tsv", sep="\t", index=False)
    summary = summarise(table)
    summary.to_csv(out / "drift.tsv", sep="\t", index=False, float_format="%.4f")
    _plot(summary, out / "drift.png")
    show = ["method", "datasets", "null_r", "null_r_se", "shift13", "shift1", "shift_random",
            "swap_tr_gt_rand", "swap_rand_gt_tr", "planted_r", "planted_shift"]
    print(summary[[c for c in show if c in summary]].round(4).to_string(index=False))
    print(f"wrote {out / 'drift.tsv'}, {out / 'drift_datasets.tsv'}, {out / 'drift.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
