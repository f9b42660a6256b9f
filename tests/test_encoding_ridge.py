"""Cross-fitted ridge: folds, parity with scikit-learn, no leakage, recovery, baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import lfilter
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from neuroalign.encoding import (
    banded_ratio_grid,
    block_sums,
    concat_feature_spaces,
    contiguous_folds,
    cross_fitted_banded_predictions,
    cross_fitted_predictions,
    get_device,
    inner_split,
    r_from_sums,
    solve_ridge_svd,
)
from neuroalign.encoding.folds import inner_guard

ALPHAS = np.logspace(-1, 5, 7)


def _ar(rng, shape, phi):
    """AR(1) noise along axis 0 (autocorrelated like high-gamma and contextual features)."""
    return lfilter([1.0], [1.0, -phi], rng.standard_normal(shape), axis=0)


def test_get_device():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="Allowed values"):
        get_device("gpu")


def test_contiguous_folds_never_split_blocks(rng):
    sizes = rng.integers(3, 30, size=23)
    blocks = np.repeat(np.arange(23), sizes)
    folds = contiguous_folds(blocks, 5)
    tests = [te for _, te in folds]
    assert np.array_equal(np.concatenate(tests), np.arange(blocks.size))  # a partition, in order
    for train, test in folds:
        assert np.all(np.diff(test) == 1)
        assert not set(blocks[test]) & set(blocks[train])  # no block on both sides
    counts = np.array([te.size for te in tests])
    assert counts.max() - counts.min() <= 2 * sizes.max()  # balanced up to whole blocks
    with pytest.raises(ValueError, match="Cannot cut 3 blocks into 5 folds"):
        contiguous_folds(np.repeat(np.arange(3), 10), 5)
    with pytest.raises(ValueError, match="contiguous run"):
        contiguous_folds(np.array([0, 0, 1, 1, 0, 0, 2, 2]), 2, training="all")
    with pytest.raises(ValueError, match="at least 3 folds"):
        contiguous_folds(np.repeat(np.arange(6), 3), 2)


def _training_graph(n_folds: int, training: str) -> list[set]:
    """The folds that train each fold's model, as sets of fold indices."""
    blocks = np.repeat(np.arange(4 * n_folds), 5)
    folds = contiguous_folds(blocks, n_folds, gap_blocks=1, training=training)
    fold_of = np.empty(blocks.size, dtype=int)
    for f, (_, test) in enumerate(folds):
        fold_of[test] = f
    return [set(fold_of[train]) for train, _ in folds]


@pytest.mark.parametrize("training, n_folds, per_fold",
                         [("cyclic", k, (k - 1) // 2) for k in (3, 5, 6, 7)]
                         + [("sparse-cyclic", k, (k - 1) // 3) for k in (4, 5, 7, 10)])
def test_cyclic_training_never_lets_two_folds_train_each_other(training, n_folds, per_fold):
    trains = _training_graph(n_folds, training)
    three_cycles = 0
    for f, used in enumerate(trains):
        assert used == {(f + j) % n_folds for j in range(1, per_fold + 1)}
        for g in used:
            assert f not in trains[g]  # f trains g or g trains f, never both
            three_cycles += sum(f in trains[h] for h in trains[g])  # f -> g -> h -> f
    # sparse-cyclic leaves no cycle of three folds; cyclic keeps them at these fold counts
    # (with 5: 0 trains on 1, 1 on 3, 3 on 0), the skew of README "Known excess of the shift
    # test".
    assert (three_cycles == 0) == (training == "sparse-cyclic")


def test_sparse_cyclic_needs_four_folds():
    with pytest.raises(ValueError, match="at least 4 folds"):
        contiguous_folds(np.repeat(np.arange(12), 5), 3, training="sparse-cyclic")


def test_gap_blocks_purge_neighbours():
    blocks = np.repeat(np.arange(10), 4)
    for train, test in contiguous_folds(blocks, 5, gap_blocks=1, training="all"):
        test_blocks = set(blocks[test])
        neighbours = {min(test_blocks) - 1, max(test_blocks) + 1}
        assert not neighbours & set(blocks[train])
        assert set(blocks[train]) | test_blocks | neighbours >= set(range(10))


def test_inner_split_at_block_boundary_with_a_guard():
    blocks = np.repeat(np.arange(6), [5, 5, 5, 7, 5, 5])
    fit, score = inner_split(np.arange(32), blocks, guard_blocks=1)
    # Cut at the boundary nearest the middle (event 15); block 2 (events 10-14) is the guard.
    assert np.array_equal(fit, np.arange(15, 32)) and np.array_equal(score, np.arange(10))
    fit, score = inner_split(np.arange(32), blocks, guard_blocks=0)
    assert np.array_equal(score, np.arange(15))
    fit, score = inner_split(np.arange(32), blocks, guard_blocks=5)  # the scored part keeps 1
    assert np.array_equal(score, np.arange(5))
    fit, score = inner_split(np.arange(10), np.zeros(10, int))  # one block: cut in the middle
    assert fit.size == 5 and score.size == 5
    # A skipped stretch (a purged gap, the wrap of cyclic training) starts a new block even if
    # the label is unchanged, so the cut may fall there.
    train = np.r_[0:6, 20:26]
    fit, score = inner_split(train, np.zeros(26, int), guard_blocks=0)
    assert np.array_equal(score, np.arange(6)) and np.array_equal(fit, np.arange(20, 26))
    # Three blocks: the cut leaves room for the guard (score block 0, guard 1, fit 2).
    three = np.repeat(np.arange(3), 10)
    fit, score = inner_split(np.arange(30), three, guard_blocks=1)
    assert np.array_equal(score, np.arange(10)) and np.array_equal(fit, np.arange(20, 30))
    assert inner_guard(np.arange(30), three, 1) == 1
    # Two blocks cannot keep a guard; one block is cut inside it.
    assert inner_guard(np.arange(20), three, 1) == 0
    assert inner_guard(np.arange(10), three, 1) == 0
    # A guard next to a skipped stretch: blocks 0, 1 | purged | 4, 5 (10 events each).
    six = np.repeat(np.arange(6), 10)
    train = np.r_[0:20, 40:60]
    fit, score = inner_split(train, six, guard_blocks=1)
    assert np.array_equal(score, np.arange(10)) and np.array_equal(fit, np.arange(40, 60))
    assert inner_guard(train, six, 1) == 1
    with pytest.raises(ValueError, match="non-negative integer"):
        inner_split(np.arange(32), blocks, guard_blocks=-1)
    with pytest.raises(ValueError, match="sorted"):
        inner_split(np.arange(32)[::-1], blocks)


@pytest.mark.parametrize("n_train, n_features", [(60, 12), (25, 40)])  # primal and dual forms
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_solve_ridge_svd_matches_sklearn(rng, n_train, n_features, dtype):
    X = rng.standard_normal((n_train + 15, n_features)) * rng.uniform(0.5, 3, n_features) + 2
    Y = X @ rng.standard_normal((n_features, 9)) + rng.standard_normal((n_train + 15, 9)) + 1
    Xtr, Xte, Ytr = X[:n_train], X[n_train:], Y[:n_train]
    alphas = [0.1, 3.0, 100.0]
    preds = solve_ridge_svd(Xtr, Ytr, Xte, alphas, n_targets_batch=4, dtype=dtype).numpy()
    assert preds.shape == (3, 15, 9)
    scaler = StandardScaler().fit(Xtr)
    for i, alpha in enumerate(alphas):
        ref = Ridge(alpha=alpha).fit(scaler.transform(Xtr), Ytr).predict(scaler.transform(Xte))
        np.testing.assert_allclose(preds[i], ref, atol=1e-4 * np.abs(ref).max())


def test_column_scale_gives_per_band_penalties(rng):
    X = rng.standard_normal((50, 8))
    y = rng.standard_normal((50, 2))
    band_alphas = np.array([2.0, 2.0, 2.0, 50.0, 50.0, 50.0, 50.0, 50.0])
    alpha = 2.0
    scale = np.sqrt(alpha / band_alphas)  # 1 / sqrt(rho_b) with rho_b = band_alpha / alpha
    pred = solve_ridge_svd(X[:40], y[:40], X[40:], [alpha], column_scale=scale,
                           dtype=torch.float64).numpy()[0]
    Z = StandardScaler().fit(X[:40])
    Ztr, Zte = Z.transform(X[:40]), Z.transform(X[40:])
    w = np.linalg.solve(Ztr.T @ Ztr + np.diag(band_alphas), Ztr.T @ (y[:40] - y[:40].mean(0)))
    np.testing.assert_allclose(pred, Zte @ w + y[:40].mean(0), atol=1e-10)


def _explicit_cross_fit(X_layers, Y, blocks, alphas, n_folds, gap, guard):
    """The cross-fitting of DESIGN §6 written as plain loops over scikit-learn fits."""
    n_events, n_targets = Y.shape
    y_hat = np.zeros_like(Y)
    choice = np.zeros((n_folds, n_targets, 2), int)  # (fold, target, [layer, alpha])
    for f, (train, test) in enumerate(contiguous_folds(blocks, n_folds, gap)):
        fit, score = inner_split(train, blocks, guard)
        for t in range(n_targets):
            best = (-np.inf, None)
            for li, X in enumerate(X_layers):
                scaler = StandardScaler().fit(X[fit])
                for ai, alpha in enumerate(alphas):
                    model = Ridge(alpha=alpha).fit(scaler.transform(X[fit]), Y[fit, t])
                    r = np.corrcoef(model.predict(scaler.transform(X[score])), Y[score, t])[0, 1]
                    if r > best[0]:
                        best = (r, (li, ai))
            li, ai = best[1]
            scaler = StandardScaler().fit(X_layers[li][train])
            model = Ridge(alpha=alphas[ai]).fit(scaler.transform(X_layers[li][train]),
                                                Y[train, t])
            p = model.predict(scaler.transform(X_layers[li][test])) - Y[train, t].mean()
            y_hat[test, t] = p / p.std()  # unit scale per fold
            choice[f, t] = best[1]
    return y_hat, choice


def test_cross_fit_matches_explicit_loop(rng):
    n_events, n_targets = 120, 6
    blocks = np.repeat(np.arange(12), 10)
    X_layers = [rng.standard_normal((n_events, 5)), rng.standard_normal((n_events, 8))]
    Y = 0.5 * X_layers[1] @ rng.standard_normal((8, n_targets)) + rng.standard_normal(
        (n_events, n_targets))
    Y[:, :2] = X_layers[0] @ rng.standard_normal((5, 2)) + 2 * rng.standard_normal((n_events, 2))
    alphas = [0.1, 10.0, 1000.0]
    res = cross_fitted_predictions(X_layers, Y, blocks, alphas, n_folds=3, dtype=torch.float64)
    y_hat, choice = _explicit_cross_fit(X_layers, Y, blocks, alphas, 3, gap=1, guard=1)
    np.testing.assert_array_equal(res.choice_layer, choice[..., 0])
    np.testing.assert_array_equal(res.choice_alpha, choice[..., 1])
    np.testing.assert_allclose(res.y_hat, y_hat, atol=1e-4)
    np.testing.assert_allclose(res.r, [np.corrcoef(Y[:, t], y_hat[:, t])[0, 1]
                                       for t in range(n_targets)], atol=1e-5)
    assert res.layer_r.shape == (2, n_targets)
    assert np.all(res.layer_r.max(0) >= res.r - 0.2)
    # The float32 path agrees with the float64 one.
    res32 = cross_fitted_predictions(X_layers, Y, blocks, alphas, n_folds=3, n_targets_batch=4)
    np.testing.assert_allclose(res32.y_hat, res.y_hat, atol=1e-4)


@pytest.mark.parametrize("highpass_s", [None, 40.0])
@pytest.mark.parametrize("training", ["cyclic", "sparse-cyclic"])
def test_no_scored_response_enters_its_own_prediction_or_choice(rng, training, highpass_s):
    """Changing every response outside fold f's training set (fold f's own included) leaves
    fold f's predictions and its (layer, alpha) choice as they were: the fit and the inner
    choice see the training set only, so the shift and swap tests' one-way dependence holds."""
    n_events, n_targets = 200, 5
    blocks = np.repeat(np.arange(20), 10)
    times = np.arange(n_events, dtype=float)
    X_layers = [_ar(rng, (n_events, 6), 0.8) for _ in range(3)]
    Y = X_layers[1] @ rng.standard_normal((6, n_targets)) + _ar(rng, (n_events, n_targets), 0.8)
    kw = dict(n_folds=7, dtype=torch.float64, training=training, highpass_s=highpass_s,
              times_s=times)
    res = cross_fitted_predictions(X_layers, Y, blocks, ALPHAS, **kw)
    for f, (train, test) in enumerate(res.folds):
        outside = np.setdiff1d(np.arange(n_events), train)
        Y2 = Y.copy()
        Y2[outside] = 3 * rng.standard_normal((outside.size, n_targets)) + 5
        res2 = cross_fitted_predictions(X_layers, Y2, blocks, ALPHAS, **kw)
        np.testing.assert_allclose(res2.y_hat[test], res.y_hat[test], atol=1e-10)
        np.testing.assert_array_equal(res2.choice_layer[f], res.choice_layer[f])
        np.testing.assert_array_equal(res2.choice_alpha[f], res.choice_alpha[f])
        assert not np.allclose(res2.y_hat, res.y_hat)  # the change reached other folds


def test_banded_with_equal_ratios_is_plain_ridge(rng):
    spaces = [rng.standard_normal((150, 6)) * 3, rng.standard_normal((150, 4))]
    Y = spaces[0] @ rng.standard_normal((6, 5)) + rng.standard_normal((150, 5)) * 4
    blocks = np.repeat(np.arange(15), 10)
    banded = cross_fitted_banded_predictions(spaces, Y, blocks, ALPHAS, n_folds=3,
                                             ratios=np.ones((1, 2)), dtype=torch.float64)
    plain = cross_fitted_predictions([concat_feature_spaces(spaces)], Y, blocks, ALPHAS,
                                     n_folds=3, dtype=torch.float64)
    np.testing.assert_allclose(banded.y_hat, plain.y_hat, atol=1e-8)
    np.testing.assert_allclose(banded.band_alphas, np.vstack([plain.alpha, plain.alpha]))


def test_banded_penalises_the_uninformative_space(rng):
    n = 600
    spaces = [rng.standard_normal((n, 10)), rng.standard_normal((n, 80))]
    Y = spaces[0] @ rng.standard_normal((10, 40)) * 0.3 + rng.standard_normal((n, 40))
    blocks = np.repeat(np.arange(30), 20)
    ratios = banded_ratio_grid(2)
    assert ratios.shape == (7, 2) and np.any(np.all(ratios == 1, axis=1))
    banded = cross_fitted_banded_predictions(spaces, Y, blocks, ALPHAS, ratios=ratios)
    concat = cross_fitted_predictions([concat_feature_spaces(spaces)], Y, blocks, ALPHAS)
    assert np.mean(banded.band_alphas[1] > banded.band_alphas[0]) > 0.8
    assert banded.r.mean() > concat.r.mean()


def test_no_leakage_on_noise_features():
    """Pure-noise features: out-of-sample r over 3,000 targets is centred at 0.

    Choosing (layer, alpha) on the very events scored (the reference's selection: best r over
    the candidates' out-of-sample predictions) is biased upwards: the max of 21 null r's.
    """
    rng = np.random.default_rng(1)
    n_events, n_targets = 400, 3000
    blocks = np.repeat(np.arange(20), 20)
    X_layers = [_ar(rng, (n_events, 20), 0.5).astype(np.float32) for _ in range(3)]
    Y = _ar(rng, (n_events, n_targets), 0.5).astype(np.float32)
    res = cross_fitted_predictions(X_layers, Y, blocks, ALPHAS)
    se = res.r.std() / np.sqrt(n_targets)
    assert abs(res.r.mean()) < 3 * se, (res.r.mean(), se)
    # Per layer, no upward bias. (Held-out r of a fitted model has a small negative bias, of
    # order d / n_train, on null data: the test events' own noise is missing from the fit.
    # Here ~ -0.005, i.e. -2 to -4 SE; it is conservative, not leakage.)
    assert np.all(res.layer_r.mean(1) < 3 * res.layer_r.std(1) / np.sqrt(n_targets))
    assert np.all(res.layer_r.mean(1) > -0.01)

    # Leaky selection: every candidate's out-of-sample predictions, best r on the same events.
    folds = contiguous_folds(blocks, 5)
    r_candidates = []
    for X in X_layers:
        pred = np.zeros((ALPHAS.size, n_events, n_targets), np.float32)
        for train, test in folds:
            pred[:, test] = solve_ridge_svd(X[train], Y[train], X[test], ALPHAS).numpy()
        r_candidates += [r_from_sums(block_sums(Y, p, blocks)) for p in pred]
    leaky = np.max(r_candidates, axis=0)
    assert leaky.mean() > 10 * leaky.std() / np.sqrt(n_targets)


def test_recovery_of_planted_targets():
    rng = np.random.default_rng(2)
    n_events, d = 1000, 10
    blocks = np.repeat(np.arange(50), 20)
    X_layers = [rng.standard_normal((n_events, d)) for _ in range(3)]
    signal = X_layers[1] @ rng.standard_normal((d, 200))
    signal /= signal.std(0)
    ceiling = 0.5  # r between the signal and signal + noise of variance (1 - c²) / c²
    noise = rng.standard_normal((n_events, 400)) * np.sqrt((1 - ceiling**2) / ceiling**2)
    Y = noise.copy()
    Y[:, :200] += signal
    res = cross_fitted_predictions(X_layers, Y.astype(np.float32), blocks, ALPHAS)
    planted, null = res.r[:200], res.r[200:]
    assert abs(planted.mean() - ceiling) < 0.03, planted.mean()
    assert abs(null.mean()) < 3 * null.std() / np.sqrt(200)
    assert np.mean(res.layer[:200] == 1) > 0.95
    assert np.all(res.layer_r[1, :200] > res.layer_r[0, :200])
