"""Encoding-stage benchmark: reference algorithm vs himalaya RidgeCV vs neuroalign.encoding.

Same workload through each method, each in a fresh process (peak RSS is per method):

(a) ``reference``: per fold, one least-squares solve per alpha (numpy ``lstsq`` on the
    ridge-augmented system), alpha chosen on the pooled out-of-sample r (leaky), and the bootstrap
    by refitting the whole cross-validation per resample. Only the fit is timed; the 1,000-refit
    bootstrap is *extrapolated* as 1,000 × the fit time (stated in the output).
(b) ``himalaya``: ``himalaya.ridge.RidgeCV`` (torch backend) with the same contiguous folds.
(c) ``ours``: :func:`neuroalign.encoding.cross_fitted_predictions` + block sums + 1,000-resample
    bootstrap CIs + 1,000 circular-shift permutations.

Usage: python benchmarks/bench_encoding.py [--events 8000] [--features 768] [--targets 2000]
       python benchmarks/bench_encoding.py --methods ours --targets 21000 --layers 13
       (the second is a whole ``paper``-scale subject: every layer of a ViT-B/16-sized model)
       (``--targets 21000`` is the full Brain TreeBank trial; default is reduced to run in a few
       minutes on 2 CPU cores). Numbers are machine-specific: compare rows from one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

ALPHAS = np.logspace(-1, 5, 7)


def _data(n_events: int, n_features: int, n_targets: int, block_len: int = 60):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_events, n_features)).astype(np.float32)
    W = rng.standard_normal((n_features, n_targets)).astype(np.float32) / np.sqrt(n_features)
    Y = (0.3 * X @ W + rng.standard_normal((n_events, n_targets))).astype(np.float32)
    blocks = np.arange(n_events) // block_len
    return X, Y, blocks


def _reference_fit(X, Y, folds):
    """One lstsq per alpha per fold; alpha chosen on the same pooled predictions (leaky)."""
    preds = np.zeros((ALPHAS.size,) + Y.shape, dtype=np.float32)
    for train, test in folds:
        mu, sd = X[train].mean(0), X[train].std(0)
        Xtr, Xte = (X[train] - mu) / sd, (X[test] - mu) / sd
        ym = Y[train].mean(0)
        for i, alpha in enumerate(ALPHAS):
            aug_X = np.vstack([Xtr, np.sqrt(alpha) * np.eye(X.shape[1], dtype=np.float32)])
            aug_Y = np.vstack([Y[train] - ym, np.zeros((X.shape[1], Y.shape[1]), np.float32)])
            w = np.linalg.lstsq(aug_X, aug_Y, rcond=None)[0]
            preds[i, test] = Xte @ w + ym
    return preds


def _child(method: str, n_events: int, n_features: int, n_targets: int,
           n_layers: int = 1) -> dict:
    from neuroalign.encoding import (
        block_sums,
        bootstrap_ci,
        contiguous_folds,
        cross_fitted_predictions,
        permutation_p,
    )

    X, Y, blocks = _data(n_events, n_features, n_targets)
    folds = contiguous_folds(blocks, 5)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = {"method": method}
    if method == "reference":
        _reference_fit(X, Y, folds)
        out["fit_s"] = time.perf_counter() - t0
        out["total_s"] = out["fit_s"] * 1001  # fit + 1,000 refits (extrapolated)
    elif method == "himalaya":
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV

        set_backend("torch")
        RidgeCV(alphas=ALPHAS, cv=[(tr, te) for tr, te in folds]).fit(X, Y)
        out["fit_s"] = out["total_s"] = time.perf_counter() - t0
    else:
        # A model with several layers: every layer is fitted and selected per target.
        layers = [X] + [np.roll(X, k, axis=1) for k in range(1, n_layers)]
        res = cross_fitted_predictions(layers, Y, blocks, ALPHAS, device="auto")
        out["fit_s"] = time.perf_counter() - t0
        sums = block_sums(Y, res.y_hat, blocks)
        bootstrap_ci(sums, 1000, rng=0)
        permutation_p(Y, res.y_hat, blocks, n_permutations=1000, rng=0)
        out["total_s"] = time.perf_counter() - t0
        import torch

        out["device"] = "cuda" if torch.cuda.is_available() else "cpu"
        out["layers"] = n_layers
    out["peak_rss_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=8000)
    parser.add_argument("--features", type=int, default=768)
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=["reference", "himalaya", "ours"])
    parser.add_argument("--layers", type=int, default=1,
                        help="layers of the model fitted by 'ours' (13 = a ViT-B/16's blocks)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = (args.events, args.features, args.targets)
    if args.child:
        print(json.dumps(_child(args.child, *sizes, n_layers=args.layers)))
        return
    rows = {}
    for method in args.methods:
        cmd = [sys.executable, __file__, "--child", method, "--events", str(args.events),
               "--features", str(args.features), "--targets", str(args.targets),
               "--layers", str(args.layers)]
        rows[method] = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                 text=True).stdout.strip().splitlines()[-1])
        print(rows[method], flush=True)
    print(f"\n{args.events} events x {args.features} features x {args.targets} targets, "
          f"5 folds, 7 alphas")
    print(f"{'method':<10} {'fit s':>9} {'fit+CI+perm s':>14} {'peak MiB':>9}")
    for m, r in rows.items():
        print(f"{m:<10} {r['fit_s']:>9.1f} {r['total_s']:>14.1f} {r['peak_rss_mib']:>9.0f}")
    if "ours" in rows:
        for m in ("reference", "himalaya"):
            if m in rows:
                print(f"ours vs {m}: fit {rows[m]['fit_s'] / rows['ours']['fit_s']:.1f}x, "
                      f"total {rows[m]['total_s'] / rows['ours']['total_s']:.0f}x")
    if "reference" in rows:
        print("reference total = fit x 1001 (1,000 bootstrap refits extrapolated, not run)")


if __name__ == "__main__":
    main()
