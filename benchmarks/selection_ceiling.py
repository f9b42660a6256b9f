"""How much site recall a better bin selection could buy, on the planted event-level scenario.

For each planted dataset (``benchmarks/calibration.py``'s ``planted`` scenario: 40 electrodes
x 25 bins, 1/6 of each class, a 20-min film by default), every comparison of the site claim
(each multimodal model against its random twin, the four unimodal models and ``concat``) is
tested by the stats stage's block-swap test on the bins of four selections:

``pair``   the stats stage's own: ``pair_selection`` of the tested pair (exact);
``own``    the multimodal model's own covariance screen on all blocks (``pair_selection`` of
           the model with itself). Not valid: the swap moves what selected the bins, which
           favours the model. It is the ceiling: a selection that knows where the model
           predicts, with no data lost to splitting;
``split``  the model's own screen on the even blocks, its test on the odd blocks, and the
           other way round, Bonferroni over the two halves (exact);
``other``  the screen of the other integrating multimodal model (no swap of the tested pair
           moves it; exact).

Each electrode's site p is then formed as the stats stage forms it (intersection-union over
criteria and alignments, Bonferroni over the multimodal models) and BH over the dataset's 40
electrodes at q = 0.05. Writes ``benchmarks/out/selection_ceiling.tsv`` (one row per SNR and
selection: site recall, each alignment's recall, false sites) and prints it.

Run: ``python benchmarks/selection_ceiling.py --seeds 0 1 2 3 --snrs 0.25 0.5 --jobs 2``
(about 3 min per dataset and core).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from neuroalign.simulate.calibration import encode_event_dataset
from neuroalign.simulate.eventlevel import simulate_event_dataset
from neuroalign.stats.comparisons import bh_fdr, electrode_swap_test, pair_selection

OUT = Path(__file__).resolve().parent / "out"
SELECTIONS = ("pair", "own", "split", "other")
BASELINE = "concat"


def _tested_p(a: np.ndarray, b: np.ndarray, selection: dict, rng) -> np.ndarray:
    _, p = electrode_swap_test(a, b, selection["bins"], 1000, rng)
    return np.where(selection["electrodes"], p, 1.0)


def selection_p(a: np.ndarray, b: np.ndarray, other: np.ndarray, rng) -> dict[str, np.ndarray]:
    """Block-swap p of A > B (n_electrodes,) on the bins of each selection."""
    out = {"pair": _tested_p(a, b, pair_selection(a, b), rng),
           "own": _tested_p(a, b, pair_selection(a, a), rng),
           "other": _tested_p(a, b, pair_selection(other, other), rng)}
    half = np.arange(a.shape[0]) % 2 == 0
    halves = []
    for screen, test in ((half, ~half), (~half, half)):
        sel = pair_selection(a[screen], a[screen])
        halves.append(_tested_p(a[test], b[test], sel, rng))
    out["split"] = np.minimum(1.0, 2 * np.minimum(*halves))
    return out


def run_one(seed: int, snr: float, duration_s: float) -> pd.DataFrame:
    import torch

    from neuroalign.config import validate_config

    torch.set_num_threads(1)
    config = validate_config({"sites": {"linear_baselines": [BASELINE]}, "seed": 0})
    data = simulate_event_dataset(seed, n_electrodes=40, n_bins=25, duration_s=duration_s,
                                  class_frac=(1 / 6, 1 / 6, 1 / 6), snr=snr)
    rng = np.random.default_rng([seed, 7])
    # model_p[selection][model][alignment]: intersection-union p over the model's criteria.
    model_p: dict[str, dict[str, dict[str, np.ndarray]]] = {s: {} for s in SELECTIONS}
    classes = None
    for alignment, ds in data.items():
        enc = encode_event_dataset(ds, config, f"sim{seed}", alignment)
        classes = ds.classes
        sums = {model: e["blockstats"] for (model, init), e in enc.items() if init == "trained"}
        multimodal = sorted(m.name for m in ds.models
                            if m.modality == "multimodal" and m.integrates)
        unimodal = sorted(m.name for m in ds.models if m.modality != "multimodal")
        for m in multimodal:
            other = sums[next(o for o in multimodal if o != m)]
            rivals = {"twin": enc[(m, "random")]["blockstats"], BASELINE: sums[BASELINE],
                      **{u: sums[u] for u in unimodal}}
            per = [selection_p(sums[m], b, other, rng) for b in rivals.values()]
            for s in SELECTIONS:
                iu = np.max(np.stack([p[s] for p in per]), axis=0)
                model_p[s].setdefault(m, {})[alignment] = iu
    rows = []
    for s in SELECTIONS:
        per_model = {m: np.max(np.stack(list(by_a.values())), axis=0)
                     for m, by_a in model_p[s].items()}
        site_p = np.minimum(1.0, len(per_model) * np.min(np.stack(list(per_model.values())),
                                                         axis=0))
        called = bh_fdr(site_p) < 0.05
        planted = classes == "multimodal"
        row = {"seed": seed, "snr": snr, "duration_s": duration_s, "selection": s,
               "n_planted": int(planted.sum()), "n_found": int((called & planted).sum()),
               "n_false": int((called & ~planted).sum())}
        for a in data:
            p_a = np.minimum(1.0, len(per_model) * np.min(
                np.stack([model_p[s][m][a] for m in per_model]), axis=0))
            row[f"n_found_{a}"] = int(((bh_fdr(p_a) < 0.05) & planted).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--snrs", type=float, nargs="+", default=[0.25, 0.5])
    ap.add_argument("--duration", type=float, default=1200.0, help="film length (s)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    tasks = [(seed, snr, args.duration) for snr in args.snrs for seed in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        frames = list(pool.map(run_one, *zip(*tasks, strict=True)))
    rows = pd.concat(frames, ignore_index=True)
    found = [c for c in rows if c.startswith("n_found")]
    table = rows.groupby(["snr", "selection"], sort=False)[["n_planted", *found, "n_false"]].sum()
    for c in found:
        table[c.replace("n_found", "recall")] = (table[c] / table["n_planted"]).round(2)
    args.out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out / "selection_ceiling_datasets.tsv", sep="\t", index=False)
    table.to_csv(args.out / "selection_ceiling.tsv", sep="\t")
    print(table.to_string())
    return table


if __name__ == "__main__":
    main()
