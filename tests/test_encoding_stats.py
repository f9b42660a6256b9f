"""Block statistics: r from sums, bootstrap coverage, permutation and swap calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.signal import lfilter

from neuroalign.encoding import (
    block_sums,
    bootstrap_ci,
    permutation_p,
    r_from_sums,
    residual_block_autocorr,
)
from neuroalign.stats.comparisons import electrode_swap_test


def _ar_within_blocks(rng, n_blocks, block_len, n_targets, phi):
    """AR(1) noise restarted in every block: autocorrelated within, independent across."""
    x = lfilter([1.0], [1.0, -phi], rng.standard_normal((n_blocks, block_len, n_targets)), axis=1)
    return x.reshape(n_blocks * block_len, n_targets)


def test_block_sums_give_exact_r(rng):
    sizes = rng.integers(5, 40, size=17)
    blocks = np.repeat(np.arange(17) * 3 + 1, sizes)  # arbitrary labels, unequal lengths
    y = rng.standard_normal((blocks.size, 8)) + 5
    y_hat = 0.3 * y + rng.standard_normal(y.shape).astype(np.float32)
    sums = block_sums(y, y_hat, blocks, n_targets_batch=3)
    assert sums.shape == (17, 6, 8)
    np.testing.assert_array_equal(sums[:, 0, 0], sizes)
    expected = [np.corrcoef(y[:, t], y_hat[:, t])[0, 1] for t in range(8)]
    np.testing.assert_allclose(r_from_sums(sums), expected, atol=1e-10)


def test_bootstrap_ci_coverage():
    """400 datasets (as targets) with population r = 0.3: the 95 % CI covers it 95 ± 3 %."""
    rng = np.random.default_rng(3)
    n_blocks, block_len, n_sets, rho = 100, 10, 400, 0.3
    h = _ar_within_blocks(rng, n_blocks, block_len, n_sets, 0.6)
    e = _ar_within_blocks(rng, n_blocks, block_len, n_sets, 0.6)
    y = rho * h + np.sqrt(1 - rho**2) * e  # corr(y, h) = rho: h and e share their AR(1) law
    blocks = np.repeat(np.arange(n_blocks), block_len)
    low, high = bootstrap_ci(block_sums(y, h, blocks), n_resamples=1000, rng=rng)
    coverage = np.mean((low <= rho) & (rho <= high))
    assert 0.92 <= coverage <= 0.98, coverage
    assert np.all(low < high)


def test_fft_null_enumerates_every_shift_of_at_least_one_block(rng):
    sizes = rng.integers(4, 9, size=6)
    blocks = np.repeat(np.arange(6), sizes)
    n, longest = blocks.size, int(sizes.max())
    y = rng.standard_normal((n, 3))
    y_hat = rng.standard_normal((n, 3))
    p, r_null = permutation_p(y, y_hat, blocks, n_permutations=200, rng=0, return_null=True)
    offsets = np.arange(longest, n - longest + 1)  # at least one (longest) block away
    assert r_null.shape == (offsets.size, 3)  # fewer shifts than 200: enumerated exactly
    shifted = np.array([[np.corrcoef(y[:, t], np.roll(y_hat[:, t], -o))[0, 1] for t in range(3)]
                        for o in offsets])
    np.testing.assert_allclose(r_null, shifted, atol=1e-10)
    r_obs = np.array([np.corrcoef(y[:, t], y_hat[:, t])[0, 1] for t in range(3)])
    np.testing.assert_allclose(p, (1 + (shifted >= r_obs - 1e-12).sum(0)) / (1 + offsets.size))


def test_permutation_p_never_below_the_resolution_of_the_shifts(rng):
    # One trial of 12 blocks: a shift test can not say p < 1/#shifts, however strong r is.
    blocks = np.repeat(np.arange(12), 5)
    y_hat = rng.standard_normal((60, 2))
    p = permutation_p(y_hat + 0.01 * rng.standard_normal((60, 2)), y_hat, blocks,
                      n_permutations=1000, rng=0)
    np.testing.assert_allclose(p, 1 / (1 + (60 - 2 * 5 + 1)))


def test_permutation_p_uniform_under_null_and_small_for_effect():
    rng = np.random.default_rng(4)
    n_trials, n_blocks, block_len, n_targets = 3, 25, 16, 600
    y = _ar_within_blocks(rng, n_trials * n_blocks, block_len, n_targets, 0.8)
    y_hat = _ar_within_blocks(rng, n_trials * n_blocks, block_len, n_targets, 0.8)
    blocks = np.repeat(np.arange(n_trials * n_blocks), block_len)
    trials = np.repeat(np.arange(n_trials), n_blocks * block_len)
    p = permutation_p(y, y_hat, blocks, trials, n_permutations=1000, rng=rng)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.02 < np.mean(p < 0.05) < 0.08
    p_effect = permutation_p(y + 0.5 * y_hat, y_hat, blocks, trials, n_permutations=1000,
                             rng=rng)
    assert np.all(p_effect <= 2 / 1001)  # r ≈ 0.45: no shift comes close
    with pytest.raises(ValueError, match="No trial can be shifted by a whole block"):
        permutation_p(y[:16], y_hat[:16], blocks[:16])


def test_a_trial_too_short_to_shift_is_left_unshifted_and_the_others_tested(rng, caplog):
    """Trial 1 (one block of 15 events, as the tiny preset's second trial at seed 4242) cannot
    be shifted by a block: its events keep their alignment, so the null and p are exactly those
    of trial 0's shift test with trial 1's cross sum added to every resample."""
    sizes0 = rng.integers(4, 9, size=8)
    blocks = np.r_[np.repeat(np.arange(8), sizes0), np.full(15, 8)]
    trials = np.r_[np.zeros(sizes0.sum(), int), np.ones(15, int)]
    n0 = int(sizes0.sum())
    y = rng.standard_normal((blocks.size, 4))
    y_hat = rng.standard_normal((blocks.size, 4))
    y[n0:] += 3 * y_hat[n0:]  # a strong alignment in the unshifted trial: kept in every null
    with caplog.at_level("WARNING", logger="neuroalign"):
        p, r_null = permutation_p(y, y_hat, blocks, trials, n_permutations=500, rng=0,
                                  return_null=True)
    assert f"{n0}..{blocks.size - 1}" in caplog.text and "left unshifted" in caplog.text
    longest = int(sizes0.max())
    offsets = np.arange(longest, n0 - longest + 1)
    assert r_null.shape == (offsets.size, 4)
    expected = np.array([[np.corrcoef(y[:, t], np.r_[np.roll(y_hat[:n0, t], -o),
                                                       y_hat[n0:, t]])[0, 1]
                          for t in range(4)] for o in offsets])
    np.testing.assert_allclose(r_null, expected, atol=1e-10)
    assert np.all(p > 0.01)  # trial 1's alignment alone does not make p small
    from neuroalign.encoding.blockstats import unshifted_trials
    assert unshifted_trials(blocks, trials) == [(n0, blocks.size)]
    assert unshifted_trials(blocks[:n0], trials[:n0]) == []


def test_an_unshifted_trial_gives_exactly_the_other_trials_test(rng):
    """With a single-block trial left unshifted, p is that of the shift test of the other trials
    alone (same resamples), whatever that trial holds: its level is theirs (calibrated, see
    test_permutation_p_uniform_under_null_and_small_for_effect), its data cannot move p."""
    blocks = np.r_[np.repeat(np.arange(20), 12), np.repeat(np.arange(20, 40), 12),
                   np.full(40, 40)]
    trials = np.repeat([0, 1, 2], [240, 240, 40])
    y = rng.standard_normal((blocks.size, 50))
    y_hat = _ar_within_blocks(rng, 1, blocks.size, 50, 0.7)
    p_two = permutation_p(y[:480], y_hat[:480], blocks[:480], trials[:480],
                          n_permutations=300, rng=7)
    for extra in (0.0, 5.0):  # null, or a strong alignment confined to the short trial
        y3 = y.copy()
        y3[480:] += extra * y_hat[480:]
        p_three = permutation_p(y3, y_hat, blocks, trials, n_permutations=300, rng=7)
        np.testing.assert_array_equal(p_three, p_two)


def test_residual_block_autocorr_flags_slow_drift(rng):
    blocks = np.repeat(np.arange(200), 10)
    y = rng.standard_normal((2000, 50))
    y_hat = rng.standard_normal((2000, 50))
    iid = residual_block_autocorr(block_sums(y, y_hat, blocks))
    assert abs(iid.mean()) < 0.03
    drift = lfilter([1.0], [1.0, -0.995], rng.standard_normal((2000, 50)), axis=0)
    slow = residual_block_autocorr(block_sums(y + drift, y_hat, blocks))
    assert np.all(slow > 0.1)
    # A prediction that captures the drift, on its own scale and offset (cross-fitted ŷ has
    # no intercept and unit variance), leaves an independent residual: no flag.
    explained = residual_block_autocorr(block_sums(y + drift, 1000.0 * drift + 5.0, blocks))
    assert abs(np.nanmean(explained)) < 0.03


def test_paired_swap_test_per_target():
    rng = np.random.default_rng(5)
    n_blocks, block_len, n_targets = 60, 12, 500
    blocks = np.repeat(np.arange(n_blocks), block_len)
    signal = _ar_within_blocks(rng, n_blocks, block_len, n_targets, 0.5)
    y = signal + 2 * _ar_within_blocks(rng, n_blocks, block_len, n_targets, 0.5)

    def noisy():
        return signal + 2 * _ar_within_blocks(rng, n_blocks, block_len, n_targets, 0.5)

    sums_a, sums_b = block_sums(y, noisy(), blocks), block_sums(y, noisy(), blocks)
    one_bin = np.ones((n_targets, 1), bool)  # each target its own electrode

    def paired_swap_test(a, b):
        return electrode_swap_test(a[..., None], b[..., None], one_bin, 1000, rng)

    delta, p = paired_swap_test(sums_a, sums_b)
    np.testing.assert_allclose(delta, r_from_sums(sums_a) - r_from_sums(sums_b))
    assert stats.kstest(p, "uniform").pvalue > 0.01  # equally good models: a null
    sums_c = block_sums(y, signal, blocks)  # a better model
    _, p_better = paired_swap_test(sums_c, sums_a)
    assert np.mean(p_better < 0.05) > 0.9
