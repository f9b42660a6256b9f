"""Preprocessing: re-reference plans, MNE filtering and event-locked window means, on real sEEG."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import welch

from neuroalign.data.preprocessing import (
    bin_centers,
    channel_quality,
    filter_band,
    preprocess_recording,
    reference_plan,
    valid_event_mask,
    window_means,
)

FS = 1000.0


@pytest.fixture(scope="module")
def seeg(shared_data):
    """The real sEEG recording: data of shape (98, 20000) in volts, channel names."""
    raw = mne.io.read_raw_edf(shared_data / "mne_misc_seeg_pat01" / "sample_seeg.edf",
                              preload=True, verbose="error")
    assert raw.info["sfreq"] == FS
    return raw.get_data(), list(raw.ch_names)


def _pick(seeg, names):
    data, all_names = seeg
    return data[[all_names.index(n) for n in names]].copy()


# ---------------------------------------------------------------------------------------------
# Bins and windows


def test_bin_centers():
    centers = bin_centers(-0.5, 1.5, 0.025)
    assert centers.shape == (81,)
    assert centers[0] == -0.5 and centers[-1] == 1.5
    np.testing.assert_allclose(np.diff(centers), 0.025)
    assert bin_centers(-2.0, 2.0, 0.025).shape == (161,)  # the reference: 161 bins over 4 s
    assert bin_centers(0.0, 0.0, 0.1).tolist() == [0.0]
    with pytest.raises(ValueError, match="step_s"):
        bin_centers(0, 1, 0)


def test_valid_event_mask():
    # Bins -0.5..1.5 s with 0.2 s windows need 0.6 s before and 1.6 s after the event.
    events = np.array([0, 599, 600, 8400, 8401])
    mask = valid_event_mask(events, 10_000, FS, -0.5, 1.5, 0.2)
    assert mask.tolist() == [False, False, True, True, False]


def test_window_means_matches_loop(rng):
    signal = rng.standard_normal((3, 2000)).astype(np.float32)
    events = np.array([300, 1000, 1499])
    centers = bin_centers(-0.2, 0.4, 0.05)
    window_s = 0.1
    fs = 500.0
    out = window_means(signal, events, fs, centers, window_s)
    assert out.shape == (3, 3, len(centers)) and out.dtype == np.float32
    expected = np.empty_like(out)
    n_win = int(round(window_s * fs))
    for e, ev in enumerate(events):
        for b, c in enumerate(centers):
            start = ev + int(round((c - window_s / 2) * fs))
            expected[e, :, b] = signal[:, start:start + n_win].mean(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_window_means_outside_recording(rng):
    signal = rng.standard_normal((2, 2000))
    centers = bin_centers(-0.5, 0.5, 0.1)  # needs 0.6 s either side
    with pytest.raises(ValueError, match="2 of 3 events"):
        window_means(signal, [100, 1000, 1950], 1000.0, centers, 0.2)


# ---------------------------------------------------------------------------------------------
# Re-reference plans


def test_laplacian_equals_hand_computation(seeg):
    data, names = seeg
    plan = reference_plan(names, "laplacian")
    out = plan.weights @ data  # (n_out, n_samples)
    x = {n: data[names.index(n)] for n in ("L'1", "L'2", "L'3", "L'13", "L'14")}
    close = {"rtol": 1e-7, "atol": 1e-12}  # volts; exact up to summation order
    np.testing.assert_allclose(out[plan.out_names.index("L'2")],
                               x["L'2"] - (x["L'1"] + x["L'3"]) / 2, **close)
    np.testing.assert_allclose(out[plan.out_names.index("L'1")], x["L'1"] - x["L'2"], **close)
    np.testing.assert_allclose(out[plan.out_names.index("L'14")], x["L'14"] - x["L'13"], **close)
    # The 88 contacts all have a neighbour; the DC inputs and the EKG are dropped.
    assert len(plan.out_names) == 88
    assert set(plan.dropped) == {f"DC0{i}" for i in range(1, 9)} | {"EKG1", "EKG2"}
    assert "non-neural" in plan.dropped["EKG1"]


def test_laplacian_skips_unusable_neighbours():
    names = ["A1", "A2", "A3", "A5", "B1"]
    usable = np.array([True, True, False, True, True])
    plan = reference_plan(names, "laplacian", usable)
    # A1 and A2 are each other's only neighbour: A1 - A2 and A2 - A1 are one signal, kept
    # once as the pair (its envelope would otherwise count as two electrodes).
    assert plan.out_names == ["A1-A2"]
    np.testing.assert_allclose(plan.weights, [[1, -1, 0, 0, 0]])
    assert plan.dropped["A2"] == ("laplacian: A1 and A2 are an isolated clean pair, kept once "
                                  "as A1-A2")
    assert plan.dropped["A3"] == "marked unusable"
    assert plan.dropped["A5"] == "laplacian: no clean same-shaft neighbour"
    assert plan.dropped["B1"] == "laplacian: no clean same-shaft neighbour"


def test_laplacian_keeps_every_contact_of_a_run_of_three():
    names = ["A1", "A2", "A3", "B4", "B5", "B7", "B8", "B9"]
    plan = reference_plan(names, "laplacian")
    # A1 - A2 and A2 - (A1 + A3) / 2 differ: no pair. B4-B5 is isolated (B6 missing).
    assert plan.out_names == ["A1", "A2", "A3", "B4-B5", "B7", "B8", "B9"]
    np.testing.assert_allclose(plan.weights[3], [0, 0, 0, 1, -1, 0, 0, 0])
    assert set(plan.dropped) == {"B5"}


def test_bipolar():
    names = ["A1", "A2", "A3", "A5", "B1", "B2", "EKG1"]
    usable = np.array([True, True, True, True, True, False, True])
    plan = reference_plan(names, "bipolar", usable)
    assert plan.out_names == ["A1-A2", "A2-A3"]
    np.testing.assert_allclose(plan.weights, [[1, -1, 0, 0, 0, 0, 0], [0, 1, -1, 0, 0, 0, 0]])
    assert set(plan.dropped) == {"A5", "B1", "B2", "EKG1"}
    assert "consecutive" in plan.dropped["A5"]


def test_car_and_none(rng):
    names = ["A1", "A2", "B1", "B2", "DC1"]
    usable = np.array([True, True, False, True, True])
    data = rng.standard_normal((5, 100))
    car = reference_plan(names, "car", usable)
    assert car.out_names == ["A1", "A2", "B2"]
    mean = data[[0, 1, 3]].mean(axis=0)
    np.testing.assert_allclose(car.weights @ data, data[[0, 1, 3]] - mean)
    assert set(car.dropped) == {"B1", "DC1"}
    none = reference_plan(names, "none", usable)
    assert none.out_names == ["A1", "A2", "B2"]
    np.testing.assert_allclose(none.weights @ data, data[[0, 1, 3]])
    assert none.common is None


@pytest.mark.parametrize("reference", ["laplacian", "bipolar"])
def test_ecog_grids_get_a_common_average_within_the_grid_never_a_shaft_neighbour(rng, reference):
    # An 8 x 6 grid F01..F48 (row-major: F08 ends row 1, F09 starts row 2), a 4-contact strip
    # IH1..IH4, a depth shaft A1..A3, and a strip P with one contact.
    grid = [f"F{i:02d}" for i in range(1, 49)]
    names = grid + ["IH1", "IH2", "IH3", "IH4", "A1", "A2", "A3", "P01", "Q1", "Q2"]
    kinds = ["ECOG"] * 52 + ["SEEG"] * 3 + ["ecog"] * 3
    groups = ["F"] * 48 + ["IH"] * 4 + ["A"] * 3 + ["P"] + ["Q"] * 2
    usable = np.ones(len(names), bool)
    usable[names.index("F20")] = False
    data = rng.standard_normal((len(names), 200))
    plan = reference_plan(names, reference, usable, kinds=kinds, groups=groups)
    out = dict(zip(plan.out_names, plan.weights @ data, strict=True))
    clean_grid = [i for i, n in enumerate(grid) if n != "F20"]
    for name in ("F08", "F09", "F48"):
        i = names.index(name)
        np.testing.assert_allclose(out[name], data[i] - data[clean_grid].mean(axis=0))
    np.testing.assert_allclose(out["IH2"], data[names.index("IH2")] - data[48:52].mean(axis=0))
    # Depth contacts keep the shaft scheme.
    if reference == "laplacian":
        np.testing.assert_allclose(out["A2"], data[53] - (data[52] + data[54]) / 2)
    else:
        np.testing.assert_allclose(out["A1-A2"], data[52] - data[53])
    assert "P01" not in out and "has no other clean contact" in plan.dropped["P01"]
    # A strip of two is one signal: kept once, as the pair.
    np.testing.assert_allclose(out["Q1-Q2"], data[-2] - data[-1])
    assert "Q1" not in out and "Q2" not in out and "kept once as Q1-Q2" in plan.dropped["Q2"]
    assert "F20" not in out
    # Without types every contact is on a shaft: F08's neighbours would be F07 and F09.
    shafts = reference_plan(names, "laplacian", usable)
    row = shafts.weights[shafts.out_names.index("F08")]
    assert np.count_nonzero(row) == 3


def test_chunked_grid_reference_matches_the_plan(rng):
    names = [f"G{i}" for i in range(1, 13)] + ["S1", "S2", "S3"]
    kinds = ["ECOG"] * 12 + ["SEEG"] * 3
    x = rng.standard_normal((len(names), 4000)) * 1e-5
    events = np.array([700, 2000, 3100])
    calls: list[int] = []

    def read(idx):
        calls.append(len(idx))
        return x[idx]

    kwargs = dict(reference="laplacian", kinds=kinds, groups=None, tmin=-0.2, tmax=0.5,
                  window_s=0.1, band="broadband", line_freq=None)
    small = preprocess_recording(read, names, FS, events, chunk_channels=3, **kwargs)
    assert max(calls) <= 3 * 3  # the grid's mean is a chunked pass, as for CAR
    large = preprocess_recording(read, names, FS, events, chunk_channels=100, **kwargs)
    assert small.names == large.names == names
    np.testing.assert_allclose(small.responses, large.responses, atol=1e-6)


def test_unknown_reference():
    with pytest.raises(ValueError, match="Allowed values are 'laplacian', 'bipolar', 'car' and "
                                         "'none', but got 'laplace' instead"):
        reference_plan(["A1", "A2"], "laplace")
    with pytest.raises(ValueError, match="'reference' parameter"):
        preprocess_recording(lambda idx: np.zeros((len(idx), 10)), ["A1"], FS, [], reference="avg")


# ---------------------------------------------------------------------------------------------
# Filtering


def _relative_db(psd, f, freq):
    """Power at ``freq`` relative to the median 3-8 Hz away, in dB: scale-free."""
    at = int(np.argmin(np.abs(f - freq)))
    near = (np.abs(f - freq) > 3) & (np.abs(f - freq) < 8)
    return 10 * np.log10(psd[..., at] / np.median(psd[..., near], axis=-1))


def test_notch_reduces_line_noise(seeg):
    data, names = seeg
    x = data[:88]  # the sEEG contacts
    f, before = welch(x, fs=FS, nperseg=4000)  # 0.25 Hz resolution
    # The line frequency of this recording is 60 Hz, not 50 Hz.
    peak = _relative_db(before, f, 60)
    assert np.median(peak) > 10 and np.median(_relative_db(before, f, 50)) < 3
    noisy = np.flatnonzero(peak > 20)  # contacts with strong line noise
    assert len(noisy) >= 5
    x_before = x[noisy].copy()
    out = filter_band(x[noisy], FS, line_freq=60.0, band="broadband")
    np.testing.assert_array_equal(x[noisy], x_before)  # the input is not filtered in place
    after = welch(out, fs=FS, nperseg=4000)[1]
    # Relative to neighbouring frequencies, so the z-score does not enter.
    reduction = peak[noisy] - _relative_db(after, f, 60)
    assert reduction.min() >= 20, reduction
    # Harmonics below Nyquist go too (180 Hz is strong in this recording).
    assert (_relative_db(before[noisy], f, 180) - _relative_db(after, f, 180)).min() >= 20
    # Away from the line frequencies the spectral shape is unchanged.
    low, high = (f > 20) & (f < 45), (f > 130) & (f < 170)
    shape_before = before[noisy][:, low].sum(1) / before[noisy][:, high].sum(1)
    shape_after = after[:, low].sum(1) / after[:, high].sum(1)
    np.testing.assert_allclose(shape_after, shape_before, rtol=0.02)


def test_filter_band_zscores(seeg):
    x = _pick(seeg, ["L'4", "L'5"])
    for band in ("high_gamma", "broadband"):
        out = filter_band(x, FS, band=band)
        assert out.shape == x.shape and out.dtype == np.float32
        np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-4)
        np.testing.assert_allclose(out.std(axis=1), 1, rtol=1e-3)
    with pytest.raises(ValueError, match="'band' parameter"):
        filter_band(x, FS, band="gamma")


def test_high_gamma_burst(seeg):
    """A 200 ms 100 Hz burst at a known time shows in the bins that overlap it, only there."""
    names = ["L'4", "L'5", "L'6"]
    x = _pick(seeg, names)
    t = np.arange(x.shape[1]) / FS
    burst = (t >= 10.0) & (t < 10.2)
    x[1, burst] += 3 * x[1].std() * np.sin(2 * np.pi * 100 * t[burst])
    events = np.array([3000, 9500, 15000])  # the burst is 0.5..0.7 s after the second event
    res = preprocess_recording(lambda idx: x[idx], names, FS, events, reference="none")
    assert res.names == names and res.responses.shape == (3, 3, 81)
    centers = res.bin_centers_s
    z = res.responses[1, 1]
    overlap = np.abs(centers - 0.6) < 0.2 - 1e-9  # windows [c-0.1, c+0.1) that meet the burst
    core = np.abs(centers - 0.6) <= 0.1 + 1e-9
    assert centers[np.argmax(z)] == pytest.approx(0.6)
    assert z[core].min() > 3
    assert np.abs(z[~overlap]).max() < 0.1 * z.max()
    assert np.abs(z[np.abs(centers - 0.6) >= 0.25]).max() < 0.5
    # Nothing at the other events, nor on the untouched channels.
    assert np.abs(res.responses[[0, 2], 1]).max() < 1
    assert np.abs(res.responses[:, [0, 2]]).max() < 2  # real activity, no burst


# ---------------------------------------------------------------------------------------------
# Whole recording


@pytest.fixture(scope="module")
def broken(seeg):
    """Twenty real channels (three shafts' worth, DC and EKG) with a NaN, an all-NaN and a flat one."""
    data, all_names = seeg
    names = ([f"L'{i}" for i in range(1, 8)] + [f"N'{i}" for i in range(1, 8)]
             + ["DC01", "EKG1", "F'1", "F'2", "F'3", "F'4"])
    x = _pick(seeg, names)[:, :8000]  # longer than the notch filter
    x[names.index("L'3"), 1000:1100] = np.nan
    x[names.index("N'5")] = np.nan
    x[names.index("F'2")] = 1e-5
    return x, names


def test_channel_quality(broken):
    x, names = broken
    bad = channel_quality(lambda idx: x[idx], len(names), 4)
    assert {names[i]: r for i, r in bad.items()} == {
        "L'3": "contains 100 NaN samples", "N'5": "all NaN", "F'2": "flat (zero variance)"}


@pytest.mark.parametrize("reference", ["laplacian", "car", "bipolar"])
def test_chunking_does_not_change_results(broken, reference):
    x, names = broken
    events = np.array([700, 2500, 4200])
    calls: list[int] = []

    def read(idx):
        calls.append(len(idx))
        return x[idx]

    small = preprocess_recording(read, names, FS, events, reference=reference, chunk_channels=3,
                                 tmin=-0.2, tmax=0.5, window_s=0.1)
    # Memory is bounded by the chunk: a chunk reads its own channels and at most their neighbours.
    assert max(calls) <= 3 * 3
    large = preprocess_recording(read, names, FS, events, reference=reference, chunk_channels=100,
                                 tmin=-0.2, tmax=0.5, window_s=0.1)
    assert small.names == large.names
    np.testing.assert_allclose(small.responses, large.responses, atol=1e-4)
    assert small.responses.shape == (3, len(small.names), 29)
    assert np.isfinite(small.responses).all()
    for name, reason in [("L'3", "contains 100 NaN samples"), ("N'5", "all NaN"),
                         ("F'2", "flat (zero variance)")]:
        assert small.dropped[name] == reason
        assert not any(name in out.split("-") for out in small.names)
    assert "non-neural" in small.dropped["DC01"] and "non-neural" in small.dropped["EKG1"]
    if reference == "laplacian":
        # L'1-L'2, N'6-N'7 and F'3-F'4 are isolated clean pairs (L'3, N'5, F'2 are bad).
        assert small.names == ["L'1-L'2", "L'4", "L'5", "L'6", "L'7",
                               "N'1", "N'2", "N'3", "N'4", "N'6-N'7", "F'3-F'4"]
        assert small.dropped["F'1"] == "laplacian: no clean same-shaft neighbour"


def test_preprocess_laplacian_matches_hand_reference(seeg):
    """End to end, the Laplacian output of L'2 is the hand-computed L'2 - (L'1 + L'3) / 2."""
    x = _pick(seeg, ["L'1", "L'2", "L'3"])[:, :8000]
    events = np.array([1000, 3000])
    kw = dict(tmin=-0.2, tmax=0.5, window_s=0.1)
    lap = preprocess_recording(lambda idx: x[idx], ["L'1", "L'2", "L'3"], FS, events, **kw)
    hand = (x[1] - (x[0] + x[2]) / 2)[None]
    ref = preprocess_recording(lambda idx: hand[idx], ["L'2"], FS, events, reference="none", **kw)
    np.testing.assert_allclose(lap.responses[:, [1]], ref.responses, atol=1e-4)


def test_preprocess_rejects_events_outside(seeg):
    x = _pick(seeg, ["L'1", "L'2"])[:, :3000]
    with pytest.raises(ValueError, match="1 of 2 events"):
        preprocess_recording(lambda idx: x[idx], ["L'1", "L'2"], FS, [1000, 2900])


# ---------------------------------------------------------------------------------------------
# Epileptiform spikes


def _null_channels(seed: int, rate_per_min: float, n_ch: int = 3, fs: float = 1024.0,
                   duration_s: float = 240.0):
    """Simulator null channels (no stimulus drive), with spikes at Poisson times if rate > 0."""
    from neuroalign.simulate import signals

    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    shaft, line = signals.pink_noise(rng, n, fs), signals.line_noise(rng, n, fs)
    xs, truth = [], []
    for _ in range(n_ch):
        x = signals.brain_signal(rng, n, fs, shaft, line, None, 0.0)
        t = signals.spike_times(rng, duration_s, rate_per_min) if rate_per_min else np.array([])
        signals.add_spikes(x, t, fs, rng)
        xs.append(x)
        truth.append(np.round(t * fs).astype(int))
    return np.array(xs), truth


def _match(a: np.ndarray, b: np.ndarray, tol: int) -> float:
    """Fraction of ``a`` with an element of ``b`` within ``tol`` samples."""
    return float(np.mean([np.any(np.abs(b - x) <= tol) for x in a])) if len(a) else 1.0


def test_detect_spikes_finds_the_planted_ones():
    from neuroalign.data.preprocessing import detect_spikes

    fs = 1024.0
    spiky, truth = _null_channels(1, 10.0, fs=fs)
    clean, _ = _null_channels(1, 0.0, fs=fs)
    found = detect_spikes(spiky, fs)
    tol = int(0.06 * fs)
    recall = np.mean([_match(truth[c], found[c], tol) for c in range(len(truth))])
    precision = np.mean([_match(found[c], truth[c], tol) for c in range(len(truth))])
    assert sum(map(len, truth)) > 80
    assert recall >= 0.9 and precision >= 0.95, (recall, precision)
    assert sum(map(len, detect_spikes(clean, fs))) == 0  # nothing on spike-free data
    with pytest.raises(ValueError, match="allowed values are > 1"):
        detect_spikes(spiky, fs, threshold=0.5)


def test_spike_masking_keeps_a_spiking_null_electrode_calibrated():
    """A null electrode with spikes gives no more event-locked response than without."""
    fs = 1024.0
    spiky, _ = _null_channels(1, 10.0, fs=fs)
    clean, _ = _null_channels(1, 0.0, fs=fs)
    names = ["A1", "A2", "A3"]
    events = np.sort(np.random.default_rng(7).uniform(2 * fs, spiky.shape[1] - 3 * fs, 400))
    events = events.astype(int)

    def run(data, spikes):
        return preprocess_recording(lambda idx: data[idx], names, fs, events, reference="none",
                                    spikes=spikes)

    def max_z(res):  # largest |event mean| over bins in SEs, per channel
        r = res.responses.astype(float)
        return np.abs(r.mean(axis=0) / (r.std(axis=0) / np.sqrt(len(r)))).max(axis=1)

    base, masked, raw = run(clean, None), run(spiky, {}), run(spiky, {"action": "none"})
    assert masked.spike_hit.sum() > 0.2 * masked.spike_hit.size  # many events hit
    # The event mean stays within its noise with masking, as without spikes (81 bins).
    assert np.all(max_z(masked) < 4.0), max_z(masked)
    assert np.all(max_z(masked) < max_z(base) + 1.0), (max_z(masked), max_z(base))
    # Per-event spread back to the clean one; unmasked spikes inflate it.
    sd = {k: r.responses.mean(axis=2).std(axis=0) for k, r in
          (("base", base), ("masked", masked), ("raw", raw))}
    assert np.all(sd["masked"] < 1.3 * sd["base"]) and np.all(sd["raw"] > 1.4 * sd["base"]), sd
    # Recording only (action 'none') detects the same spikes and leaves responses as without.
    assert {k: v.tolist() for k, v in raw.spikes.items()} == \
        {k: v.tolist() for k, v in masked.spikes.items()}
    np.testing.assert_array_equal(raw.responses, run(spiky, None).responses)


def test_spike_detection_leaves_clean_data_unchanged():
    fs = 1024.0
    clean, _ = _null_channels(3, 0.0, fs=fs, duration_s=60.0)
    events = np.arange(int(2 * fs), clean.shape[1] - int(3 * fs), int(1.3 * fs))
    kw = dict(reference="none")
    on = preprocess_recording(lambda idx: clean[idx], ["A1", "A2", "A3"], fs, events,
                              spikes={}, **kw)
    off = preprocess_recording(lambda idx: clean[idx], ["A1", "A2", "A3"], fs, events, **kw)
    np.testing.assert_array_equal(on.responses, off.responses)
    assert not on.spike_hit.any() and all(len(v) == 0 for v in on.spikes.values())
    with pytest.raises(ValueError, match="Allowed values are 'none' and 'mask'"):
        preprocess_recording(lambda idx: clean[idx], ["A1", "A2", "A3"], fs, events,
                             spikes={"action": "drop"}, **kw)
    with pytest.raises(ValueError, match="allowed keys"):
        preprocess_recording(lambda idx: clean[idx], ["A1", "A2", "A3"], fs, events,
                             spikes={"thresh": 5}, **kw)


def test_mask_excluded_from_zscore():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 4000))
    mask = np.zeros_like(x, bool)
    mask[0, 1000:1200] = True
    x[0, 1000:1200] += 500.0  # a transient
    out = filter_band(x, FS, line_freq=None, band="broadband", mask=mask)
    assert np.all(out[mask] == 0)
    assert abs(out[~mask].mean()) < 1e-6 and abs(out[~mask].std() - 1) < 1e-4
    with pytest.raises(ValueError, match="mask must have"):
        filter_band(x, FS, line_freq=None, band="broadband", mask=mask[:, :10])


def test_data_stage_records_spikes_against_ground_truth(built):
    """The tiny dataset's planted spikes are found in the responses file (default config)."""
    import re

    import h5py

    cfg, out, truth, summaries = built
    assert cfg["preprocessing"]["spikes"]["detect"] and cfg["preprocessing"]["spikes"]["action"] == "mask"
    split = re.compile(r"^(.*?)(\d+)$")
    recalls, precisions = [], []
    for sub in ("sub_1", "sub_2"):
        g = truth[sub]
        with h5py.File(out / sub / "language.h5", "r") as f:
            assert f.attrs["spikes_action"] == "mask"
            electrodes = [e.decode() for e in f["electrodes"][()]]
            hit = f["spike_hit"][()]
            assert hit.shape == f["responses"].shape[:2] and hit.any()
            det = {(int(t), e.decode(), int(s)) for t, e, s in
                   zip(f["spike_trial"][()], f["spike_electrode"][()], f["spike_sample"][()],
                       strict=True)}
        assert summaries[sub]["language"]["spikes_detected"] == len(det)
        tol = int(0.06 * g["fs"])
        for t, per in g["spikes"]["times_s"].items():
            planted = {lab: np.round(np.asarray(v) * g["fs"]).astype(int) for lab, v in per.items()}
            found = {e: np.array([s for tt, ee, s in det if tt == int(t) and ee == e])
                     for e in electrodes}
            for lab, times in planted.items():
                if lab in found:
                    recalls.append(_match(times, found[lab], tol))
            for e, times in found.items():
                # The Laplacian carries a contact's spike into its same-shaft neighbours.
                shaft, num = split.match(e).groups()
                near = [f"{shaft}{int(num) + d}" for d in (-1, 0, 1)]
                src = np.concatenate([planted.get(n, np.array([], int)) for n in near])
                if len(times):
                    precisions.append(_match(times, src, tol))
    assert np.mean(recalls) >= 0.9 and np.mean(precisions) >= 0.95, (recalls, precisions)
