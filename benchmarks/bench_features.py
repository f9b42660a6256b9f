"""Features benchmark: batched extraction vs one event at a time, on ViT-B/16 towers.

Runs the SLIP-CLIP vision tower (ViT-B/16, 12 blocks hooked) on movie frames and its text
tower (12-layer CLIP transformer) on transcript contexts through
:func:`neuroalign.features.extract.extract_features`, once with ``batch_size`` events per
forward pass and once with one event per pass, and reports images/s and texts/s. The
towers are the seeded random twins (identical architecture and cost; no weights needed).
Frames and texts come from a simulated `tiny` movie. Device: ``auto`` (CUDA when present).

Usage: python benchmarks/bench_features.py [--events 96] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()

    import torch

    from neuroalign.config import validate_config
    from neuroalign.data.build import write_events
    from neuroalign.features.extract import extract_features
    from neuroalign.simulate import simulate_dataset

    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sim"
        simulate_dataset(root, preset="tiny", seed=0, latents="random", verbose=False)
        cfg = validate_config({"dataset": {"root": str(root)},
                               "movies": {"root": str(root / "movies"),
                                          "scene_cuts": str(root / "scene_cuts")}})
        events = write_events(cfg, "sim-movie-a", "language", Path(tmp) / "events.parquet")
        events = events.iloc[: args.events].reset_index(drop=True)
        for model, unit in (("slip-clip.vision", "images"), ("slip-clip.text", "texts")):
            for batch in (args.batch_size, 1):
                out = Path(tmp) / f"{model}_{batch}.h5"
                t0 = time.perf_counter()
                extract_features(model, "random", events, root / "movies", out,
                                 movie="sim-movie-a", alignment="language", batch_size=batch,
                                 device="auto", seed=0, verbose=False)
                wall = time.perf_counter() - t0
                rows.append({"model": model, "batch_size": batch, "events": len(events),
                             "wall_s": wall, "per_s": len(events) / wall, "unit": unit,
                             "device": device})
                print(f"{model:18s} batch {batch:3d}: {len(events) / wall:7.1f} {unit}/s "
                      f"({wall:.1f} s, {device})", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_features.json").write_text(json.dumps(rows, indent=1))
    print(f"\n| tower | device | batched ({args.batch_size}) | one at a time | speed-up |")
    print("|---|---|---|---|---|")
    for model in ("slip-clip.vision", "slip-clip.text"):
        b, one = [r for r in rows if r["model"] == model]
        print(f"| {model} | {device} | {b['per_s']:.1f} {b['unit']}/s | "
              f"{one['per_s']:.1f} {one['unit']}/s | {b['per_s'] / one['per_s']:.1f}x |")


if __name__ == "__main__":
    main()
