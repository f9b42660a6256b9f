"""Level of the per-target circular-shift test of r > 0 under cross-fitted (layer, alpha) choice.

White null data (features and responses independent Gaussian noise, no drift, no high-pass):
whatever the cross-fit chooses, every target is null, so P(p < .05) should be 0.05. Each
dataset draws its own features (``--layers`` layers of 8 features) and responses (``--targets``
targets, 900 events, 30 s blocks, one event per second) and runs ``cross_fitted_predictions``
with the default gap and guard (``--folds`` and ``--training`` as given, default 5 and
``cyclic``), then ``permutation_p`` (1,000 shifts). Targets
within a dataset share the features, so the interval is over datasets (mean of per-dataset
rates +- 1.96 SE), not over targets.

Run: ``python benchmarks/shift_calibration.py [--datasets 250] [--targets 200] [--layers 13]
[--folds 5] [--training cyclic]``.
Prints one line per candidate set (``--layers 13`` with 7 alphas, and 1 layer x 1 alpha).
"""

from __future__ import annotations

import argparse

import numpy as np

from neuroalign.encoding import cross_fitted_predictions, permutation_p

ALPHAS = (0.1, 1, 10, 100, 1e3, 1e4, 1e5)


def one_dataset(seed: int, n_targets: int, n_layers: int, alphas, n_folds: int = 5,
                training: str = "cyclic") -> float:
    """Fraction of null targets with shift p < .05 on one white null dataset."""
    rng = np.random.default_rng([seed, n_layers, len(alphas)])
    n_events = 900
    times = np.arange(n_events, dtype=float)
    blocks = (times // 30).astype(int)
    Y = rng.standard_normal((n_events, n_targets)).astype(np.float32)
    X = [rng.standard_normal((n_events, 8)).astype(np.float32) for _ in range(n_layers)]
    fit = cross_fitted_predictions(X, Y, blocks, alphas=alphas, highpass_s=None,
                                   n_folds=n_folds, training=training)
    p = permutation_p(fit.y_eval, fit.y_hat, blocks, n_permutations=1000, rng=seed)
    return float(np.mean(p < 0.05))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=int, default=250)
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--training", default="cyclic", help="cyclic, sparse-cyclic or all")
    args = ap.parse_args(argv)
    for label, n_layers, alphas in ((f"{args.layers} layers x 7 alphas", args.layers, ALPHAS),
                                    ("1 layer x 1 alpha", 1, (100.0,))):
        rates = np.array([one_dataset(s, args.targets, n_layers, alphas, args.folds,
                                      args.training)
                          for s in range(args.datasets)])
        se = rates.std(ddof=1) / np.sqrt(rates.size)
        print(f"{args.folds} folds, {args.training}, {label}: P(p < .05) = {rates.mean():.4f} "
              f"+- {1.96 * se:.4f} (95 %), {args.datasets} datasets x {args.targets} null "
              "targets", flush=True)


if __name__ == "__main__":
    main()
