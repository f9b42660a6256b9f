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
    r_from_sums,
    solve_ridge_svd,
    split_halves,
)
from neuroalign.encoding.ridge import _guarded_scores

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


def test_split_halves_at_block_boundary():
    blocks = np.repeat(np.arange(6), [5, 5, 5, 7, 5, 5])
    a, b = split_halves(np.arange(32), blocks)
    assert np.array_equal(np.concatenate([a, b]), np.arange(32))
    assert blocks[a[-1]] != blocks[b[0]] and a.size == 15
    a, b = split_halves(np.arange(10), np.zeros(10, int))  # one block: cut in the middle
    assert a.size == 5 and b.size == 5
    # Guards: one block on each side of the cut is left out of the scores.
    assert _guarded_scores(np.arange(32), 15, blocks, 1) == (10, 22)
    assert _guarded_scores(np.arange(32), 15, blocks, 0) == (15, 15)


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
    choice = np.zeros((n_folds, 2, n_targets, 2), int)  # (fold, half, target, [layer, alpha])
    for f, (train, test) in enumerate(contiguous_folds(blocks, n_folds, gap)):
        half_a, _ = split_halves(test, blocks)
        n_a = half_a.size
        a_end, b_start = _guarded_scores(test, n_a, blocks, guard)
        for t in range(n_targets):
            best = [(-np.inf, None, None), (-np.inf, None, None)]
            for li, X in enumerate(X_layers):
                scaler = StandardScaler().fit(X[train])
                for ai, alpha in enumerate(alphas):
                    model = Ridge(alpha=alpha).fit(scaler.transform(X[train]), Y[train, t])
                    p = model.predict(scaler.transform(X[test])) - Y[train, t].mean()
                    y = Y[test, t]
                    r_b = np.corrcoef(p[b_start:], y[b_start:])[0, 1]
                    r_a = np.corrcoef(p[:a_end], y[:a_end])[0, 1]
                    if r_b > best[0][0]:
                        best[0] = (r_b, p[:n_a], (li, ai))
                    if r_a > best[1][0]:
                        best[1] = (r_a, p[n_a:], (li, ai))
            y_hat[test[:n_a], t] = best[0][1] / best[0][1].std()  # unit scale per half
            y_hat[test[n_a:], t] = best[1][1] / best[1][1].std()
            choice[f, 0, t], choice[f, 1, t] = best[0][2], best[1][2]
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
