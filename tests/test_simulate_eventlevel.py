"""The event-level calibration datasets carry the structure of real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.simulate.drift import slow_drift
from neuroalign.simulate.eventlevel import default_models, simulate_event_dataset


@pytest.fixture(scope="module")
def data():
    return simulate_event_dataset(3, duration_s=600.0, n_electrodes=12, n_bins=3,
                                  class_frac=(0.25, 0.25, 0.25), snr=0.5, spike_frac=0.5)


def test_slow_drift_has_its_time_scale(rng):
    t = np.arange(0, 3600.0, 1.0)
    d = slow_drift(t, rng, n_series=20, tau_s=(60.0, 60.0), n_components=1)
    assert d.shape == (t.size, 20)
    np.testing.assert_allclose(d.std(0), 1.0, atol=1e-2)  # unit variance over its grid
    lag = [np.mean([np.corrcoef(d[:-k, j], d[k:, j])[0, 1] for j in range(20)])
           for k in (1, 60, 240)]
    # OU with tau = 60 s: autocorrelation exp(-k / 60) (sampling error of a 1 h series).
    np.testing.assert_allclose(lag, np.exp(-np.array([1, 60, 240]) / 60), atol=0.12)
    with pytest.raises(ValueError, match="tau_s"):
        slow_drift(t, rng, tau_s=(0, 10))


def test_both_alignments_share_electrodes_and_film(data):
    lang, vis = data["language"], data["vision"]
    assert lang.electrodes == vis.electrodes
    assert list(lang.classes) == list(vis.classes)
    assert lang.responses.shape[1:] == vis.responses.shape[1:] == (12, 3)
    # ~2.5 words/s; one cut per 1-2.5 s shot.
    assert 2.0 < lang.times_s.size / 600 < 3.0
    assert 0.4 < vis.times_s.size / 600 < 1.0
    assert set(data) == {"language", "vision"}


def test_features_drift_with_scenes(data):
    # Every network's features, trained or random, share a scene-level component: events
    # of one scene are more alike than events of different scenes.
    ds = data["language"]
    for key in [("vision-b", "trained"), ("vision-b", "random")]:
        X = ds.features[key][0]
        means = np.array([X[ds.scenes == s].mean(0) for s in np.unique(ds.scenes)])
        between = means.var(0).mean()
        assert between > 0.1, key  # standardised features: scene means vary, not ~1/n


def _slow_variance(X: np.ndarray, t: np.ndarray, period_s: float = 120.0) -> float:
    """Fraction of the features' variance explained by cosines slower than ``period_s``."""
    span = t.max() - t.min()
    k = np.arange(1, int(2 * span / period_s) + 1)
    basis = np.cos(np.pi * np.outer((t - t.min()) / span, k))
    basis = np.column_stack([np.ones_like(t), basis])
    fit = basis @ np.linalg.lstsq(basis, X, rcond=None)[0]
    return float(((fit - X.mean(0)) ** 2).sum() / ((X - X.mean(0)) ** 2).sum())


def test_drifting_models_have_slow_features(data):
    ds = data["language"]
    drifting = {m.name for m in default_models() if m.drift}
    assert drifting == {"vision-a", "language-a", "multimodal-0"}
    for name in drifting:
        trained = _slow_variance(ds.features[(name, "trained")][0], ds.times_s)
        random = _slow_variance(ds.features[(name, "random")][0], ds.times_s)
        assert trained > random + 0.05, (name, trained, random)


def test_spikes_and_classes_are_planted(data):
    ds = data["language"]
    assert ds.spiking.sum() >= 3
    y = ds.responses
    peak = np.abs(y).max(axis=(0, 2))
    # Spiking electrodes reach far beyond the Gaussian noise + drift range.
    assert peak[ds.spiking].min() > peak[~ds.spiking].max()
    assert sorted(set(ds.classes)) == ["language", "multimodal", "null", "vision"]
    assert (ds.classes == "null").sum() == 3


def test_deterministic_given_the_seed():
    a = simulate_event_dataset(5, duration_s=120.0, n_electrodes=4, n_bins=2, block_s=10.0)
    b = simulate_event_dataset(5, duration_s=120.0, n_electrodes=4, n_bins=2, block_s=10.0)
    for al in a:
        np.testing.assert_array_equal(a[al].responses, b[al].responses)
        for key in a[al].features:
            np.testing.assert_array_equal(a[al].features[key][0], b[al].features[key][0])


def test_bad_class_fractions_are_refused():
    with pytest.raises(ValueError, match="class_frac"):
        simulate_event_dataset(0, class_frac=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="allowed values"):
        simulate_event_dataset(0, alignments=("audio",))
