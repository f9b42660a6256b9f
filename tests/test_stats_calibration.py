"""Stats math on synthetic block sums: calibration under the global null, FDR, determinism.

No simulator: responses and two models' predictions are generated directly as AR(1) series
(autocorrelated within blocks, as high-gamma and contextual features are), summed per block
with ``block_sums``, and tested with the stats stage's electrode-level block-swap test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neuroalign.encoding.blockstats import block_sums, r_from_sums
from neuroalign.stats import (
    bh_fdr,
    check_blocks,
    electrode_swap_test,
    min_blocks,
    responsive_bins,
)

N_BLOCKS, BLOCK_LEN, N_EL, N_BINS = 24, 40, 300, 6
N_PERM = 199


def _ar1(rng, n, m, phi=0.8):
    """(n, m) AR(1) series with unit marginal variance."""
    e = rng.standard_normal((n, m)) * np.sqrt(1 - phi ** 2)
    x = np.empty((n, m))
    x[0] = rng.standard_normal(m)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _null_sums(seed):
    """Block sums of two models equally (and weakly) predictive of the same responses.

    Each electrode's bins share one latent driver (so bins are correlated, like real lags);
    both models see it with independent AR(1) noise: Δr = 0 in expectation, A and B
    exchangeable within blocks.
    """
    rng = np.random.default_rng(seed)
    n = N_BLOCKS * BLOCK_LEN
    drive = np.repeat(_ar1(rng, n, N_EL), N_BINS, axis=1)  # (n, N_EL * N_BINS)
    y = 0.3 * drive + _ar1(rng, n, N_EL * N_BINS, 0.7)
    ya = drive + 2 * np.repeat(_ar1(rng, n, N_EL), N_BINS, axis=1)
    yb = drive + 2 * np.repeat(_ar1(rng, n, N_EL), N_BINS, axis=1)
    blocks = np.repeat(np.arange(N_BLOCKS), BLOCK_LEN)
    shape = (N_BLOCKS, 6, N_EL, N_BINS)
    return (block_sums(y, ya, blocks).reshape(shape), block_sums(y, yb, blocks).reshape(shape))


@pytest.fixture(scope="module")
def null_sums():
    return _null_sums(1)


def test_electrode_test_holds_its_level_under_the_null(null_sums):
    sa, sb = null_sums
    bins = np.ones((N_EL, N_BINS), dtype=bool)
    bins[::3, :2] = False  # unequal bin counts per electrode
    _, p = electrode_swap_test(sa, sb, bins, N_PERM, rng=0)
    # 300 electrodes at nominal 5 %: binomial sd = sqrt(.05 * .95 / 300) = 1.26 %; allow
    # 3 sd (5 % +/- 3.8 %) since the electrodes, not the tests, are the unit here.
    rate = float(np.mean(p <= 0.05))
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / N_EL), rate
    # p-values are Monte-Carlo discrete (multiples of 1/200); jitter within a step for KS.
    jitter = np.random.default_rng(2).uniform(0, 1 / (N_PERM + 1), p.size)
    assert stats.kstest(p - jitter, "uniform").pvalue > 0.01
    # Both directions are nulls: A < B equally calibrated.
    _, p_rev = electrode_swap_test(sb, sa, bins, N_PERM, rng=0)
    assert float(np.mean(p_rev <= 0.05)) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / N_EL)


def test_per_target_swap_p_uniform_under_the_null(null_sums):
    sa, sb = null_sums
    # One bin per electrode (bins of one electrode share a driver, so are not independent).
    a, b = sa[:, :, :, :1], sb[:, :, :, :1]
    _, p = electrode_swap_test(a, b, np.ones((N_EL, 1), bool), N_PERM, rng=3)
    jitter = np.random.default_rng(4).uniform(0, 1 / (N_PERM + 1), p.size)
    assert stats.kstest(p - jitter, "uniform").pvalue > 0.01


def test_electrode_test_matches_swapping_blocks_by_hand(null_sums):
    """The vectorised test equals the naive one: swap the chosen blocks' sums, recompute r."""
    sa, sb = null_sums
    bins = np.zeros((N_EL, N_BINS), dtype=bool)
    bins[:, 2] = True
    bins[:5, 4] = True  # a few electrodes average two bins
    n_perm = 99
    d, p, null = electrode_swap_test(sa, sb, bins, n_perm, rng=np.random.default_rng(5),
                                     return_null=True)
    W = np.random.default_rng(5).integers(0, 2, size=(n_perm, N_BLOCKS)).astype(bool)
    for e in (0, 3, 7, 150):
        sel = np.flatnonzero(bins[e])
        a, b = sa[:, :, e, sel], sb[:, :, e, sel]
        obs = np.mean(r_from_sums(a) - r_from_sums(b))
        by_hand = []
        for w in W:
            a_sw, b_sw = np.where(w[:, None, None], b, a), np.where(w[:, None, None], a, b)
            by_hand.append(np.mean(r_from_sums(a_sw) - r_from_sums(b_sw)))
        by_hand = np.array(by_hand)
        np.testing.assert_allclose(d[e], obs, atol=1e-12)
        np.testing.assert_allclose(null[:, e], by_hand, atol=1e-10)
        assert p[e] == (1 + np.sum(by_hand >= obs - 1e-12)) / (1 + n_perm)


def test_electrode_test_detects_a_better_model_and_is_deterministic(null_sums):
    sa, sb = null_sums
    rng = np.random.default_rng(6)
    n = N_BLOCKS * BLOCK_LEN
    drive = _ar1(rng, n, 4)
    y = drive + _ar1(rng, n, 4, 0.5)
    blocks = np.repeat(np.arange(N_BLOCKS), BLOCK_LEN)
    good = block_sums(y, drive + 0.5 * rng.standard_normal((n, 4)), blocks)[..., None]
    bad = block_sums(y, drive + 3 * rng.standard_normal((n, 4)), blocks)[..., None]
    bins = np.ones((4, 1), dtype=bool)
    d1, p1 = electrode_swap_test(good, bad, bins, 499, rng=np.random.SeedSequence(7))
    d2, p2 = electrode_swap_test(good, bad, bins, 499, rng=np.random.SeedSequence(7))
    assert np.all(d1 > 0) and np.all(p1 <= 0.01)
    np.testing.assert_array_equal(p1, p2)
    # Batching over electrodes does not change the answer.
    allbins = np.ones((N_EL, N_BINS), dtype=bool)
    _, pa = electrode_swap_test(sa, sb, allbins, 49, rng=1, n_targets_batch=7)
    _, pb = electrode_swap_test(sa, sb, allbins, 49, rng=1)
    np.testing.assert_array_equal(pa, pb)


def test_electrodes_without_bins_are_not_tested(null_sums):
    sa, sb = null_sums
    bins = np.zeros((N_EL, N_BINS), dtype=bool)
    bins[0, :3] = True
    d, p = electrode_swap_test(sa, sb, bins, 19, rng=0)
    assert np.isfinite(p[0]) and np.isnan(p[1:]).all() and np.isnan(d[1:]).all()


def test_responsive_bins_pool_models_in_one_fdr():
    rng = np.random.default_rng(0)
    names = [f"e{i}" for i in range(50)]
    p_null = rng.uniform(size=(50, 20))
    p_hit = p_null.copy()
    p_hit[:5, :12] = 0.001  # electrodes 0-4 respond in 12 bins, for model "b" only
    res = responsive_bins({"a": {"p": p_null, "electrodes": names},
                           "b": {"p": p_hit, "electrodes": names}}, fdr_q=0.05, min_bins=10)
    assert res["models"] == ["a", "b"] and res["q"].shape == (2, 50, 20)
    np.testing.assert_allclose(res["q"].ravel(), bh_fdr(np.stack([p_null, p_hit])).ravel())
    assert res["electrodes"][:5].all() and not res["electrodes"][5:].any()
    assert (res["n_bins"][:5] >= 12).all()
    with pytest.raises(ValueError, match="different electrodes"):
        responsive_bins({"a": {"p": p_null, "electrodes": names},
                         "b": {"p": p_null, "electrodes": names[::-1]}})


def test_too_few_blocks_says_the_minimum():
    assert min_blocks(1000) == 10 and min_blocks(100) == 7
    check_blocks(10, 1000)
    with pytest.raises(ValueError, match=r"5 blocks .*2\*\*5 = 32 .*at least 10 blocks"):
        check_blocks(5, 1000, "enc.h5")
