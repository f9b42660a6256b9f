"""Block designs refused before any fit (check-data, the encoding job), and the tiny preset's
block structure at several seeds (issue #12 item 5)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.data.blocks import (
    check_block_design,
    min_fold_blocks,
    min_swap_blocks,
    trial_shifts,
)


def _design(sizes_per_trial):
    blocks, trials, label = [], [], 0
    for t, sizes in enumerate(sizes_per_trial):
        for n in sizes:
            blocks += [label] * n
            trials += [t] * n
            label += 1
    return np.array(blocks), np.array(trials)


def test_minimums():
    assert min_swap_blocks(1000) == 10 and min_swap_blocks(1024) == 10
    assert min_swap_blocks(1025) == 11 and min_swap_blocks(1) == 1
    assert min_fold_blocks(5, 1) == 10 and min_fold_blocks(5, 3) == 20
    assert trial_shifts([5, 5, 5]) == 6  # shifts 5..10
    assert trial_shifts([8, 7]) == 0 and trial_shifts([131, 117]) == 0 and trial_shifts([]) == 0


def test_a_good_design_passes():
    blocks, trials = _design([[10] * 12, [10] * 6])
    d = check_block_design(blocks, trials, n_folds=5, n_permutations=200, what="s / a")
    assert d.problems == [] and d.warnings == [] and d.n_blocks == 18
    assert d.n_shift_combinations == (120 - 20 + 1) * (60 - 20 + 1)


def test_too_few_blocks_for_the_folds_and_the_swaps_name_the_minimum():
    blocks, trials = _design([[100] * 5])
    d = check_block_design(blocks, trials, n_folds=5, n_permutations=1000, block_s=30,
                           what="sub_1 / language")
    assert len(d.problems) == 2
    folds, swaps = d.problems
    assert folds.startswith("sub_1 / language: 5 blocks of 30 s (events.block_s)")
    assert "5 folds (encoding.folds)" in folds and "at least 10 blocks" in folds
    assert "2**5 = 32 distinct block-swap patterns" in swaps
    assert "1000 permutations" in swaps and "at least 10 blocks" in swaps
    # Fewer permutations: the folds' minimum remains.
    d = check_block_design(blocks, trials, n_folds=2, n_permutations=32)
    assert d.problems == []
    d = check_block_design(blocks, trials, n_folds=2, n_permutations=33, what="x")
    assert d.problems == ["x: 5 blocks give 2**5 = 32 distinct block-swap patterns, fewer than "
                          "the 33 permutations requested (stats.n_permutations); the swap test "
                          "needs at least 6 blocks. Use shorter blocks, more data, or fewer "
                          "permutations."]


def test_a_fold_of_one_block_is_refused_and_a_small_one_warned():
    blocks, trials = _design([[10] * 12])
    d = check_block_design(blocks, trials, n_folds=5, n_permutations=200, what="s / a",
                           fold_blocks=[1, 3, 3, 3, 2])
    assert len(d.problems) == 1 and "fold(s) [0] hold a single block" in d.problems[0]
    assert "at least 2" in d.problems[0]
    assert any("fold(s) [1, 2, 3, 4] hold fewer than 4 blocks" in w for w in d.warnings)


def test_an_unshiftable_trial_is_a_warning_and_no_shiftable_trial_a_problem():
    # The tiny preset at seed 4242 with 30 s blocks: trial 1's 15 vision events in 8 + 7.
    blocks, trials = _design([[4] * 12, [8, 7]])
    d = check_block_design(blocks, trials, n_folds=5, n_permutations=20, block_s=30,
                           what="sub_2 / vision")
    assert d.problems == [] and d.unshifted_trials == [1]
    assert any(w.startswith("sub_2 / vision: trial 1 (15 events in 2 block(s) of 30 s")
               and "the longest 8" in w and "leaves its events unshifted" in w
               for w in d.warnings)
    blocks, trials = _design([[8, 7], [20]])
    d = check_block_design(blocks, trials, n_folds=1, n_permutations=1, what="s / a")
    assert d.unshifted_trials == [0, 1]
    assert any("no trial can be circularly shifted" in p and "at least one trial of 2 or more "
               "blocks" in p for p in d.problems)


def test_too_few_shifts_for_the_fdr_level_are_refused_and_fewer_than_asked_warned():
    blocks, trials = _design([[3] * 8])  # 24 events, shifts 3..21: 19
    d = check_block_design(blocks, trials, n_folds=3, n_permutations=8, fdr_q=0.05,
                           what="s / a")
    assert any("only 19 admissible shift(s)" in p and "1/20" in p and "at least 20 shifts"
               in p for p in d.problems)
    d = check_block_design(blocks, trials, n_folds=3, n_permutations=8, fdr_q=0.1)
    assert d.problems == [] and d.warnings == []  # 19 shifts >= 8 resamples, p can reach 1/20
    d = check_block_design(blocks, trials, n_folds=3, n_permutations=100, fdr_q=0.1)
    assert any("only 19 distinct circular shifts for the 100 permutations" in w
               for w in d.warnings)


def test_the_encoding_job_refuses_a_bad_design_before_any_fit(built, tmp_path, monkeypatch):
    import copy

    import neuroalign.encoding.build as build

    cfg, out, _, _ = built

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit started")

    monkeypatch.setattr(build, "cross_fitted_predictions", no_fit)
    bad = copy.deepcopy(cfg)
    bad["stats"]["n_permutations"] = 100_000  # 2**17 >= 1e5: 17 blocks, sub_1 has 15
    with pytest.raises(ValueError) as err:
        build.fit_encoding(bad, "sub_1", "sim-vision", "trained", "language",
                           out / "sub_1" / "language.h5", tmp_path / "no-features",
                           out / "movies", tmp_path / "enc.h5")
    msg = str(err.value)
    assert msg.startswith("sub_1 / language (sim-vision/trained): 15 blocks of 10 s")
    assert "100000 permutations" in msg and "at least 17 blocks" in msg
    bad = copy.deepcopy(cfg)
    bad["encoding"]["folds"] = 8  # 8 folds x 2 blocks = 16 > 15
    with pytest.raises(ValueError, match=r"8 folds \(encoding.folds\).*at least 16 blocks"):
        build.fit_baseline(bad, "sub_1", "concat", "vision", ["a", "b"],
                           [tmp_path / "a.h5", tmp_path / "b.h5"], [tmp_path, tmp_path],
                           out / "sub_1" / "vision.h5", out / "movies", tmp_path / "enc.h5")
    assert not (tmp_path / "enc.h5").exists()


def test_blocks_shorter_than_the_residual_correlation_stop_naming_the_length():
    from neuroalign.encoding.build import _check_block_length

    attrs = {"subject": "sub_1", "alignment": "vision", "model": "m", "init": "trained"}
    needed = np.full((4, 6), 12.0)
    needed[0] = 300.0  # one slow electrode: flagged in the report, not a stop
    _check_block_length(needed, 30.0, attrs)
    needed[:3] = 47.0
    with pytest.raises(ValueError) as err:
        _check_block_length(needed, 30.0, attrs)
    msg = str(err.value)
    assert msg.startswith("sub_1 / vision (m/trained)")
    assert "at least 47 s" in msg and "events.block_s is 30 s" in msg
    assert "Set events.block_s to 50 or more" in msg


def test_residual_autocorr_time_tracks_the_shared_slow_part():
    """τ of e·ŷ: white when only the responses drift, slow when both do (AR(1) products)."""
    from scipy.signal import lfilter

    from neuroalign.encoding.blockstats import residual_autocorr_time

    rng = np.random.default_rng(2)

    def ar(phi):
        return lfilter([1.0], [1.0, -phi], rng.standard_normal((4000, 200)), axis=0)

    trials = np.repeat([0, 1], 2000)
    tau, needed = residual_autocorr_time(ar(0.95), rng.standard_normal((4000, 200)), trials)
    assert abs(np.median(tau) - 1) < 0.1 and np.median(needed) < 1
    tau, needed = residual_autocorr_time(ar(0.9), ar(0.9), trials)
    theory = (1 + 0.81) / (1 - 0.81)  # ρ_z(k) = 0.81**k
    assert 0.75 * theory < np.median(tau) < 1.1 * theory
    np.testing.assert_allclose(needed, np.clip(tau - 1, 0, None) / 0.2)
    # A prediction carrying the slow part of the response leaves a white residual score.
    h = ar(0.9)
    tau, _ = residual_autocorr_time(3 * h + rng.standard_normal(h.shape), h, trials)
    assert abs(np.median(tau) - 1) < 0.15


def test_tiny_preset_at_another_seed_is_checked_before_the_workflow(tmp_path):
    """Seed 4242 (the issue's): at the tiny workflow's 10 s blocks check-data passes; at the
    default 30 s it is refused with the minimum, where the encoding job used to stop on a
    single-block trial after other jobs had run."""
    from neuroalign.config import validate_config
    from neuroalign.data.check import check_data
    from neuroalign.simulate import simulate_dataset

    root = tmp_path / "sim"
    simulate_dataset(root, preset="tiny", seed=4242, latents="random")
    base = {"dataset": {"root": str(root)},
            "movies": {"root": str(root / "movies"), "scene_cuts": str(root / "scene_cuts")}}
    ok = check_data(validate_config({**base, "events": {"block_s": 10},
                                     "stats": {"n_permutations": 200}}))
    assert ok.ok, ok.text()
    bad = check_data(validate_config(base))
    assert not bad.ok
    for subject in ("sub_1", "sub_2"):
        for alignment in ("language", "vision"):
            assert any(p.startswith(f"{subject} / {alignment}: ") and "at least 10 blocks" in p
                       for p in bad.problems), bad.text()
