"""Raw intracranial recording -> event-locked responses, in bounded memory.

Steps per recording (docs/DESIGN.md §5): detect bad channels, plan the re-reference, then for every
chunk of output channels: re-reference -> notch at the line frequency and its harmonics -> band
(high-gamma analytic amplitude or broadband) -> per-trial z-score -> mean in windows of
``window_s`` every ``step_s`` from ``tmin`` to ``tmax`` around each event. MNE does the filtering.

Optionally (``spikes``), epileptiform transients are detected per re-referenced channel
(:func:`detect_spikes`) and the envelope around each is masked (:func:`filter_band`'s ``mask``):
set to the channel's mean after a z-score computed without them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import mne
import numpy as np
from tqdm.auto import tqdm

from ..utils import _check_option, logger
from .referencing import REFERENCES, ReferencePlan, reference_plan

__all__ = [
    "PreprocessResult",
    "ReferencePlan",
    "SPIKE_ACTIONS",
    "bin_centers",
    "channel_quality",
    "detect_spikes",
    "filter_band",
    "spike_mask",
    "preprocess_recording",
    "reference_plan",
    "valid_event_mask",
    "window_means",
]

BANDS = ("high_gamma", "broadband")
SPIKE_ACTIONS = ("none", "mask")
# Defaults of the ``spikes`` option (config ``preprocessing.spikes``).
SPIKE_DEFAULTS = {"detect": True, "action": "mask", "threshold": 6.0, "band": (10.0, 45.0),
                  "pad_s": 0.25}

ReadChannels = Callable[[list[int]], np.ndarray]


# ----------------------------------------------------------------------------------------------
# Time bins and windows


def bin_centers(tmin: float, tmax: float, step_s: float) -> np.ndarray:
    """Centres of the response bins, from ``tmin`` to ``tmax`` inclusive.

    Parameters
    ----------
    tmin, tmax : float
        First and last bin centre relative to the event, in seconds.
    step_s : float
        Spacing of the bin centres, in seconds.

    Returns
    -------
    centers : array of shape (n_bins,)
        ``tmin + k * step_s``; ``-0.5..1.5`` with step ``0.025`` gives 81 bins.
    """
    if not step_s > 0:
        raise ValueError(f"step_s must be positive, got {step_s!r}.")
    if tmax < tmin:
        raise ValueError(f"tmax ({tmax!r}) must not be smaller than tmin ({tmin!r}).")
    # A small tolerance before flooring: (1.5 - -0.5) / 0.025 is 79.99999999999999, not 80.
    n_bins = int(np.floor((tmax - tmin) / step_s + 1e-9)) + 1
    return np.round(tmin + step_s * np.arange(n_bins), 12)


def _window_offsets(bin_centers_s: np.ndarray, fs: float, window_s: float) -> tuple[np.ndarray, int]:
    """First sample of every bin window relative to the event, and the window length in samples.

    Every window has the same number of samples so that all bins average alike.
    """
    if not window_s > 0:
        raise ValueError(f"window_s must be positive, got {window_s!r}.")
    n_win = max(1, int(round(window_s * fs)))
    starts = np.round((np.asarray(bin_centers_s, float) - window_s / 2.0) * fs).astype(np.int64)
    return starts, n_win


def _as_event_samples(event_samples: Sequence[int] | np.ndarray) -> np.ndarray:
    events = np.asarray(event_samples)
    if events.ndim != 1:
        raise ValueError(f"event_samples must be 1-D, got shape {events.shape}.")
    if events.dtype.kind == "f":
        events = np.rint(events)
    return events.astype(np.int64)


def valid_event_mask(
    event_samples: Sequence[int] | np.ndarray,
    n_samples: int,
    fs: float,
    tmin: float,
    tmax: float,
    window_s: float,
    step_s: float = 0.025,
) -> np.ndarray:
    """Which events have every bin window inside the recording.

    Parameters
    ----------
    event_samples : array of shape (n_events,)
        Event onsets, in samples from the start of the recording.
    n_samples : int
        Length of the recording, in samples.
    fs : float
        Sampling frequency, in Hz.
    tmin, tmax : float
        First and last bin centre relative to the event, in seconds.
    window_s : float
        Width of each bin window, in seconds.
    step_s : float
        Spacing of the bin centres; only the first and last centre matter here.

    Returns
    -------
    mask : array of shape (n_events,), dtype bool
        True where every window ``[c - w/2, c + w/2)`` lies inside ``[0, n_samples)``.
    """
    events = _as_event_samples(event_samples)
    starts, n_win = _window_offsets(bin_centers(tmin, tmax, step_s), fs, window_s)
    return (events + starts.min() >= 0) & (events + starts.max() + n_win <= n_samples)


def window_means(
    signal: np.ndarray,
    event_samples: Sequence[int] | np.ndarray,
    fs: float,
    bin_centers_s: np.ndarray,
    window_s: float,
) -> np.ndarray:
    """Mean of the signal in a window around every bin centre of every event.

    Parameters
    ----------
    signal : array of shape (n_channels, n_samples)
        The band-limited, z-scored signal.
    event_samples : array of shape (n_events,)
        Event onsets, in samples.
    fs : float
        Sampling frequency, in Hz.
    bin_centers_s : array of shape (n_bins,)
        Bin centres relative to the event, in seconds.
    window_s : float
        Window width, in seconds; the window of centre ``c`` is ``[c - w/2, c + w/2)``.

    Returns
    -------
    responses : array of shape (n_events, n_channels, n_bins), dtype float32
    """
    signal = np.asarray(signal)
    if signal.ndim != 2:
        raise ValueError(f"signal must be 2-D (n_channels, n_samples), got shape {signal.shape}.")
    events = _as_event_samples(event_samples)
    n_channels, n_samples = signal.shape
    starts, n_win = _window_offsets(bin_centers_s, fs, window_s)
    first = events[:, None] + starts[None, :]  # (n_events, n_bins)
    outside = (first.min(axis=1, initial=0) < 0) | (first.max(axis=1, initial=0) + n_win > n_samples)
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} of {len(events)} events have bin windows outside the recording "
            f"({n_samples} samples at {fs:g} Hz; bins {bin_centers_s[0]:g}..{bin_centers_s[-1]:g} s, "
            f"window {window_s:g} s). Drop them first with valid_event_mask()."
        )
    out = np.empty((len(events), n_channels, len(starts)), np.float32)
    csum = np.zeros(n_samples + 1)
    # One channel at a time keeps the float64 cumulative sum at one channel's length; the events
    # and bins are gathered at once by fancy indexing.
    for ch in range(n_channels):
        np.cumsum(signal[ch], dtype=np.float64, out=csum[1:])
        out[:, ch, :] = (csum[first + n_win] - csum[first]) / n_win
    return out


# ----------------------------------------------------------------------------------------------
# Filtering


def _mne_verbose(verbose: bool | str | int | None) -> bool | str | int:
    # MNE logs every filter design at INFO; that is noise inside a chunk loop unless asked for.
    return verbose if verbose not in (None, False) else "warning"


def detect_spikes(
    data: np.ndarray,
    fs: float,
    *,
    threshold: float = 6.0,
    band: tuple[float, float] = (10.0, 45.0),
    min_separation_s: float = 0.25,
    verbose: bool | str | int | None = None,
) -> list[np.ndarray]:
    """Epileptiform transients (interictal spikes) per channel, from a band envelope.

    The signal is band-passed (MNE FIR, default 10-45 Hz: where sharp waves of 20-70 ms have
    their energy and the stimulus-driven high gamma and the 60 Hz line have none) and its
    Hilbert amplitude taken; a spike is a run of samples whose amplitude exceeds
    ``threshold`` times the channel's median amplitude, located at the run's maximum. Runs
    closer than ``min_separation_s`` are one spike. The median is robust to the spikes
    themselves (they occupy a few % of the samples); for Gaussian background the amplitude
    is Rayleigh, and P(amplitude > 6 x median) = exp(-0.69 * 36) ~ 1e-11 per sample.

    Parameters
    ----------
    data : array of shape (n_channels, n_samples)
        Re-referenced broadband signal of one trial.
    fs : float
        Sampling frequency, in Hz.
    threshold : float
        Detection threshold in multiples of the median band amplitude (> 1).
    band : tuple of float
        Pass band in Hz (the upper edge is capped at ``0.45 * fs``).
    min_separation_s : float
        Supra-threshold runs closer than this are merged into one spike.
    verbose : bool | str | int | None
        Control logging (MNE's filter messages show only when truthy).

    Returns
    -------
    spikes : list of n_channels arrays of shape (n_spikes_c,), dtype int64
        Sample of each detected spike (the amplitude maximum), increasing.
    """
    if not threshold > 1:
        raise ValueError(f"Invalid spike threshold: allowed values are > 1 (multiples of the "
                         f"median band amplitude), but got {threshold!r}.")
    low, high = float(band[0]), min(float(band[1]), 0.45 * fs)
    if not 0 < low < high:
        raise ValueError(f"Invalid spike band {tuple(band)} at fs={fs:g} Hz: need 0 < low < "
                         f"high, with high capped at 0.45 * fs = {0.45 * fs:g} Hz.")
    data = np.atleast_2d(np.array(data, dtype=np.float64, copy=True))
    mne_verbose = _mne_verbose(verbose)
    info = mne.create_info([f"ch{i}" for i in range(len(data))], float(fs), ch_types="seeg")
    raw = mne.io.RawArray(data, info, verbose=mne_verbose)
    raw.filter(low, high, picks="all", verbose=mne_verbose)
    raw.apply_hilbert(picks="all", envelope=True, verbose=mne_verbose)
    env = raw.get_data()
    gap = max(1, int(round(min_separation_s * fs)))
    out = []
    for amp in env:
        med = np.median(amp)
        above = np.flatnonzero(amp > threshold * med) if med > 0 else np.array([], np.int64)
        if not len(above):
            out.append(np.array([], np.int64))
            continue
        starts = np.concatenate([[0], np.flatnonzero(np.diff(above) > gap) + 1])
        stops = np.append(starts[1:], len(above))
        peaks = [above[a] + int(np.argmax(amp[above[a]:above[b - 1] + 1]))
                 for a, b in zip(starts, stops, strict=True)]
        out.append(np.asarray(peaks, np.int64))
    return out


def spike_mask(spikes: Sequence[np.ndarray], n_samples: int, fs: float, pad_s: float) -> np.ndarray:
    """Samples within ``pad_s`` of a detected spike, per channel.

    Parameters
    ----------
    spikes : list of n_channels arrays of int
        Spike samples per channel (:func:`detect_spikes`).
    n_samples : int
        Length of the recording, in samples.
    fs : float
        Sampling frequency, in Hz.
    pad_s : float
        Half-width of the masked interval around each spike, in s (>= 0).

    Returns
    -------
    mask : array of shape (n_channels, n_samples), dtype bool
    """
    if not pad_s >= 0:
        raise ValueError(f"Invalid spike pad_s: allowed values are >= 0, but got {pad_s!r}.")
    pad = int(round(pad_s * fs))
    mask = np.zeros((len(spikes), int(n_samples)), bool)
    for c, peaks in enumerate(spikes):
        edges = np.zeros(int(n_samples) + 1, np.int32)
        peaks = np.asarray(peaks, np.int64)
        np.add.at(edges, np.clip(peaks - pad, 0, n_samples), 1)
        np.add.at(edges, np.clip(peaks + pad + 1, 0, n_samples), -1)
        mask[c] = np.cumsum(edges[:-1]) > 0
    return mask


def filter_band(
    data: np.ndarray,
    fs: float,
    *,
    line_freq: float | None = 60.0,
    band: str = "high_gamma",
    high_gamma: tuple[float, float] = (70.0, 250.0),
    mask: np.ndarray | None = None,
    verbose: bool | str | int | None = None,
) -> np.ndarray:
    """Notch line noise, extract the band and z-score each channel over the whole trial.

    Parameters
    ----------
    data : array of shape (n_channels, n_samples)
        Re-referenced signal of one trial (recording).
    fs : float
        Sampling frequency, in Hz.
    line_freq : float | None
        Line frequency; it and its harmonics below Nyquist are notched. None skips the notch.
    band : 'high_gamma' | 'broadband'
        ``high_gamma``: band-pass ``high_gamma`` (upper edge capped at ``0.45 * fs``) then the
        Hilbert amplitude envelope. ``broadband``: the notched signal.
    high_gamma : tuple of float
        Edges of the high-gamma band, in Hz.
    mask : array of shape (n_channels, n_samples), dtype bool | None
        Samples to discard (e.g. :func:`spike_mask`): the z-score's mean and SD are computed
        without them and they are set to 0 (the channel's mean). Under a null whose masked
        stretches are not locked to the events, an event window that a mask hits is then
        as likely above as below its expectation: no spurious event-locked response.
    verbose : bool | str | int | None
        Control logging (MNE's filter messages show only when truthy).

    Returns
    -------
    signal : array of shape (n_channels, n_samples), dtype float32
        Per-channel z-scored signal.
    """
    _check_option("band", band, BANDS)
    # A copy: MNE filters a float64 RawArray in place, which would change the caller's array.
    data = np.atleast_2d(np.array(data, dtype=np.float64, copy=True))
    mne_verbose = _mne_verbose(verbose)
    info = mne.create_info([f"ch{i}" for i in range(len(data))], float(fs), ch_types="seeg")
    raw = mne.io.RawArray(data, info, verbose=mne_verbose)
    nyquist = fs / 2.0
    if line_freq is not None:
        freqs = np.arange(line_freq, nyquist, line_freq)
        # The notch's transition band must fit below Nyquist too.
        freqs = freqs[freqs < nyquist - 1.0]
        if len(freqs):
            raw.notch_filter(freqs, picks="all", verbose=mne_verbose)
    if band == "high_gamma":
        low, high = float(high_gamma[0]), min(float(high_gamma[1]), 0.45 * fs)
        if not 0 < low < high:
            raise ValueError(
                f"Invalid high_gamma band {tuple(high_gamma)} at fs={fs:g} Hz: need "
                f"0 < low < high, with high capped at 0.45 * fs = {0.45 * fs:g} Hz."
            )
        raw.filter(low, high, picks="all", verbose=mne_verbose)
        raw.apply_hilbert(picks="all", envelope=True, verbose=mne_verbose)
    out = raw.get_data()
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != out.shape:
            raise ValueError(f"mask must have the data's shape {out.shape}, got {mask.shape}.")
    if mask is None or not mask.any():
        mean = out.mean(axis=1, keepdims=True)
        std = out.std(axis=1, keepdims=True)
    else:
        keep = ~mask
        n_keep = np.maximum(keep.sum(axis=1, keepdims=True), 1)
        mean = np.where(keep, out, 0.0).sum(axis=1, keepdims=True) / n_keep
        std = np.sqrt(np.where(keep, (out - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / n_keep)
        out[mask] = np.broadcast_to(mean, out.shape)[mask]
    std[std == 0] = 1.0  # a flat channel stays at zero rather than turning into NaN
    return ((out - mean) / std).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Recording -> responses


@dataclass
class PreprocessResult:
    """Event-locked responses of one recording.

    Attributes
    ----------
    responses : array of shape (n_events, n_out, n_bins), dtype float32
    names : list of str
        Output channel names, in axis order.
    bin_centers_s : array of shape (n_bins,)
    dropped : dict of str to str
        Input channels left out, with the reason.
    fs : float
    spikes : dict of str to array of int
        Detected epileptiform spikes per output channel (samples); empty when not detected.
    spike_hit : array of shape (n_events, n_out), dtype bool
        Whether a detected spike's interval (``pad_s`` around it) overlaps the event's
        response span (first window start to last window end); all False when not detected.
    """

    responses: np.ndarray
    names: list[str]
    bin_centers_s: np.ndarray
    dropped: dict[str, str]
    fs: float
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    spike_hit: np.ndarray | None = None


def _chunks(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


def _read(read_channels: ReadChannels, indices: np.ndarray) -> np.ndarray:
    data = np.asarray(read_channels([int(i) for i in indices]))
    if data.ndim != 2 or data.shape[0] != len(indices):
        raise ValueError(
            f"read_channels({len(indices)} indices) returned shape {data.shape}; expected "
            f"({len(indices)}, n_samples)."
        )
    return data


def _channel_quality(
    read_channels: ReadChannels, n_channels: int, chunk_channels: int
) -> tuple[dict[int, str], int]:
    bad: dict[int, str] = {}
    n_samples = -1
    for idx in _chunks(n_channels, chunk_channels):
        data = _read(read_channels, idx)
        if n_samples < 0:
            n_samples = data.shape[1]
        elif data.shape[1] != n_samples:
            raise ValueError(
                f"read_channels returned {data.shape[1]} samples for channels {idx.tolist()}, "
                f"but {n_samples} for the first chunk; all channels must have the same length."
            )
        n_nan = np.isnan(data).sum(axis=1)
        n_inf = np.isinf(data).sum(axis=1)
        for k, i in enumerate(idx):
            if n_nan[k] == n_samples:
                bad[int(i)] = "all NaN"
            elif n_nan[k] or n_inf[k]:
                kind = "NaN" if not n_inf[k] else "non-finite"
                bad[int(i)] = f"contains {int(n_nan[k] + n_inf[k])} {kind} samples"
            elif np.ptp(data[k]) == 0:
                bad[int(i)] = "flat (zero variance)"
    return bad, max(n_samples, 0)


def channel_quality(
    read_channels: ReadChannels, n_channels: int, chunk_channels: int = 16
) -> dict[int, str]:
    """Find channels that cannot be used: NaN or infinite samples, or no variance.

    Parameters
    ----------
    read_channels : callable
        ``read_channels(indices) -> array of shape (len(indices), n_samples)``.
    n_channels : int
        Number of channels ``read_channels`` can read.
    chunk_channels : int
        Channels read at a time.

    Returns
    -------
    bad : dict of int to str
        Index of every bad channel -> ``"all NaN"``, ``"contains N NaN samples"`` or
        ``"flat (zero variance)"``.
    """
    return _channel_quality(read_channels, n_channels, chunk_channels)[0]


def preprocess_recording(
    read_channels: ReadChannels,
    channel_names: Sequence[str],
    fs: float,
    event_samples: Sequence[int] | np.ndarray,
    *,
    reference: str = "laplacian",
    band: str = "high_gamma",
    line_freq: float | None = 60.0,
    high_gamma: tuple[float, float] = (70.0, 250.0),
    tmin: float = -0.5,
    tmax: float = 1.5,
    window_s: float = 0.2,
    step_s: float = 0.025,
    chunk_channels: int = 16,
    usable: np.ndarray | None = None,
    spikes: dict | None = None,
    kinds: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    verbose: bool | str | int | None = None,
) -> PreprocessResult:
    """Event-locked band responses of one recording, in memory bounded by ``chunk_channels``.

    Parameters
    ----------
    read_channels : callable
        ``read_channels(indices) -> array of shape (len(indices), n_samples)``: raw channels by
        index into ``channel_names``. Called with at most ``chunk_channels`` indices for the
        quality and common-average passes; for neighbour references a chunk also reads its
        outputs' neighbours.
    channel_names : list of str, length n_channels
        Channel labels (shaft + contact number).
    fs : float
        Sampling frequency, in Hz.
    event_samples : array of shape (n_events,)
        Event onsets, in samples. Every event's windows must lie inside the recording
        (see :func:`valid_event_mask`).
    reference : 'laplacian' | 'bipolar' | 'car' | 'none'
        Re-reference scheme, see :func:`reference_plan`.
    band : 'high_gamma' | 'broadband'
        See :func:`filter_band`.
    line_freq : float | None
        Line frequency in Hz (notched with its harmonics); None skips the notch.
    high_gamma : tuple of float
        High-gamma band edges, in Hz.
    tmin, tmax, step_s : float
        First and last bin centre and their spacing, in seconds.
    window_s : float
        Width of each bin window, in seconds.
    chunk_channels : int
        Output channels processed at a time.
    usable : array of shape (n_channels,), dtype bool | None
        Channels allowed in the analysis (e.g. from the electrodes table); all when None.
    spikes : dict | None
        Epileptiform spike handling (config ``preprocessing.spikes``): ``detect`` (bool),
        ``action`` (``'mask'``: mask ``pad_s`` around each spike in the band signal, see
        :func:`filter_band`; ``'none'``: only record them), ``threshold`` and ``band`` (see
        :func:`detect_spikes`), ``pad_s`` (s). Missing keys take ``SPIKE_DEFAULTS``;
        ``None`` detects nothing.
    kinds, groups : list of str, length n_channels | None
        Channel types and ECoG grids/strips (see :func:`reference_plan`): ECoG contacts get a
        common average within their grid under the neighbour references.
    verbose : bool | str | int | None
        Control logging and the progress bar.

    Returns
    -------
    result : PreprocessResult
    """
    _check_option("reference", reference, REFERENCES)
    _check_option("band", band, BANDS)
    if int(chunk_channels) < 1:
        raise ValueError(f"chunk_channels must be a positive integer, got {chunk_channels!r}.")
    chunk_channels = int(chunk_channels)
    sp = _spike_options(spikes)
    names = [str(n) for n in channel_names]
    n_channels = len(names)
    events = _as_event_samples(event_samples)
    centers = bin_centers(tmin, tmax, step_s)

    bad, n_samples = _channel_quality(read_channels, n_channels, chunk_channels)
    valid = valid_event_mask(events, n_samples, fs, tmin, tmax, window_s, step_s)
    if not valid.all():
        raise ValueError(
            f"{int((~valid).sum())} of {len(events)} events have bin windows outside the "
            f"recording ({n_samples} samples at {fs:g} Hz, bins {tmin:g}..{tmax:g} s, window "
            f"{window_s:g} s). Drop them first with valid_event_mask()."
        )
    ok = np.ones(n_channels, bool) if usable is None else np.asarray(usable, bool).copy()
    if ok.shape != (n_channels,):
        raise ValueError(f"usable must have shape ({n_channels},), got {ok.shape}.")
    ok[list(bad)] = False
    plan = reference_plan(names, reference, ok, kinds=kinds, groups=groups, verbose=verbose)
    # The quality pass knows *why* a channel is unusable; say that rather than "marked unusable".
    dropped = {**plan.dropped, **{names[i]: reason for i, reason in bad.items()}}
    for name, reason in bad.items():
        logger.info("Channel %s dropped: %s", names[name], reason)

    n_out = len(plan.out_names)
    responses = np.zeros((len(events), n_out, len(centers)), np.float32)
    spike_hit = np.zeros((len(events), n_out), bool)
    found: dict[str, np.ndarray] = {}
    if n_out == 0:
        logger.warning("No channel left after quality checks and the %r reference.", reference)
        return PreprocessResult(responses, [], centers, dropped, float(fs), found, spike_hit)
    starts, n_win = _window_offsets(centers, fs, window_s)
    span = (events + starts.min(), events + starts.max() + n_win)  # each event's response span

    # Re-referencing happens before the notch and band filters: both are linear and identical
    # for every channel, so they commute, and re-referencing first lets each chunk read only
    # the raw channels its own outputs are made of.
    local = plan.weights
    common_signal = None
    if plan.common is not None:
        # CAR: the common average is computed once, in a chunked pass over its channels, so a
        # chunk needs only its own channels and not all of them.
        local = plan.weights + plan.common[None, :]
        sources = np.flatnonzero(plan.common)
        common_signal = np.zeros(n_samples)
        for idx in _chunks(len(sources), chunk_channels):
            cols = sources[idx]
            common_signal += plan.common[cols] @ _read(read_channels, cols).astype(np.float64)

    group_signals = None
    if plan.group_means is not None:
        # ECoG contacts referenced to their grid's mean: one chunked pass per grid, as for CAR.
        has = plan.output_group >= 0
        local = local.copy()
        local[has] += plan.group_means[plan.output_group[has]]
        group_signals = np.zeros((len(plan.group_means), n_samples))
        for g, weights in enumerate(plan.group_means):
            sources = np.flatnonzero(weights)
            for idx in _chunks(len(sources), chunk_channels):
                cols = sources[idx]
                group_signals[g] += weights[cols] @ _read(read_channels, cols).astype(np.float64)

    chunks = _chunks(n_out, chunk_channels)
    for rows in tqdm(chunks, desc="channel chunks", unit="chunk", disable=not verbose):
        w = local[rows]  # (n_rows, n_channels)
        cols = np.flatnonzero(np.any(w != 0, axis=0))
        data = w[:, cols] @ _read(read_channels, cols).astype(np.float64)  # (n_rows, n_samples)
        if common_signal is not None:
            data -= common_signal[None, :]
        if group_signals is not None:
            groups = plan.output_group[rows]
            data[groups >= 0] -= group_signals[groups[groups >= 0]]
        mask = None
        if sp["detect"]:
            peaks = detect_spikes(data, fs, threshold=sp["threshold"], band=sp["band"],
                                  verbose=verbose)
            mask = spike_mask(peaks, n_samples, fs, sp["pad_s"])
            csum = np.concatenate([np.zeros((len(rows), 1), np.int64),
                                   np.cumsum(mask, axis=1, dtype=np.int64)], axis=1)
            lo, hi = np.clip(span[0], 0, n_samples), np.clip(span[1], 0, n_samples)
            spike_hit[:, rows] = (csum[:, hi] - csum[:, lo]).T > 0
            found.update({plan.out_names[r]: p for r, p in zip(rows, peaks, strict=True)})
            for r, frac in zip(rows, mask.mean(axis=1), strict=True):
                if frac > 0.2:
                    logger.warning("Channel %s: %d epileptiform spikes detected, %.0f %% of the "
                                   "recording within pad_s of one (%s); consider excluding it",
                                   plan.out_names[r], len(found[plan.out_names[r]]), 100 * frac,
                                   "masked" if sp["action"] == "mask" else "not masked")
            if sp["action"] == "none":
                mask = None
        signal = filter_band(data, fs, line_freq=line_freq, band=band, high_gamma=high_gamma,
                             mask=mask, verbose=verbose)
        responses[:, rows, :] = window_means(signal, events, fs, centers, window_s)
    if sp["detect"]:
        n_sp = sum(len(p) for p in found.values())
        logger.info("Spikes: %d detected on %d of %d channels; %d of %d event x channel "
                    "responses hit (%s)", n_sp, sum(len(p) > 0 for p in found.values()), n_out,
                    int(spike_hit.sum()), spike_hit.size,
                    "masked" if sp["action"] == "mask" else "recorded only")
    logger.info("Preprocessed %d events x %d channels x %d bins (%d channels dropped)",
                len(events), n_out, len(centers), len(dropped))
    return PreprocessResult(responses, list(plan.out_names), centers, dropped, float(fs), found,
                            spike_hit)


def _spike_options(spikes: dict | None) -> dict:
    """Fill and check the ``spikes`` option; ``None`` -> detection off."""
    if spikes is None:
        return {**SPIKE_DEFAULTS, "detect": False}
    unknown = set(spikes) - set(SPIKE_DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown spikes option(s) {sorted(unknown)}: allowed keys are "
                         f"{sorted(SPIKE_DEFAULTS)}.")
    sp = {**SPIKE_DEFAULTS, **spikes}
    _check_option("spikes action", sp["action"], SPIKE_ACTIONS)
    if not float(sp["threshold"]) > 1:
        raise ValueError(f"Invalid spikes threshold: allowed values are > 1, but got "
                         f"{sp['threshold']!r}.")
    if not float(sp["pad_s"]) >= 0:
        raise ValueError(f"Invalid spikes pad_s: allowed values are >= 0, but got "
                         f"{sp['pad_s']!r}.")
    sp["band"] = tuple(float(b) for b in sp["band"])
    return sp
