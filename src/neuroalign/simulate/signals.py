"""Latents, stimulus drives, trigger tables and channel signals of the simulator.

Signal model of one brain channel (µV), at the recording rate ``fs``::

    x(t) = a_pink * (0.75 * own_pink(t) + 0.66 * shaft_pink(t))   # 1/f^2 background
         + g * line(t)                                              # 60 Hz + harmonics
         + b * gain(t) * max(1 + snr * drive(t), 0.05) * hg(t)     # high-gamma carrier
         + spikes(t)                                                # interictal-like
         + white(t)

``hg`` is unit-RMS Gaussian noise band-limited to 70-250 Hz, ``shaft_pink`` is shared by
the contacts of a shaft (removed by Laplacian re-referencing), ``line`` is shared by the
subject, and ``drive`` (zero mean, unit variance over the recording) is 0 for null
electrodes. ``gain`` is the slow drift of the envelope (mean 1, log-normal, minutes-long;
1 without drift, see ``drift_gain``) and ``spikes`` a sum of ``spike_waveform`` transients
at Poisson times (0 on electrodes without spikes). Drives and gains are built on a 100 Hz
grid and interpolated to ``fs``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.fft as sfft
from scipy.signal import fftconvolve

__all__ = ["DRIVE_FS", "response_kernel", "random_latents", "TrialTiming", "trigger_table",
           "electrode_drive", "brain_signal", "artifact_signal", "line_noise", "pink_noise",
           "trigger_channel", "dc_channel", "drift_gain", "spike_waveform", "spike_times",
           "add_spikes"]

DRIVE_FS = 100.0  # Hz, grid of the stimulus drives (they are smooth at this scale)


def response_kernel(fs: float = DRIVE_FS) -> np.ndarray:
    """Event-locked response: smooth gamma-shaped bump peaking at 200 ms, ~600 ms long.

    Returns
    -------
    numpy.ndarray, shape (round(0.8 * fs),)
        ``(t / 0.2)^2 exp(2 (1 - t / 0.2))`` for ``t`` in [0, 0.8) s; peak 1.
    """
    t = np.arange(int(round(0.8 * fs))) / fs
    return (t / 0.2) ** 2 * np.exp(2.0 * (1.0 - t / 0.2))


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def random_latents(n_scenes: int, sentence_idx: np.ndarray, k: int,
                   rng: np.random.Generator, rho: float = 0.8,
                   rho_reset: float = 0.3, shot_scene: np.ndarray | None = None,
                   word_scene: np.ndarray | None = None,
                   scene_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Content-free latents, autocorrelated like a real movie's.

    Parameters
    ----------
    n_scenes : int
        Number of shots (each cut starts one; the name predates scenes of shots).
    sentence_idx : numpy.ndarray, shape (n_words,)
        Sentence of each word.
    k : int
        Latent dimension.
    rng : numpy.random.Generator
        Source of randomness.
    rho, rho_reset : float
        AR(1) coefficient between words of a sentence, and across a sentence start
        (partial reset).
    shot_scene : numpy.ndarray, shape (n_scenes,) | None
        Scene of each shot (film scenes of several shots); with ``word_scene`` and
        ``scene_share > 0`` each scene adds a shared N(0, I) component.
    word_scene : numpy.ndarray, shape (n_words,) | None
        Scene on screen at each word.
    scene_share : float
        Fraction of the variance of both latents that is the scene's component (its
        setting for vision, its topic for language), in [0, 1].

    Returns
    -------
    vision : numpy.ndarray, shape (n_scenes, k)
        ``sqrt(1 - s) e_shot + sqrt(s) c_scene`` per shot (constant within a shot),
        z-scored.
    language : numpy.ndarray, shape (n_words, k)
        ``sqrt(1 - s) AR(1) + sqrt(s) t_scene`` across words, z-scored.
    """
    if not 0.0 <= scene_share <= 1.0:
        raise ValueError(f"scene_share must be in [0, 1], got {scene_share!r}.")
    vision = rng.standard_normal((n_scenes, k))
    eps = rng.standard_normal((len(sentence_idx), k))
    lang = np.zeros_like(eps)
    prev = np.zeros(k)
    for i in range(len(sentence_idx)):
        r = rho_reset if i == 0 or sentence_idx[i] != sentence_idx[i - 1] else rho
        prev = r * prev + np.sqrt(1 - r * r) * eps[i]
        lang[i] = prev
    if scene_share > 0 and shot_scene is not None and word_scene is not None:
        n_sc = int(max(np.max(shot_scene), np.max(word_scene, initial=0))) + 1
        setting, topic = rng.standard_normal((2, n_sc, k))
        a, c = np.sqrt(1.0 - scene_share), np.sqrt(scene_share)
        vision = a * vision + c * setting[np.asarray(shot_scene)]
        lang = a * lang + c * topic[np.asarray(word_scene)]
    return _zscore(vision), _zscore(lang)


class TrialTiming:
    """Movie-to-recording clock of one trial.

    The recording starts ``lead_s`` before the movie; the movie pauses once, at movie
    time ``pause_t`` (half-way between two 1 s triggers, so the nearest-trigger mapping
    is exact on both sides) for ``pause_s`` seconds; it ends ``tail_s`` after the movie.
    """

    def __init__(self, duration: float, fs: float, rng: np.random.Generator) -> None:
        self.duration, self.fs = float(duration), float(fs)
        self.lead_s = float(np.round(rng.uniform(3.0, 6.0), 3))
        self.tail_s = float(np.round(rng.uniform(3.0, 6.0), 3))
        self.pause_s = float(np.round(rng.uniform(5.0, 10.0), 3))
        self.pause_t = float(np.floor(duration / 2)) + 0.5
        self.n_samples = int(round((self.lead_s + duration + self.pause_s + self.tail_s) * fs))
        self.movie_start_sample = int(round(self.lead_s * fs))

    def rec_time(self, t: np.ndarray) -> np.ndarray:
        """Recording time (s) at which movie time ``t`` (s) is on screen."""
        t = np.asarray(t, dtype=float)
        return self.lead_s + t + np.where(t > self.pause_t, self.pause_s, 0.0)


def trigger_table(timing: TrialTiming) -> pd.DataFrame:
    """Trigger table: one row per second of movie time.

    Columns: ``type`` (always ``"movie"``), ``movie_time`` (s), ``start_time`` /
    ``end_time`` (s since the recording start, 50 ms pulse), ``trig_type`` (always
    ``"second"``: one pulse per second of movie), ``index`` (sample when that movie time
    is on screen), ``diff`` (samples since the previous trigger, 0 first).
    """
    mt = np.arange(0, int(np.floor(timing.duration)) + 1, dtype=float)
    idx = np.round(timing.rec_time(mt) * timing.fs).astype(np.int64)
    start = idx / timing.fs
    return pd.DataFrame({"type": "movie", "movie_time": mt, "start_time": np.round(start, 6),
                         "end_time": np.round(start + 0.05, 6), "trig_type": "second",
                         "index": idx, "diff": np.diff(idx, prepend=idx[0])})


def _impulses(times: np.ndarray, amps: np.ndarray, n_grid: int) -> np.ndarray:
    train = np.zeros(n_grid)
    pos = np.round(np.asarray(times) * DRIVE_FS).astype(int)
    ok = (pos >= 0) & (pos < n_grid)
    np.add.at(train, pos[ok], np.asarray(amps)[ok])
    return train


def electrode_drive(kind: str, weights: dict[str, np.ndarray], events: dict,
                    n_grid: int) -> np.ndarray:
    """Stimulus drive of one electrode on the 100 Hz recording grid.

    Parameters
    ----------
    kind : {"vision", "language", "multimodal", "vision+language"}
        Electrode class (``vision+language``: the sum of the vision and language drives).
    weights : dict
        ``"vision"`` and/or ``"language"`` unit vectors, shape (k,).
    events : dict
        ``cut_t`` (n_scenes,) recording time of each scene start, ``end_t`` recording
        time of the movie end, ``word_t`` (n_words,) recording time of word onsets,
        ``word_scene`` (n_words,) scene on screen at each word, ``cut_word`` (n_scenes,)
        latest word before each cut (-1: none), ``vision`` (n_scenes, k) and
        ``language`` (n_words, k) latents.
    n_grid : int
        Grid length.

    Returns
    -------
    numpy.ndarray, shape (n_grid,)
        Zero mean, unit variance. Vision: sustained ``w.v`` of the scene on screen plus
        a transient at each cut; language: a response to ``w.l`` at each word onset;
        multimodal: a response to ``(w1.v_scene)(w2.l_word)`` at each word onset and at
        each cut (with the latest word).
    """
    ker = response_kernel()
    if kind == "vision+language":  # additive: no interaction, linear in the two latents
        total = (electrode_drive("vision", weights, events, n_grid)
                 + electrode_drive("language", weights, events, n_grid))
        return (total - total.mean()) / (total.std() or 1.0)
    if kind == "vision":
        a = events["vision"] @ weights["vision"]
        bounds = np.round(np.append(events["cut_t"], events["end_t"]) * DRIVE_FS).astype(int)
        steps = np.zeros(n_grid)
        for s in range(len(a)):
            steps[bounds[s]:bounds[s + 1]] = a[s]
        drive = fftconvolve(steps, ker / ker.sum())[:n_grid]
        drive += _impulses(events["cut_t"], a, n_grid)
    elif kind == "language":
        a = events["language"] @ weights["language"]
        drive = _impulses(events["word_t"], a, n_grid)
    elif kind == "multimodal":
        v = events["vision"] @ weights["vision"]
        lang = events["language"] @ weights["language"]
        a_words = v[events["word_scene"]] * lang
        cw = events["cut_word"]
        a_cuts = np.where(cw >= 0, v * lang[np.maximum(cw, 0)], 0.0)
        drive = _impulses(events["word_t"], a_words, n_grid) + _impulses(events["cut_t"], a_cuts,
                                                                           n_grid)
    else:
        raise ValueError(f"unknown electrode class {kind!r}")
    if kind != "vision":
        drive = fftconvolve(drive, ker)[:n_grid]
    sd = drive.std()
    return (drive - drive.mean()) / (sd if sd > 0 else 1.0)


def _fast_len(n: int) -> int:
    return sfft.next_fast_len(n, real=True)


def pink_noise(rng: np.random.Generator, n: int, fs: float, knee: float = 2.0) -> np.ndarray:
    """Unit-variance noise with power spectrum ``1 / (1 + (f / knee)^2)``, shape (n,)."""
    m = _fast_len(n)
    f = sfft.rfftfreq(m, 1.0 / fs)
    spec = rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))
    spec *= 1.0 / np.sqrt(1.0 + (f / knee) ** 2)
    spec[0] = 0.0
    x = sfft.irfft(spec, m)[:n]
    return x / x.std()


def band_noise(rng: np.random.Generator, n: int, fs: float, lo: float = 70.0,
               hi: float = 250.0) -> np.ndarray:
    """Unit-RMS Gaussian noise band-limited to [lo, hi] Hz (5 Hz cosine edges), shape (n,)."""
    m = _fast_len(n)
    f = sfft.rfftfreq(m, 1.0 / fs)
    hi = min(hi, 0.45 * fs)
    gain = np.clip(np.minimum(f - lo + 5.0, hi + 5.0 - f) / 10.0, 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    spec = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))) * gain
    x = sfft.irfft(spec, m)[:n]
    return x / np.sqrt(np.mean(x * x))


def line_noise(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """Subject-wide 60 Hz line noise with harmonics (random phases/amplitudes), µV, (n,)."""
    t = np.arange(n) / fs
    x = np.zeros(n)
    for h, amp in zip((1, 2, 3, 4), (12.0, 2.0, 1.0, 0.5), strict=True):
        if 60.0 * h < fs / 2:
            x += amp * rng.uniform(0.6, 1.4) * np.cos(2 * np.pi * 60.0 * h * t
                                                       + rng.uniform(0, 2 * np.pi))
    return x


def drift_gain(z: np.ndarray, sd: float) -> np.ndarray:
    """Log-normal gain of mean 1 and standard deviation ``sd`` from a unit-variance drift.

    Parameters
    ----------
    z : numpy.ndarray, any shape
        Zero-mean, unit-variance (Gaussian) slow drift, e.g. from ``slow_drift``.
    sd : float
        Standard deviation of the gain (its mean is 1), >= 0; 0 gives ones.

    Returns
    -------
    numpy.ndarray, same shape as ``z``
        ``exp(s z - s^2 / 2)`` with ``s = sqrt(log(1 + sd^2))``.
    """
    if not sd >= 0:
        raise ValueError(f"drift sd must be >= 0, got {sd!r}.")
    s = np.sqrt(np.log1p(sd * sd))
    return np.exp(s * np.asarray(z, dtype=float) - s * s / 2.0)


def spike_waveform(rng: np.random.Generator, fs: float) -> np.ndarray:
    """One interictal-like epileptiform transient in µV.

    A sharp wave (asymmetric triangle: rise a third, decay two thirds of a 20-70 ms
    duration, amplitude 350-900 µV, i.e. 7-35 times the channel's background SD) with a
    high-frequency burst under it (70-250 Hz noise of 6-10 % of the amplitude, RMS, so
    the transient reaches the high-gamma band at several times its background), followed
    by an opposite slow wave (half-sine of 150-300 ms, 20-40 % of the amplitude). Random
    polarity.

    Returns
    -------
    numpy.ndarray, shape (n_wave,)
        Waveform starting at the sharp wave's onset; ``n_wave`` about ``0.07-0.37 * fs``.
    """
    dur = rng.uniform(0.02, 0.07)
    amp = rng.uniform(350.0, 900.0) * rng.choice([-1.0, 1.0])
    n_sharp = max(3, int(round(dur * fs)))
    n_rise = max(1, n_sharp // 3)
    sharp = np.concatenate([np.linspace(0.0, 1.0, n_rise, endpoint=False),
                            np.linspace(1.0, 0.0, n_sharp - n_rise)])
    burst = band_noise(rng, n_sharp, fs) * np.hanning(n_sharp) * rng.uniform(0.06, 0.10)
    n_slow = int(round(rng.uniform(0.15, 0.3) * fs))
    slow = -rng.uniform(0.2, 0.4) * np.sin(np.pi * np.arange(n_slow) / n_slow)
    return amp * np.concatenate([sharp + burst, slow])


def spike_times(rng: np.random.Generator, duration_s: float, rate_per_min: float) -> np.ndarray:
    """Poisson event times in ``[0, duration_s)`` s at ``rate_per_min``, sorted, shape (n,)."""
    n = int(rng.poisson(rate_per_min * duration_s / 60.0))
    return np.sort(rng.uniform(0.0, duration_s, size=n))


def add_spikes(x: np.ndarray, times_s: np.ndarray, fs: float,
               rng: np.random.Generator) -> np.ndarray:
    """Add one :func:`spike_waveform` at each time (s since the start of ``x``), in place.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``x``.
    """
    for t in np.asarray(times_s, dtype=float):
        wave = spike_waveform(rng, fs)
        a = int(round(t * fs))
        b = min(len(x), a + len(wave))
        if 0 <= a < b:
            x[a:b] += wave[:b - a]
    return x


def brain_signal(rng: np.random.Generator, n: int, fs: float, shaft_pink: np.ndarray,
                 line: np.ndarray, drive: np.ndarray | None, snr: float,
                 gain: np.ndarray | None = None) -> np.ndarray:
    """One brain channel in µV (see the module docstring), shape (n,) float64.

    ``drive`` is the electrode's drive on the 100 Hz grid (``None`` for a null electrode)
    and ``gain`` its slow envelope gain on the same grid (``None``: 1).
    """
    a_pink = rng.uniform(25.0, 50.0)
    x = a_pink * (0.75 * pink_noise(rng, n, fs) + 0.66 * shaft_pink)
    x += rng.uniform(0.8, 1.2) * line
    b = rng.uniform(4.0, 6.0)  # background high-gamma RMS, µV
    hg = band_noise(rng, n, fs)
    t = np.arange(n) / fs
    if drive is not None:
        grid_t = np.arange(len(drive)) / DRIVE_FS
        env = np.interp(t, grid_t, drive)
        hg *= np.maximum(1.0 + snr * env, 0.05)
    if gain is not None:
        hg *= np.interp(t, np.arange(len(gain)) / DRIVE_FS, gain)
    x += b * hg
    x += rng.standard_normal(n)  # amplifier noise, 1 µV
    return x


def artifact_signal(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """A corrupted channel: huge drifts, saturation plateaus and spikes, µV, shape (n,)."""
    x = 400.0 * pink_noise(rng, n, fs, knee=0.2) + 20.0 * rng.standard_normal(n)
    for _ in range(max(3, n // int(20 * fs))):
        a = int(rng.integers(0, n))
        x[a:a + int(rng.uniform(0.02, 0.5) * fs)] = rng.choice([-1.0, 1.0]) * 8000.0
    return x


def trigger_channel(table: pd.DataFrame, n: int, fs: float) -> np.ndarray:
    """TRIG channel: 5000 µV-like pulses at the trigger samples, 0 elsewhere, shape (n,)."""
    x = np.zeros(n)
    width = int(round(0.05 * fs))
    for i in table["index"].to_numpy():
        x[i:i + width] = 5000.0
    return x


def dc_channel(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """DC (auxiliary) channel: a constant offset with a slow wander, shape (n,)."""
    return rng.uniform(-2000, 2000) + 50.0 * pink_noise(rng, n, fs, knee=0.05)
