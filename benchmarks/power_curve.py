"""Power of the default statistics over SNR: what effect sizes the defaults can detect.

For each SNR (modulation depth of a planted electrode's high-gamma envelope, in units of its
background; see ``neuroalign simulate --help``) and each seed, simulate one subject of
``--preset`` (default `tiny`; its realistic structure, drift, scenes and spikes, as the preset
has it) watching a movie of ``--duration`` seconds, run data -> features (the ``sim-*``
controls) -> encoding -> stats with the default config, and score the sites against
ground_truth.json.
Writes ``power_curve.tsv`` (one row per SNR: mean recall of multimodal sites in both
alignments and per alignment, FDP, vision/language recall) and ``power_curve.png``.

    python benchmarks/power_curve.py --snr 0.25 0.5 0.75 1.0 --seeds 2 --out benchmarks/out

Issue #12's target (d), the default SNR on a 20-min film (the demo preset, SNR 0.8):

    python benchmarks/power_curve.py --preset demo --latents content --snr 0.8 --seeds 3 \
        --duration 1200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--seeds", type=int, default=2, help="datasets per SNR")
    parser.add_argument("--duration", type=float, default=600.0, help="movie length (s)")
    parser.add_argument("--preset", default="tiny", choices=["tiny", "demo", "paper"])
    parser.add_argument("--latents", default="random", choices=["random", "content"],
                        help="the simulator's content latents (content: from real networks)")
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuroalign.simulate.validation import run_control_chain, score_sites

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for snr in args.snr:
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                run = run_control_chain(tmp, seed=seed, duration_s=args.duration, snr=snr,
                                        preset=args.preset, latents=args.latents)
                scores = score_sites(pd.read_parquet(run["sites"]), run["truth"])
            rows.append({"snr": snr, "seed": seed, **scores,
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    cols = [c for c in table.columns if c.endswith("recall") or "recall_" in c
            or c == "multimodal_fdp"]
    summary = table.groupby("snr")[cols].mean().round(2)
    summary.insert(0, "datasets", table.groupby("snr").size())
    summary.to_csv(out / "power_curve.tsv", sep="\t")
    print(summary.to_markdown() if hasattr(summary, "to_markdown") else summary)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for col, label in [("multimodal_recall", "multimodal sites (both alignments)"),
                       ("multimodal_recall_language", "multimodal, language alignment"),
                       ("multimodal_recall_vision", "multimodal, vision alignment"),
                       ("multimodal_fdp", "false-discovery proportion")]:
        if col in summary:
            ax.plot(summary.index, summary[col], marker="o", label=label)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.axhline(0.05, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("SNR (envelope modulation depth)")
    ax.set_ylabel("proportion")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Default statistics, {args.preset}, {args.duration:.0f} s movie, "
                 f"{args.seeds} seed(s)/SNR",
                 fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "power_curve.png", dpi=120)
    print(f"wrote {out / 'power_curve.tsv'} and {out / 'power_curve.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
