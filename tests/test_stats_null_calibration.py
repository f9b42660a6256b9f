"""Global-null calibration of the whole chain: simulator -> data -> features -> encoding -> stats.

Twelve `tiny` datasets (one subject, 150 s, snr = 0: every electrode is null, with the
simulator's autocorrelated pink/high-gamma noise and scene/sentence-structured latents), the
sim-* controls as models, 10 s blocks. Checked, as issue #5 and docs/DESIGN.md §6 ask:

- per-target permutation p of r > 0, pooled over datasets, models and targets, is uniform
  (KS p > 0.01) — here with electrodes' bins as the unit, since the 81 bins of an electrode
  are strongly correlated (a KS test on correlated values overstates its evidence);
- electrode-level paired block-swap p (trained vs random twin, mean Δr over all bins) is
  uniform (KS p > 0.01);
- at most 5 % of datasets yield any multimodal site; with 12 datasets the margin is 2
  datasets (P(X >= 3 | n = 12, p = 0.05) = 0.02).

A second set of twelve null datasets (450 s movies) runs at the default 30 s blocks and checks
that the tests hold their level there (per-target false-positive rate within its binomial
bound, electrode-level p uniform, at most 2 datasets flagging a site).

Seen (10 s blocks; 2 cores, 9.5 min): per-target p n=2,586, KS p=0.050, P(p<0.05)=0.045; electrode-level
p n=2,586, KS p=0.021, P(p<0.05)=0.050; 0/20 datasets flag a site (0 a one-alignment site).
With ordinary K-fold training (encoding.training: all) ~11 % of null targets had p < 0.05.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neuroalign.encoding.build import read_encoding
from neuroalign.simulate.validation import CONTROLS, run_control_chain
from neuroalign.stats.comparisons import electrode_swap_test

# 20 until 2026-12-01; the suite's many-dataset calibration is now event level
# (test_calibration_eventlevel.py), this one checks the whole chain on the simulator.
N_DATASETS = 12


def _null_dataset(root, seed: int, block_s: float = 10.0, duration_s: float = 150.0) -> dict:
    run = run_control_chain(root, seed=seed, snr=0.0, duration_s=duration_s,
                            config={"events": {"block_s": block_s},
                                    "stats": {"n_bootstrap": 10, "n_permutations": 500}})
    target_p, electrode_p, autocorr = [], [], []
    for path in run["encodings"]:
        model, init = path.parent.parent.name, path.parent.name
        if model not in CONTROLS or init != "trained":
            continue
        trained, random = read_encoding(path), read_encoding(path.parent.parent / "random"
                                                             / path.name)
        # One bin per electrode (its middle one): bins of an electrode are not independent.
        target_p.append(trained["p"][:, trained["p"].shape[1] // 2])
        autocorr.append(trained["residual_autocorr"].ravel())
        _, p = electrode_swap_test(trained["blockstats"], random["blockstats"],
                                   np.ones(trained["p"].shape, bool), 500,
                                   np.random.default_rng([seed, len(electrode_p)]))
        electrode_p.append(p)
    sites = pd.read_parquet(run["sites"])
    return {"target_p": np.concatenate(target_p), "electrode_p": np.concatenate(electrode_p),
            "autocorr": np.concatenate(autocorr),
            "n_multimodal": int((sites["class"] == "multimodal").sum()),
            "n_multimodal_one": int(sites["class"].str.startswith("multimodal-").sum())}


@pytest.fixture(scope="module")
def null_runs(tmp_path_factory):
    return [_null_dataset(tmp_path_factory.mktemp(f"null{seed}"), seed)
            for seed in range(N_DATASETS)]


@pytest.mark.slow
def test_global_null_p_values_are_uniform(null_runs):
    target_p = np.concatenate([r["target_p"] for r in null_runs])
    electrode_p = np.concatenate([r["electrode_p"] for r in null_runs])
    ks_t, ks_e = stats.kstest(target_p, "uniform"), stats.kstest(electrode_p, "uniform")
    print(f"per-target p: n={target_p.size}, KS p={ks_t.pvalue:.3f}, "
          f"P(p<0.05)={np.mean(target_p < 0.05):.3f}; electrode-level p: n={electrode_p.size}, "
          f"KS p={ks_e.pvalue:.3f}, P(p<0.05)={np.mean(electrode_p < 0.05):.3f}")
    autocorr = np.concatenate([r["autocorr"] for r in null_runs])
    print(f"residual block autocorrelation (lag 1, 10 s blocks): mean {np.nanmean(autocorr):+.3f}, "
          f"flagged > 0.1: {np.nanmean(autocorr > 0.1):.2f} (chance level with ~15 blocks)")
    assert ks_t.pvalue > 0.01
    # Electrode-level swap p must hold its level; it need not be uniform: since the 90 s
    # high-pass (encoding.highpass_s) it is conservative here (seen 2026-12-01: 3.6 % of
    # 1,536 below 0.05, KS p < 0.001).
    for alpha in (0.05, 0.1):
        bound = alpha + 2.33 * np.sqrt(alpha * (1 - alpha) / electrode_p.size)
        assert np.mean(electrode_p < alpha) <= bound, alpha


@pytest.mark.slow
def test_global_null_datasets_rarely_flag_a_site(null_runs):
    flagged = sum(r["n_multimodal"] > 0 for r in null_runs)
    one = sum(r["n_multimodal_one"] > 0 for r in null_runs)
    print(f"{flagged}/{len(null_runs)} null datasets flag a multimodal site "
          f"({one} flag a one-alignment site)")
    assert flagged <= 2


# The default 30 s blocks need longer movies: 450 s gives 15 blocks (2**15 swap patterns).
# Seen (2 cores, ~10 min): per-target p n=2,586, P(p<0.05)=0.055 but KS p < 0.001 — skewed
# towards 1 (conservative) in the language alignment, see README "Methods of the stats stage";
# electrode-level p KS p=0.43, P(p<0.05)=0.056; 0/20 datasets flag a site.
@pytest.fixture(scope="module")
def null_runs_default_blocks(tmp_path_factory):
    return [_null_dataset(tmp_path_factory.mktemp(f"null30s{seed}"), seed, block_s=30.0,
                          duration_s=450.0) for seed in range(N_DATASETS)]


@pytest.mark.slow
def test_default_block_length_holds_its_level(null_runs_default_blocks):
    runs = null_runs_default_blocks
    target_p = np.concatenate([r["target_p"] for r in runs])
    electrode_p = np.concatenate([r["electrode_p"] for r in runs])
    level = np.mean(target_p < 0.05)
    # One-sided 99 % binomial bound on the false-positive rate of a level-0.05 test.
    bound = 0.05 + 2.33 * np.sqrt(0.05 * 0.95 / target_p.size)
    ks_e = stats.kstest(electrode_p, "uniform")
    flagged = sum(r["n_multimodal"] > 0 for r in runs)
    print(f"30 s blocks: per-target P(p<0.05)={level:.3f} (bound {bound:.3f}, "
          f"KS p={stats.kstest(target_p, 'uniform').pvalue:.2g}); electrode-level KS "
          f"p={ks_e.pvalue:.3f}, P(p<0.05)={np.mean(electrode_p < 0.05):.3f}; "
          f"{flagged}/{len(runs)} datasets flag a site")
    assert level <= bound
    e_bound = 0.05 + 2.33 * np.sqrt(0.05 * 0.95 / electrode_p.size)
    assert np.mean(electrode_p < 0.05) <= e_bound  # level, not uniformity (see above)
    assert flagged <= 2
