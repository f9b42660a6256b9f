"""Data-stage benchmark: throughput and peak memory of preprocessing vs recording length.

Simulates one `paper`-preset subject (real Brain TreeBank electrode layout) at two
movie lengths, then runs the responses step (MNE notch, Laplacian, high-gamma
envelope, windowed means) on each in a fresh process and reports

- throughput in channel-seconds of recording per second of wall time, and
- peak resident memory above the process's baseline after imports, and the same
  less the output array (which necessarily grows with the number of events).

Usage: python benchmarks/bench_data.py [--durations 600 1800] [--memory-mb 500] [--out benchmarks/out]
Numbers are machine-specific: compare the two rows, which ran in the same session.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from neuroalign.config import validate_config
from neuroalign.data.build import write_events, write_electrodes, write_responses
root, work, memory_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = validate_config({"dataset": {"root": root}, "movies": {"root": root + "/movies",
       "scene_cuts": root + "/scene_cuts"}, "events": {"alignments": ["language"]},
       "preprocessing": {"memory_mb": memory_mb}})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from neuroalign.data.braintreebank import BrainTreeBank
ds = BrainTreeBank(root)
subject = ds.subjects()[0]
movie = ds.movie(subject, 0)
write_events(cfg, movie, "language", f"{work}/movies/{movie}/events/language.parquet")
write_electrodes(cfg, subject, f"{work}/electrodes.parquet")
t0 = time.perf_counter()
summary = write_responses(cfg, subject, ["language"], f"{work}/electrodes.parquet",
                          f"{work}/movies", [f"{work}/responses.h5"], verbose=False)["language"]
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n_channels = len(ds.electrode_table(subject))
n_samples = ds.n_samples(subject, 0)
fs = summary["trials"][0]["fs"]
out_mb = summary["events"] * summary["electrodes"] * summary["bins"] * 4 / 2**20
print(json.dumps({"wall_s": wall, "peak_mb": (peak - base) / 1024, "output_mb": out_mb,
                  "channels": n_channels, "recording_s": n_samples / fs,
                  "events": summary["events"], "electrodes": summary["electrodes"]}))
"""


def run(durations: list[float], out_dir: Path, memory_mb: int) -> list[dict]:
    from neuroalign.simulate import simulate_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for duration in durations:
            root = Path(tmp) / f"paper_{int(duration)}"
            t0 = time.perf_counter()
            simulate_dataset(root, preset="paper", seed=0, latents="random", n_subjects=1,
                             duration_s=duration, verbose=False)
            sim_s = time.perf_counter() - t0
            work = Path(tmp) / f"work_{int(duration)}"
            res = subprocess.run([sys.executable, "-c", CHILD, str(root), str(work),
                                  str(memory_mb)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(res.stderr[-3000:])
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["duration_s"] = duration
            row["simulate_s"] = sim_s
            row["channel_s_per_s"] = row["channels"] * row["recording_s"] / row["wall_s"]
            row["peak_less_output_mb"] = row["peak_mb"] - row["output_mb"]
            rows.append(row)
            print(f"movie {duration:.0f} s: {row['channels']} channels x {row['recording_s']:.0f} s"
                  f" in {row['wall_s']:.1f} s -> {row['channel_s_per_s']:.0f} channel-s/s, "
                  f"peak {row['peak_mb']:.0f} MB ({row['peak_less_output_mb']:.0f} MB without the "
                  f"{row['output_mb']:.0f} MB output)", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench_data.json").write_text(json.dumps(rows, indent=1))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[600.0, 1800.0])
    parser.add_argument("--memory-mb", type=int, default=500,
                        help="preprocessing.memory_mb, the per-chunk budget under test")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    rows = run(args.durations, args.out, args.memory_mb)
    print(f"\npreprocessing.memory_mb = {args.memory_mb}")
    print("\n| movie length | channels | recording | wall | channel-s/s | peak RSS | peak less output |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['duration_s']:.0f} s | {r['channels']} | {r['recording_s']:.0f} s | "
              f"{r['wall_s']:.1f} s | {r['channel_s_per_s']:.0f} | {r['peak_mb']:.0f} MB | "
              f"{r['peak_less_output_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
