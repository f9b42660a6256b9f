"""Error control of the electrode-level claims on generated data with realistic structure.

Each dataset: 40 electrodes x 12 time bins, two alignments (independent event sets of 450
events, one every 2 s over 900 s, 30 s blocks). The stimulus has scene structure: shots of
2-8 s nested in scenes of 60-180 s; every latent (vision V, language L, and a low-level one
that only the random twins see) is a per-scene component plus a per-shot component, so every
model's features drift on the scene time scale. Responses carry slow drift (``slow_drift``,
30-180 s time constants, amplitude equal to the noise) plus noise shared across an
electrode's bins. Drift is put in the responses only: drift in the features *and* the
responses together is the encoding stage's job (slow-component removal, another change).

Models, all fitted with the package's own ``cross_fitted_predictions`` and scored with
``block_sums`` / ``permutation_p``: two vision models (noisy projections of V), two language
models (of L), eight multimodal models of which four carry V, L and their interaction V*L
and four carry only V (they tie the best vision model), the linear baselines (concat of the
first vision and language models; banded stands in as concat of the second ones), and a
random twin of every model (features of the low-level latent, same scene structure).

Electrodes: half null; the other half planted, a third each vision (responds to V), language
(L) and multimodal (V, L and V*L), with SNR (SD of the stimulus drive over the SD of the
noise, at the peak bin; drift not counted) drawn in 0.4-0.8 per electrode: at 0.12-0.25 on
this scale (600 events) almost nothing passes the selection, so no claim is exercised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neuroalign.encoding.blockstats import (
    block_sums,
    permutation_p,
    r_from_sums,
    residual_block_autocorr,
)
from neuroalign.encoding.ridge import cross_fitted_predictions
from neuroalign.simulate.drift import slow_drift
from neuroalign.stats.comparisons import bh_fdr, electrode_swap_test, responsive_bins
from neuroalign.stats.sites import (
    assign_classes,
    claim_columns,
    classify_alignment,
    combine_alignments,
    compare_alignment,
    q_column,
)

# 2,000 swaps: with Bonferroni over 8 models the smallest site p is 8 / 2,001; at the
# default 1,000 the BH threshold over 40 electrodes could hardly be reached (README).
N_EL, N_BINS, N_PERM, N_PERM_R, MIN_BINS = 40, 12, 2000, 500, 4
N_DATASETS, N_SITE_DATASETS = 8, 3
DRIFT_SD = 0.5  # slow drift's SD relative to the noise's
# Slow components (periods >= 120 s) regressed out of the responses before fitting, as the
# issue measured restores the tests' level under drift; None measures without it.
DETREND_S: float | None = 120.0
ALIGNMENTS = ("language", "vision")
VISION, LANGUAGE = ["vis-a", "vis-b"], ["lang-a", "lang-b"]
MULTI_GOOD = [f"multi-{i}" for i in range(4)]
MULTI_TIE = [f"multi-tie-{i}" for i in range(4)]
ROLES = {"vision": VISION, "language": LANGUAGE, "multimodal": MULTI_GOOD + MULTI_TIE,
         "baselines": ["concat", "banded"]}


def _scene_latent(times, rng, d, scene_w=0.5):
    """Per-scene + per-shot components (scenes 60-180 s, shots 2-8 s) at ``times``."""
    t_end = times.max() + 1
    scenes = np.cumsum(rng.uniform(60, 180, size=int(t_end / 60) + 2))
    shots = np.cumsum(rng.uniform(2, 8, size=int(t_end / 2) + 2))
    scene_of, shot_of = np.searchsorted(scenes, times), np.searchsorted(shots, times)
    z = (scene_w * rng.standard_normal((scenes.size + 1, d))[scene_of]
         + np.sqrt(1 - scene_w ** 2) * rng.standard_normal((shots.size + 1, d))[shot_of])
    return (z - z.mean(0)) / z.std(0)


def _remove_slow(Y, times, cutoff_s):
    """Regress a DCT basis of periods >= ``cutoff_s`` out of ``Y`` (stand-in for the encoding
    stage's slow-component removal, which another change adds)."""
    span = times.max() - times.min()
    k = int(2 * span / cutoff_s)
    u = (times - times.min()) / span
    B = np.cos(np.pi * np.outer(u, np.arange(k + 1)))
    return Y - B @ np.linalg.lstsq(B, Y, rcond=None)[0]


def _features(latent, rng, d_out=12, noise=0.3):
    x = latent @ rng.standard_normal((latent.shape[1], d_out)) / np.sqrt(latent.shape[1])
    return x + noise * rng.standard_normal(x.shape)


def _alignment(rng, kinds, snr, n_events=600, block_s=30.0):
    times = np.sort(rng.uniform(0, 900, n_events))
    blocks = (times // block_s).astype(int)
    V, L, R = (_scene_latent(times, rng, 4) for _ in range(3))
    VL = V[:, :2] * L[:, :2]
    feats = {m: [_features(V, rng)] for m in VISION}
    feats.update({m: [_features(L, rng)] for m in LANGUAGE})
    feats.update({m: [np.hstack([_features(V, rng, 8), _features(L, rng, 8),
                                 _features(VL, rng, 6)])] for m in MULTI_GOOD})
    feats.update({m: [_features(V, rng)] for m in MULTI_TIE})
    feats["concat"] = [np.hstack([feats[VISION[0]][0], feats[LANGUAGE[0]][0]])]
    feats["banded"] = [np.hstack([feats[VISION[1]][0], feats[LANGUAGE[1]][0]])]
    twins = {m: [_features(R, rng, f[0].shape[1])] for m, f in feats.items()
             if m not in ("concat", "banded")}
    profile = np.exp(-0.5 * ((np.arange(N_BINS) - 5.5) / 4.0) ** 2)  # response over bins
    Y = np.empty((n_events, N_EL, N_BINS))
    drift = slow_drift(times, rng, N_EL, tau_s=(30, 180))
    drift /= drift.std(0)
    for e, kind in enumerate(kinds):
        noise = (np.sqrt(0.6) * rng.standard_normal((n_events, 1))
                 + np.sqrt(0.4) * rng.standard_normal((n_events, N_BINS)))
        y = noise + DRIFT_SD * drift[:, e:e + 1]
        if kind != "null":
            parts = {"vision": [V], "language": [L], "multimodal": [V, L, 2 * VL]}[kind]
            s = np.hstack(parts) @ rng.standard_normal(sum(p.shape[1] for p in parts))
            y = y + snr[e] * (s / s.std())[:, None] * profile
        Y[:, e] = y
    Y2 = Y.reshape(n_events, -1)
    if DETREND_S:
        Y2 = _remove_slow(Y2, times, DETREND_S)
    names = [f"e{i:02d}" for i in range(N_EL)]
    out = {}
    for init, group in (("trained", feats), ("random", twins)):
        for m, X in group.items():
            fit = cross_fitted_predictions(X, Y2, blocks, alphas=(10, 100, 1e3, 1e4))
            sums = block_sums(Y2, fit.y_hat, blocks)
            p = permutation_p(Y2, fit.y_hat, blocks, n_permutations=N_PERM_R,
                              rng=int(rng.integers(2 ** 31)))
            p = p[0] if isinstance(p, tuple) else p
            out[(m, init)] = {
                "blockstats": sums.reshape(sums.shape[0], 6, N_EL, N_BINS),
                "r": r_from_sums(sums).reshape(N_EL, N_BINS),
                "p": np.asarray(p).reshape(N_EL, N_BINS),
                "residual_autocorr": residual_block_autocorr(sums).reshape(N_EL, N_BINS),
                "electrodes": names, "attrs": {}}
    return out


def simulate_claims(seed: int, frac_planted: float = 0.5, fdr_q: float = 0.05,
                    snr_range: tuple[float, float] = (0.4, 0.8), n_events: int = 600,
                    n_permutations: int = N_PERM, all_bins: bool = True
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One generated dataset through the stats functions: its sites table with the truth
    (``truth``, ``dataset`` columns) and its trained-vs-random comparisons (``truth``)."""
    rng = np.random.default_rng([seed, 2026])
    n_planted = int(round(frac_planted * N_EL))
    kinds = ["null"] * (N_EL - n_planted) + [("vision", "language", "multimodal")[i % 3]
                                             for i in range(n_planted)]
    kinds = list(rng.permutation(kinds))
    snr = rng.uniform(*snr_range, N_EL)
    tables, model_p, resp_p, comps = {}, {}, {}, []
    for a in ALIGNMENTS:
        encs = _alignment(rng, kinds, snr, n_events)
        trained = {m: e for (m, i), e in encs.items() if i == "trained"}
        random = {m: e for (m, i), e in encs.items() if i == "random"}
        responsive = responsive_bins(trained, fdr_q, MIN_BINS)
        comp = compare_alignment(trained, random, ROLES, a, n_permutations=n_permutations,
                                 fdr_q=fdr_q,
                                 min_bins=MIN_BINS, seed=seed, subject="s")
        comps.append(comp)
        tables[a], model_p[a], resp_p[a] = classify_alignment(comp, trained, random, ROLES,
                                                              responsive, a)
        # Unselected swap p over all bins, both directions, for the uniformity check.
        for m in (VISION + LANGUAGE) if all_bins else []:
            for d, (x, y) in (("fwd", (trained[m], random[m])), ("rev", (random[m], trained[m]))):
                _, p = electrode_swap_test(x["blockstats"], y["blockstats"],
                                           np.ones((N_EL, N_BINS), bool), N_PERM,
                                           np.random.default_rng([seed, len(comps), len(m)]))
                tables[a][f"{a}_allbins_{d}_{m}"] = p
    sites = pd.concat([combine_alignments(model_p, tables, resp_p), *tables.values()], axis=1)
    for col in claim_columns(list(ALIGNMENTS)):
        sites[q_column(col)] = bh_fdr(sites[col].to_numpy(np.float64))
    sites = pd.concat([assign_classes(sites, list(ALIGNMENTS), fdr_q), sites], axis=1)
    sites["truth"] = kinds
    sites["dataset"] = seed
    comp = pd.concat(comps, ignore_index=True)
    twin = comp[comp["comparison"] == "trained-vs-random"].copy()
    twin["truth"] = twin["electrode"].map(dict(zip(sites.index, kinds, strict=True)))
    return sites, twin


@pytest.fixture(scope="module")
def site_runs():
    # Stronger planted electrodes and 5,000 swaps: with Bonferroni over 8 models the site p
    # cannot go below 8 / 5,001, and BH over 40 electrodes needs several at that floor.
    return pd.concat([simulate_claims(1000 + seed, snr_range=(0.8, 1.6), n_permutations=5000,
                                      all_bins=False)[0] for seed in range(N_SITE_DATASETS)])


@pytest.fixture(scope="module")
def runs():
    out = [simulate_claims(seed) for seed in range(N_DATASETS)]
    return (pd.concat([s for s, _ in out]),
            pd.concat([t.assign(dataset=i) for i, (_, t) in enumerate(out)]))


def test_nulls_rarely_beat_their_twin_or_get_a_unimodal_class(runs):
    sites, twin = runs
    nulls = sites[sites["truth"] == "null"]
    # "trained > random" on a null electrode: any unimodal model's twin test, per-subject q.
    null_twin = twin[(twin["truth"] == "null") & twin["model_a"].isin(VISION + LANGUAGE)]
    called = null_twin[null_twin["q"] < 0.05].groupby(["dataset", "alignment", "electrode"])
    n_null_tests = len(nulls) * len(ALIGNMENTS)
    rate_twin = called.ngroups / n_null_tests
    rate_uni = float(nulls["class"].isin(["vision", "language"]).mean())
    print(f"{len(nulls)} null electrodes x {len(ALIGNMENTS)} alignments: "
          f"trained > random {rate_twin:.4f}, vision/language class {rate_uni:.4f}")
    # Targets 1 %; binomial margin for n ~ 500-1,000 at 1 %: P(X > 2 %) < 0.01.
    assert rate_twin <= 0.02
    assert rate_uni <= 0.02
    # Power is not given away: most planted unimodal electrodes get their class.
    for kind in ("vision", "language"):
        planted = sites[sites["truth"] == kind]
        recall = float((planted["class"] == kind).mean())
        print(f"{kind} recall {recall:.2f} (n={len(planted)})")
        assert recall >= 0.5


def test_site_fdp_with_eight_models_half_tying_the_best_unimodal(site_runs):
    sites = site_runs
    # Every multimodal call: the site (both alignments) and each one-alignment claim.
    calls = pd.concat([sites.loc[sites["class"] == "multimodal", "truth"]]
                      + [sites.loc[sites[f"{a}_class"] == "multimodal", "truth"]
                         for a in ALIGNMENTS])
    fdp = float((calls != "multimodal").mean()) if len(calls) else 0.0
    planted = sites[sites["truth"] == "multimodal"]
    print(f"multimodal calls {len(calls)} (sites {int((sites['class'] == 'multimodal').sum())}),"
          f" FDP {fdp:.3f}, site recall {float((planted['class'] == 'multimodal').mean()):.2f}, "
          f"any-alignment recall "
          f"{float(planted['class'].str.startswith('multimodal').mean()):.2f} (n={len(planted)})")
    assert len(calls) >= 5  # the claim is strict (IUT, Bonferroni x 8 models), not empty
    assert fdp <= 0.05
    # The tying models never carry a call: their intersection-union p fails vs vision.
    for a in ALIGNMENTS:
        shown = sites.loc[sites[f"{a}_class"] == "multimodal", f"{a}_model"]
        assert not shown.isin(MULTI_TIE).any()


def test_electrode_swap_p_is_uniform_under_the_null_in_both_directions(runs):
    sites, twin = runs
    nulls = sites[sites["truth"] == "null"]
    for d in ("fwd", "rev"):
        p = np.concatenate([nulls[f"{a}_allbins_{d}_{m}"].to_numpy() for a in ALIGNMENTS
                            for m in VISION + LANGUAGE])
        ks = stats.kstest(p, "uniform").pvalue
        print(f"all-bins swap p, {d}: n={p.size}, P(p<.05)={np.mean(p < 0.05):.3f}, KS p={ks:.3f}")
        # Issue #12 target (a): P(p < .05) <= 0.06 in each direction. Slightly conservative
        # here (KS p ~ 0.002 seen, 2.6-4.8 % below .05), which costs power, not validity.
        assert np.mean(p < 0.05) <= 0.06
        assert np.mean(p < 0.5) >= 0.4  # not degenerate (all p = 1 would pass the above)
    # Conditionally on the invariant selection the test is exact: selected null electrodes'
    # trained-vs-random p are not pulled towards 0.
    sel = twin[(twin["truth"] == "null") & twin["model_a"].isin(VISION + LANGUAGE)]
    print(f"selected null twin tests: n={len(sel)}, P(p<.05)={np.mean(sel['p'] < 0.05):.3f}")
    assert len(sel) >= 20
    assert np.mean(sel["p"] < 0.05) <= 0.08  # binomial margin for n ~ 50 at 5 %
