"""Error rates of the reported claims on realistic event-level data (suite version).

The suite's small version of ``benchmarks/calibration.py`` (whose 100-dataset tables are in
the README): datasets from ``neuroalign.simulate.eventlevel`` — shots nested in 1-3 min
scenes that every network's features follow, slow drifts (30-180 s) in every response and in
the features of some trained models, interictal-like spikes on 15 % of electrodes, mostly
null electrodes, two vision, two language and two multimodal models — run through the
encoding and stats stages in memory with the default configuration.

Bounds: each rate is asserted against the one-sided 99 % binomial upper limit of its target
(a calibrated procedure fails the assertion with probability < 1 %); the counts are printed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neuroalign.config import validate_config
from neuroalign.simulate.calibration import run_event_chain
from neuroalign.simulate.eventlevel import simulate_event_dataset
from neuroalign.stats.comparisons import electrode_swap_test

N_DATASETS = 8
SIZE = dict(duration_s=600.0, n_electrodes=24, n_bins=12)


def _upper(target: float, n: int) -> int:
    """Largest count still consistent (one-sided, 99 %) with a rate of at most ``target``."""
    return int(stats.binom.ppf(0.99, n, target))


@pytest.fixture(scope="module")
def config():
    return validate_config({"sites": {"linear_baselines": ["concat"]}, "seed": 0})


@pytest.fixture(scope="module")
def null_runs(config):
    runs = []
    for seed in range(N_DATASETS):
        data = simulate_event_dataset(100 + seed, snr=0.0, **SIZE)
        runs.append(run_event_chain(data, config, subject=f"null{seed}"))
    return runs


@pytest.fixture(scope="module")
def partial_runs(config):
    runs = []
    for seed in range(N_DATASETS):
        snr = float(np.random.default_rng(seed).uniform(0.12, 0.25))
        data = simulate_event_dataset(200 + seed, snr=snr, class_frac=(1 / 6, 1 / 6, 1 / 6),
                                      **SIZE)
        runs.append(run_event_chain(data, config, subject=f"partial{seed}"))
    return runs


def test_null_per_target_and_swap_tests_hold_their_level(null_runs):
    target_p, ab, ba = [], [], []
    for i, run in enumerate(null_runs):
        for encs in run["encodings"].values():
            for (model, init), enc in encs.items():
                if init != "trained" or (model, "random") not in encs:
                    continue
                # One bin per electrode: the bins of an electrode are strongly correlated.
                target_p.append(enc["p"][:, enc["p"].shape[1] // 2])
                rnd = encs[(model, "random")]["blockstats"]
                bins = np.ones(enc["p"].shape, bool)
                g = np.random.default_rng([i, len(ab)])
                ab.append(electrode_swap_test(enc["blockstats"], rnd, bins, 500, g)[1])
                ba.append(electrode_swap_test(rnd, enc["blockstats"], bins, 500, g)[1])
    for label, p in (("per-target r > 0", target_p), ("swap trained > random", ab),
                     ("swap random > trained", ba)):
        p = np.concatenate(p)
        k = int((p < 0.05).sum())
        print(f"{label}: {k}/{p.size} = {k / p.size:.3f} below 0.05")
        # Electrodes of one dataset share the film: count datasets x models x electrodes,
        # but bound at the 6 % the issue allows.
        assert k <= _upper(0.06, p.size), label


def test_null_datasets_claim_nothing(null_runs):
    claimed = [int(run["sites"]["class"].isin(["multimodal", "vision", "language"]).sum())
               for run in null_runs]
    print(f"electrodes with a site or unimodal class per null dataset: {claimed}")
    # Site-level FDR at 5 % under the complete null: P(any claim) <= 0.05 per dataset.
    assert sum(c > 0 for c in claimed) <= _upper(0.05, len(null_runs))


def test_partial_null_no_false_unimodal_or_trained_claims(partial_runs):
    n_null = false_cls = false_tvr = 0
    for run in partial_runs:
        truth = run["classes"]
        sites = run["sites"].set_index("electrode")["class"]
        nulls = [e for e, c in truth.items() if c == "null"]
        n_null += len(nulls)
        false_cls += int(sites.loc[nulls].isin(["vision", "language", "multimodal"]).sum())
        comp = run["comparisons"]
        sig = comp[(comp["comparison"] == "trained-vs-random") & comp["significant"]]
        false_tvr += len(set(sig["electrode"]) & set(nulls))
    print(f"null electrodes: {n_null}; falsely classed {false_cls}; false trained > random "
          f"{false_tvr}")
    assert false_cls <= _upper(0.01, n_null)
    assert false_tvr <= _upper(0.01, n_null)
