"""Event-level datasets with the structure of real recordings, for calibrating the statistics.

The full simulator (:func:`neuroalign.simulate.simulate_dataset`) writes raw voltages that
the data and features stages turn into responses and features; a calibration needs hundreds
of datasets, so this module draws the *outputs* of those stages directly, with the structure
that breaks naive statistics on real data:

- a film cut into shots (1-2.5 s) nested in scenes of 1-3 min that share setting and topic, so
  that every network's features, trained or random, drift on the scene time scale;
- slow drifts (30-180 s, :func:`~neuroalign.simulate.drift.slow_drift`) in every electrode's
  response and in some models' features, independent of the stimulus;
- response noise that is continuous in time (windows of neighbouring events overlap);
- interictal-like spikes: brief, large transients on some electrodes, not stimulus-locked;
- a mostly-null population, and several competing models per modality, including
  multimodal models that do not integrate (they tie the best unimodal model).

Signal model of electrode ``e`` at event ``i`` (movie time ``t_i``) and bin ``b`` (offset
``o_b``)::

    y[i, e, b] = snr * k(o_b) * s_e(i) + drift_sd * d_e(t_i + o_b) + n_e(t_i + o_b) + spikes

with ``s_e`` the z-scored drive of its class (vision: ``w·v_i``; language: ``w·l_i``;
multimodal: ``w·(v_i ⊙ l_i)``, an interaction no linear mix of unimodal features reaches),
``k`` a response kernel peaking 0.2 s after the event, ``d_e`` a slow drift and ``n_e`` an
Ornstein-Uhlenbeck noise with a 0.15 s time constant (unit variance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from .drift import slow_drift

__all__ = ["ModelSpec", "EventDataset", "default_models", "simulate_event_dataset"]

CLASSES = ("null", "vision", "language", "multimodal")


@dataclass(frozen=True)
class ModelSpec:
    """One simulated network: what its trained features carry.

    Attributes
    ----------
    name : str
    modality : {"vision", "language", "multimodal"}
    integrates : bool
        Multimodal only: whether its features carry the vision x language interaction
        (``False``: the concatenation of both latents, which ties the best unimodal model and
        a linear mix on every electrode).
    drift : bool
        Whether its trained features carry a slow drift (random twins never do, so that a
        drift shared by chance with the responses favours the trained model on null data).
    n_layers : int
    dim : int
        Feature dimension of each layer.
    """

    name: str
    modality: str
    integrates: bool = True
    drift: bool = False
    n_layers: int = 3
    dim: int = 24


def response_kernel(offsets_s: np.ndarray) -> np.ndarray:
    """The planted response's shape over bin offsets: a Gaussian peaking 0.2 s after the
    event (SD 0.15 s), 1 at its peak.

    Parameters
    ----------
    offsets_s : array of shape (n_bins,)

    Returns
    -------
    kernel : array of shape (n_bins,)
    """
    return np.exp(-0.5 * ((np.asarray(offsets_s, dtype=float) - 0.2) / 0.15) ** 2)


def default_models(n_multimodal: int = 2, n_tie: int = 0) -> list[ModelSpec]:
    """Two vision and two language models (one of each with drifting features), and
    ``n_multimodal`` integrating plus ``n_tie`` non-integrating multimodal models."""
    models = [ModelSpec("vision-a", "vision", drift=True), ModelSpec("vision-b", "vision"),
              ModelSpec("language-a", "language", drift=True),
              ModelSpec("language-b", "language")]
    models += [ModelSpec(f"multimodal-{i}", "multimodal", drift=(i % 2 == 0))
               for i in range(n_multimodal)]
    models += [ModelSpec(f"multimodal-tie-{i}", "multimodal", integrates=False,
                         drift=(i % 2 == 0)) for i in range(n_tie)]
    return models


@dataclass
class EventDataset:
    """One simulated subject and alignment, as the encoding stage would see it.

    Attributes
    ----------
    times_s : array of shape (n_events,)
        Movie time of each event, increasing within each trial.
    trials : array of shape (n_events,), int
    blocks : array of shape (n_events,), int
        Dense block id (``block_s`` of movie per block, nested in trials).
    scenes : array of shape (n_events,), int
    responses : array of shape (n_events, n_electrodes, n_bins), float32
    bin_offsets_s : array of shape (n_bins,)
    electrodes : list of str
    classes : array of shape (n_electrodes,), str
        ``null``, ``vision``, ``language`` or ``multimodal``.
    spiking : array of shape (n_electrodes,), bool
    features : dict of (str, str) to list of arrays of shape (n_events, dim)
        ``(model, init)`` -> its layers; ``init`` is ``trained`` or ``random``.
    models : list of ModelSpec
    params : dict
        The arguments the dataset was drawn with.
    """

    times_s: np.ndarray
    trials: np.ndarray
    blocks: np.ndarray
    scenes: np.ndarray
    responses: np.ndarray
    bin_offsets_s: np.ndarray
    electrodes: list[str]
    classes: np.ndarray
    spiking: np.ndarray
    features: dict[tuple[str, str], list[np.ndarray]]
    models: list[ModelSpec]
    params: dict = field(default_factory=dict)


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _ou(times: np.ndarray, tau: float, n_series: int, rng: np.random.Generator,
        grid_hz: float = 20.0) -> np.ndarray:
    """Unit-variance OU noise (time constant ``tau``) sampled at ``times``: (n_times, n_series)."""
    t0, t1 = float(times.min()), float(times.max())
    n = int(np.ceil((t1 - t0) * grid_hz)) + 2
    phi = np.exp(-1.0 / (grid_hz * tau))
    eps = rng.standard_normal((n, n_series)) * np.sqrt(1 - phi ** 2)
    eps[0] = rng.standard_normal(n_series)  # stationary start
    # x[i] = phi * x[i - 1] + eps[i] as one filter (a Python loop took ~20 % of a dataset).
    x = lfilter([1.0], [1.0, -phi], eps, axis=0)
    grid = t0 + np.arange(n) / grid_hz
    idx = np.clip(np.searchsorted(grid, times), 1, n - 1)
    w = (times - grid[idx - 1]) * grid_hz
    return x[idx - 1] * (1 - w)[:, None] + x[idx] * w[:, None]


def _nested_segments(duration: float, lengths: tuple[float, float],
                     rng: np.random.Generator) -> np.ndarray:
    """Start times of consecutive segments with lengths uniform in ``lengths``."""
    starts, t = [], 0.0
    while t < duration:
        starts.append(t)
        t += rng.uniform(*lengths)
    return np.asarray(starts)


def _layers(inputs: np.ndarray, n_layers: int, dim: int, net: np.random.Generator,
            nuisances: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Layers of a random network of ``inputs`` (n, k): deeper layers are noisier mixtures.

    ``net`` draws the weights (the same network in every alignment), ``rng`` the per-event
    noise. Every layer also carries each of ``nuisances`` (arrays (n, q) with their amplitude
    applied: scene setting, drifts) through its own random unit-variance mixing, as real
    features carry what the network sees besides the latent of interest.
    """
    weights, mixes, width = [], [], inputs.shape[1]
    for _ in range(n_layers):
        weights.append(net.standard_normal((width, dim)) / np.sqrt(width))
        mixes.append([net.standard_normal((q.shape[1], dim)) / np.sqrt(q.shape[1])
                      for q in nuisances])
        width = dim
    out, h = [], inputs
    for j in range(n_layers):
        h = np.tanh(h @ weights[j]) + 0.1 * (j + 1) * rng.standard_normal((len(h), dim))
        extra = sum(q @ w for q, w in zip(nuisances, mixes[j], strict=True))
        out.append(_zscore(_zscore(h) + extra).astype(np.float32))
    return out


def _film(duration_s: float, n_trials: int, word_rate_hz: float, scene_s, shot_s,
          rng: np.random.Generator, k: int) -> dict:
    """Scenes, shots and words of each trial, with the latents they carry."""
    film = {"scene_start": [], "shot_start": [], "shot_scene": [], "word_time": [],
            "trial_of_scene": [], "trial_of_shot": [], "trial_of_word": []}
    for trial in range(n_trials):
        sc = _nested_segments(duration_s, scene_s, rng)
        sh = _nested_segments(duration_s, shot_s, rng)
        # A scene change is also a cut: shots never straddle scenes.
        sh = np.unique(np.r_[sh, sc])
        words = np.sort(rng.uniform(0, duration_s, rng.poisson(word_rate_hz * duration_s)))
        film["scene_start"].append(sc)
        film["shot_start"].append(sh)
        film["word_time"].append(words)
        film["trial_of_scene"].append(np.full(sc.size, trial))
        film["trial_of_shot"].append(np.full(sh.size, trial))
        film["trial_of_word"].append(np.full(words.size, trial))
    film = {key: list(v) for key, v in film.items()}
    n_scenes = sum(x.size for x in film["scene_start"])
    n_shots = sum(x.size for x in film["shot_start"])
    scene_v = rng.standard_normal((n_scenes, k))
    topic = rng.standard_normal((n_scenes, k))
    setting = rng.standard_normal((n_scenes, 3))
    shot_v = rng.standard_normal((n_shots, k))
    shot_stim = rng.standard_normal((n_shots, 3 * k))
    words_lat, words_stim = [], []
    for words in film["word_time"]:
        lat = np.empty((words.size, k))
        prev = np.zeros(k)
        for i in range(words.size):
            prev = 0.7 * prev + np.sqrt(1 - 0.49) * rng.standard_normal(k)
            lat[i] = prev
        words_lat.append(lat)
        words_stim.append(rng.standard_normal((words.size, 3 * k)))
    film.update(scene_v=scene_v, topic=topic, setting=setting, shot_v=shot_v,
                shot_stim=shot_stim, words_lat=words_lat, words_stim=words_stim,
                scene_offsets=np.cumsum([0] + [x.size for x in film["scene_start"]]),
                shot_offsets=np.cumsum([0] + [x.size for x in film["shot_start"]]),
                word_offsets=np.cumsum([0] + [x.size for x in film["word_time"]]))
    return film


def _at(film: dict, trial: np.ndarray, t: np.ndarray) -> dict:
    """Scene, shot and current-word indices (global) and latents at times ``t`` of ``trial``."""
    scene = np.empty(t.size, dtype=np.int64)
    shot = np.empty(t.size, dtype=np.int64)
    word = np.empty(t.size, dtype=np.int64)
    for tr in np.unique(trial):
        rows = trial == tr
        sc = np.searchsorted(film["scene_start"][tr], t[rows], side="right") - 1
        sh = np.searchsorted(film["shot_start"][tr], t[rows], side="right") - 1
        wd = np.searchsorted(film["word_time"][tr], t[rows], side="right") - 1
        scene[rows] = film["scene_offsets"][tr] + np.clip(sc, 0, None)
        shot[rows] = film["shot_offsets"][tr] + np.clip(sh, 0, None)
        word[rows] = film["word_offsets"][tr] + np.clip(wd, 0, None)
    words_lat = np.concatenate(film["words_lat"])
    words_stim = np.concatenate(film["words_stim"])
    vision = 0.6 * film["scene_v"][scene] + 0.8 * film["shot_v"][shot]
    lang = words_lat[word] + 0.6 * film["topic"][scene]
    return {"scene": scene, "shot": shot, "vision": vision, "language": lang,
            "setting": film["setting"][scene],
            "stim": np.hstack([film["shot_stim"][shot], words_stim[word]])}


def simulate_event_dataset(seed: int | np.random.SeedSequence = 0, *, duration_s: float = 900.0,
                           n_trials: int = 1, word_rate_hz: float = 2.5,
                           n_electrodes: int = 40, n_bins: int = 4,
                           class_frac: tuple[float, float, float] = (0.0, 0.0, 0.0),
                           snr: float = 0.2, drift_sd: float = 1.0,
                           feature_drift_sd: float = 1.0,
                           scene_s: tuple[float, float] = (60.0, 180.0),
                           shot_s: tuple[float, float] = (1.0, 2.5), block_s: float = 30.0,
                           spike_frac: float = 0.15, spike_rate_hz: float = 0.1,
                           spike_sd: float = 8.0, latent_dim: int = 4,
                           models: list[ModelSpec] | None = None,
                           alignments: tuple[str, ...] = ("language", "vision"),
                           ) -> dict[str, EventDataset]:
    """Draw one subject watching one film, as both alignments see it (module docstring).

    Parameters
    ----------
    seed : int or SeedSequence
    duration_s : float
        Movie time of each trial.
    n_trials : int
        Trials (each a separate viewing of a different part of the film).
    word_rate_hz : float
        Mean word rate (Poisson); the language alignment's events are word onsets, the
        vision alignment's are cuts (shot starts).
    n_electrodes, n_bins : int
    class_frac : (float, float, float)
        Fractions of vision, language and multimodal electrodes; the rest are null.
    snr : float
        Standard deviation of the stimulus-driven part in units of the noise.
    drift_sd, feature_drift_sd : float
        Standard deviation of the slow drift of the responses (noise units) and of the
        features of models with ``drift=True`` (units of their latent-driven part).
    scene_s, shot_s : (float, float)
        Ranges of scene and shot durations (s); shots nest in scenes.
    block_s : float
        Movie seconds per resampling block.
    spike_frac, spike_rate_hz, spike_sd : float
        Fraction of electrodes with interictal-like spikes, their rate, and their amplitude in
        noise units (a spike hits every bin whose 0.2 s window contains it).
    latent_dim : int
    models : list of ModelSpec or None
        Defaults to :func:`default_models`.
    alignments : tuple of str
        Among ``language`` and ``vision``.

    Returns
    -------
    datasets : dict of str to EventDataset
        One per alignment; the electrodes, their classes and the film are shared.
    """
    class_frac = tuple(float(f) for f in class_frac)
    if len(class_frac) != 3 or min(class_frac) < 0 or sum(class_frac) > 1:
        raise ValueError(f"'class_frac' must be three fractions summing to at most 1, got "
                         f"{class_frac!r}.")
    for a in alignments:
        if a not in ("language", "vision"):
            raise ValueError(f"alignments: allowed values are 'language', 'vision', but got "
                             f"{a!r}.")
    rng = np.random.default_rng(seed)
    models = default_models() if models is None else list(models)
    k = latent_dim
    film = _film(duration_s, n_trials, word_rate_hz, scene_s, shot_s, rng, k)
    ev = {}
    for a in alignments:
        src = film["word_time"] if a == "language" else film["shot_start"]
        ev[a] = (np.concatenate(src), np.concatenate([np.full(x.size, i)
                                                      for i, x in enumerate(src)]))
    offsets = np.linspace(0.0, 0.6, n_bins) if n_bins > 1 else np.array([0.2])
    kernel = response_kernel(offsets)
    # One continuous clock over trials (trials far apart), so that every process sampled in
    # several alignments is the same process.
    clock = {a: t + 1e4 * tr for a, (t, tr) in ev.items()}
    sizes = [clock[a].size for a in alignments]
    cut = np.cumsum(sizes)[:-1]
    # Electrodes: classes, weights, spikes.
    counts = np.floor(np.asarray(class_frac) * n_electrodes + 0.5).astype(int)
    classes = np.array(["null"] * n_electrodes, dtype=object)
    order = rng.permutation(n_electrodes)
    pos = 0
    for cls, c in zip(CLASSES[1:], counts, strict=True):
        classes[order[pos:pos + c]] = cls
        pos += c
    weights = rng.standard_normal((n_electrodes, k))
    spiking = rng.random(n_electrodes) < spike_frac
    spike_times = [np.sort(rng.uniform(0, duration_s, rng.poisson(spike_rate_hz * duration_s
                                                                   * n_trials))
                           + 1e4 * rng.integers(0, n_trials, 1)) if s else np.empty(0)
                   for s in spiking]
    # Feature drift of each drifting model, shared across alignments.
    all_times = np.concatenate([clock[a] for a in alignments])
    fdrift = {m.name: np.split(slow_drift(all_times, rng, 2), cut) for m in models if m.drift}
    at = {a: _at(film, ev[a][1], ev[a][0]) for a in alignments}
    # Responses: noise and drift are continuous processes, sampled at event + bin offsets.
    resp = {a: np.empty((clock[a].size, n_electrodes, n_bins), dtype=np.float32)
            for a in alignments}
    drives = {}
    for a in alignments:
        inter = at[a]["vision"] * at[a]["language"]
        drives[a] = {"vision": at[a]["vision"], "language": at[a]["language"],
                     "multimodal": inter}
    for e in range(n_electrodes):
        tt = np.concatenate([(clock[a][:, None] + offsets[None, :]).ravel() for a in alignments])
        noise = _ou(tt, 0.15, 1, rng)[:, 0]
        drift = slow_drift(tt, rng, 1)[:, 0]
        base = np.split(noise + drift_sd * drift, np.cumsum([s * n_bins for s in sizes])[:-1])
        for a, b in zip(alignments, base, strict=True):
            ye = b.reshape(-1, n_bins)
            if classes[e] != "null":
                s = drives[a][classes[e]] @ weights[e]
                ye = ye + snr * (s / max(s.std(), 1e-12))[:, None] * kernel[None, :]
            if spiking[e]:
                centres = clock[a][:, None] + offsets[None, :]
                for st in spike_times[e]:
                    lo, hi = np.searchsorted(clock[a], [st - 0.8, st + 0.1])
                    hit = np.abs(centres[lo:hi] - st) < 0.1
                    ye[lo:hi][hit] += spike_sd
            resp[a][:, e] = ye
    net_seed = int(rng.integers(2**31))
    out = {}
    for ai, a in enumerate(alignments):
        t, trial = ev[a]
        raw_block = trial * 10**6 + np.floor(t / block_s).astype(np.int64)
        blocks = np.cumsum(np.r_[True, raw_block[1:] != raw_block[:-1]]) - 1
        features: dict[tuple[str, str], list[np.ndarray]] = {}
        for mi, m in enumerate(models):
            lat = at[a]
            if m.modality == "vision":
                latent = lat["vision"]
            elif m.modality == "language":
                latent = lat["language"]
            elif m.integrates:
                latent = np.hstack([lat["vision"], lat["language"],
                                    2.0 * lat["vision"] * lat["language"]])
            else:
                latent = np.hstack([lat["vision"], lat["language"]])
            # Per feature, in units of the latent-driven part: the scene setting has SD 0.7
            # (a third of a random twin's variance), the drift ``feature_drift_sd``.
            nuisance = [0.7 * lat["setting"]]
            if m.drift:
                nuisance.append(feature_drift_sd * fdrift[m.name][ai])
            # The same network in both alignments: its weights are seeded by its name.
            net = np.random.default_rng([net_seed, mi, 0])
            features[(m.name, "trained")] = _layers(latent, m.n_layers, m.dim, net, nuisance,
                                                    rng)
            net = np.random.default_rng([net_seed, mi, 1])
            features[(m.name, "random")] = _layers(lat["stim"][:, :latent.shape[1]],
                                                   m.n_layers, m.dim, net, [0.7 * lat["setting"]],
                                                   rng)
        out[a] = EventDataset(
            times_s=t, trials=trial, blocks=blocks, scenes=at[a]["scene"], responses=resp[a],
            bin_offsets_s=offsets, electrodes=[f"E{e + 1}" for e in range(n_electrodes)],
            classes=classes.astype(str), spiking=spiking, features=features, models=models,
            params={"seed": str(seed), "duration_s": duration_s, "n_trials": n_trials,
                    "word_rate_hz": word_rate_hz, "class_frac": list(class_frac), "snr": snr,
                    "drift_sd": drift_sd, "feature_drift_sd": feature_drift_sd,
                    "scene_s": list(scene_s), "shot_s": list(shot_s), "block_s": block_s,
                    "spike_frac": spike_frac, "spike_rate_hz": spike_rate_hz,
                    "spike_sd": spike_sd, "alignment": a})
    return out
