"""How much site recall a better bin selection could buy, on the planted event-level scenario.

For each planted dataset (``benchmarks/calibration.py``'s ``planted`` scenario: 40 electrodes
x 25 bins, 1/6 of each class, a 20-min film by default), every comparison of the site claim
(each multimodal model against its random twin, the four unimodal models and ``concat``) is
tested by the stats stage's block-swap test, with the stats stage's random streams, on the
bins of five selections:

``pair``    the stats stage's own: ``pair_selection`` of the tested pair (exact). Its site p is
            checked against ``compute_stats`` on the same encodings;
``oracle``  the planted multimodal electrodes and the bins where the planted kernel is above
            half its peak: chosen from the ground truth, not the data, so the test is exact;
            what a perfect selection would give;
``own``     the multimodal model's own covariance screen on all blocks (``pair_selection`` of
            the model with itself). Not valid: the swap moves what chose the bins, in the
            model's favour;
``split``   the model's own screen on the even blocks, its test on the odd blocks, and the
            other way round, Bonferroni over the two halves (exact);
``other``   the screen of the other integrating multimodal model. Exact only if swapping the
            tested pair leaves the three models' predictions exchangeable; the other model
            shares the tested one's integrating features (and so can share its chance fits),
            so that is not shown.

Each electrode's site p is then formed as the stats stage forms it (intersection-union over
criteria and alignments, Bonferroni over the multimodal models) and BH over the dataset's 40
electrodes at q = 0.05. Writes ``benchmarks/out/selection_ceiling.tsv`` (one row per SNR and
selection: site recall, each alignment's recall, the planted electrodes each alignment tested
on every criterion, false sites) and prints it.

Run: ``python benchmarks/selection_ceiling.py --seeds 0 1 2 3 --snrs 0.25 0.5 --jobs 2``
(8 datasets: 4-5 min on 2 cores).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from neuroalign.simulate.calibration import encode_event_dataset
from neuroalign.simulate.eventlevel import response_kernel, simulate_event_dataset
from neuroalign.stats.build import compute_stats
from neuroalign.stats.comparisons import (
    bh_fdr,
    electrode_swap_test,
    pair_selection,
    stats_seed,
)
from neuroalign.stats.sites import CRITERIA

OUT = Path(__file__).resolve().parent / "out"
SELECTIONS = ("pair", "oracle", "own", "split", "other")
BASELINE = "concat"
N_PERMUTATIONS = 1000  # the default stats.n_permutations


def _tested_p(a: np.ndarray, b: np.ndarray, selection: dict, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)  # the same swaps for every selection
    _, p = electrode_swap_test(a, b, selection["bins"], N_PERMUTATIONS, rng)
    return np.where(selection["electrodes"], p, 1.0)


def selection_p(a: np.ndarray, b: np.ndarray, other: np.ndarray, oracle: dict,
                seed) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(p of A > B, tested electrodes), each (n_electrodes,), for each selection."""
    out = {}
    for name, sel in (("pair", pair_selection(a, b)), ("oracle", oracle),
                      ("own", pair_selection(a, a)), ("other", pair_selection(other, other))):
        out[name] = (_tested_p(a, b, sel, seed), sel["electrodes"])
    half = np.arange(a.shape[0]) % 2 == 0
    halves, tested = [], []
    for screen, test in ((half, ~half), (~half, half)):
        sel = pair_selection(a[screen], a[screen])
        halves.append(_tested_p(a[test], b[test], sel, seed))
        tested.append(sel["electrodes"])
    out["split"] = (np.minimum(1.0, 2 * np.minimum(*halves)), tested[0] | tested[1])
    return out


def run_one(seed: int, snr: float, duration_s: float) -> pd.DataFrame:
    import torch

    from neuroalign.config import validate_config

    torch.set_num_threads(1)
    config = validate_config({"sites": {"linear_baselines": [BASELINE]}, "seed": 0})
    data = simulate_event_dataset(seed, n_electrodes=40, n_bins=25, duration_s=duration_s,
                                  class_frac=(1 / 6, 1 / 6, 1 / 6), snr=snr)
    subject = f"sim{seed}"
    # model_p[selection][model][alignment]: intersection-union p over the model's criteria;
    # tested[...]: the electrodes on which every criterion was tested.
    model_p: dict[str, dict[str, dict[str, np.ndarray]]] = {s: {} for s in SELECTIONS}
    tested: dict[str, dict[str, dict[str, np.ndarray]]] = {s: {} for s in SELECTIONS}
    encodings = {}
    for alignment, ds in data.items():
        enc = encodings[alignment] = encode_event_dataset(ds, config, subject, alignment)
        classes = ds.classes
        planted = classes == "multimodal"
        oracle_bins = planted[:, None] & (response_kernel(ds.bin_offsets_s) > 0.5)[None, :]
        oracle = {"bins": oracle_bins, "electrodes": planted}
        sums = {model: e["blockstats"] for (model, init), e in enc.items() if init == "trained"}
        # Every multimodal model counts in the Bonferroni, as in the stats stage.
        multimodal = sorted(m.name for m in ds.models if m.modality == "multimodal")
        integrating = sorted(m.name for m in ds.models
                             if m.modality == "multimodal" and m.integrates)
        modality = {m.name: m.modality for m in ds.models}
        unimodal = sorted(m for m, kind in modality.items() if kind != "multimodal")
        for m in multimodal:
            other = sums[next(o for o in integrating if o != m)]
            rivals = [("trained-vs-random", f"{m}/random", enc[(m, "random")]["blockstats"]),
                      (f"multimodal-vs-{BASELINE}", BASELINE, sums[BASELINE])]
            rivals += [(CRITERIA[modality[u]], u, sums[u]) for u in unimodal]
            per = [selection_p(sums[m], b, other, oracle,
                               stats_seed(0, subject, alignment, comparison, m, name))
                   for comparison, name, b in rivals]
            for s in SELECTIONS:
                model_p[s].setdefault(m, {})[alignment] = np.max(
                    np.stack([p[s][0] for p in per]), axis=0)
                tested[s].setdefault(m, {})[alignment] = np.all(
                    np.stack([p[s][1] for p in per]), axis=0)
    rows = []
    for s in SELECTIONS:
        per_model = {m: np.max(np.stack(list(by_a.values())), axis=0)
                     for m, by_a in model_p[s].items()}
        site_p = np.minimum(1.0, len(per_model) * np.min(np.stack(list(per_model.values())),
                                                         axis=0))
        if s == "pair":  # the same p as the stats stage's
            _, sites = compute_stats(config, subject, encodings)
            np.testing.assert_allclose(site_p, sites["p_site"].to_numpy(), rtol=0, atol=1e-12)
        called = bh_fdr(site_p) < 0.05
        row = {"seed": seed, "snr": snr, "duration_s": duration_s, "selection": s,
               "n_planted": int(planted.sum()), "n_found": int((called & planted).sum()),
               "n_false": int((called & ~planted).sum())}
        for a in data:
            p_a = np.minimum(1.0, len(per_model) * np.min(
                np.stack([model_p[s][m][a] for m in per_model]), axis=0))
            row[f"n_found_{a}"] = int(((bh_fdr(p_a) < 0.05) & planted).sum())
            any_tested = np.any(np.stack([tested[s][m][a] for m in per_model]), axis=0)
            row[f"n_tested_{a}"] = int((any_tested & planted).sum())
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
    tested = [c for c in rows if c.startswith("n_tested")]
    table = rows.groupby(["snr", "selection"], sort=False)[
        ["n_planted", *found, *tested, "n_false"]].sum()
    for c in found:
        table[c.replace("n_found", "recall")] = (table[c] / table["n_planted"]).round(2)
    args.out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out / "selection_ceiling_datasets.tsv", sep="\t", index=False)
    table.to_csv(args.out / "selection_ceiling.tsv", sep="\t")
    print(table.to_string())
    return table


if __name__ == "__main__":
    main()
