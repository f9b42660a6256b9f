"""``simulate_dataset``: write a simulated Brain TreeBank dataset with ground truth."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path, open_h5_atomic, write_json
from ..utils import _check_option, logger, set_log_level
from . import layout, movie, signals
from .drift import slow_drift
from .presets import PRESETS, Preset

__all__ = ["simulate_dataset"]

# Purpose tags mixed into every seed, so each rng stream is independent of the others
# and of the order in which things are generated.
_MOVIE, _SUBJ, _TRIAL, _CHAN, _SHAFT, _PROJ = 1, 2, 3, 4, 5, 6
_DRIFT, _DRIFT_SHARED, _SPIKE, _SPIKE_TIMES, _SPIKE_WAVE = 7, 8, 9, 10, 11
_NON_NEURAL = ["DC1", "DC2", "DC3", "DC4"]


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *[int(t) for t in tags]])


def _write_csv(df: pd.DataFrame, path: Path, index: bool = False) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=index)


def _r(x: np.ndarray) -> np.ndarray:
    """Round for JSON (and use the rounded values in the simulation: exact ground truth)."""
    return np.round(np.asarray(x, dtype=float), 6)


def _make_movie(root: Path, name: str, i: int, duration: float, p: Preset, seed: int,
                source: str, latents: str, used: list[str]) -> dict:
    rng = _rng(seed, _MOVIE, i)
    # A shortened movie keeps the preset's word rate, not its word count.
    min_words = int(p.min_words.get(name, 0) * min(1.0, duration / p.movies[name]))
    words, origin = layout.word_table(source, duration, rng, min_words, tuple(used))
    used.append(origin)
    _write_csv(words, root / "transcripts" / name / "features.csv", index=True)
    starts, shot_scene = movie.plan_shots(duration, p.fps, p.scene_s, p.scene_len_s, rng)
    n_frames = int(round(duration * p.fps))
    logger.info("movie %s: %.0f s, %d shots in %d scenes, %d words (%s); encoding %d frames",
                name, duration, len(starts), shot_scene[-1] + 1, len(words), origin, n_frames)
    info = movie.write_movie(root / "movies" / f"{name}.mp4", starts, n_frames, p.fps,
                             p.frame_size, rng,
                             None if p.scene_len_s is None else shot_scene)
    cut_s = starts / p.fps
    word_shot = np.searchsorted(cut_s, words["start"].to_numpy(), side="right") - 1
    _write_csv(pd.DataFrame({"time_s": np.round(cut_s[1:], 6)}),
               root / "scene_cuts" / f"{name}.csv")
    if latents == "content":
        from . import content

        logger.info("movie %s: content latents (EfficientNet-Lite0, MiniLM)", name)
        prng = _rng(seed, _PROJ)  # same projection for every movie
        vis = content.project_latents(content.vision_features([s["mid"] for s in info]),
                                      p.latent_dim, prng)
        texts, cur = [], []
        for text, onset in zip(words["text"].astype(str), words["is_onset"], strict=True):
            cur = [text] if onset else [*cur, text]  # the sentence so far, this word included
            texts.append(" ".join(cur))
        lang = content.project_latents(content.language_features(texts), p.latent_dim, prng)
    else:
        share = 0.0 if p.scene_len_s is None else p.scene_share
        vis, lang = signals.random_latents(len(starts), words["sentence_idx"].to_numpy(),
                                           p.latent_dim, rng, shot_scene=shot_scene,
                                           word_scene=shot_scene[word_shot], scene_share=share)
    scene_first = np.flatnonzero(np.diff(shot_scene, prepend=-1))
    return {"duration": duration, "cut_s": cut_s, "words": words, "vision": _r(vis),
            "language": _r(lang), "images": [s["image"] for s in info],
            "shot_scene": shot_scene, "scene_start_s": cut_s[scene_first]}


def _events(mv: dict, timing: signals.TrialTiming) -> dict:
    cut_s, wt = mv["cut_s"], mv["words"]["start"].to_numpy()
    word_scene = np.searchsorted(cut_s, wt, side="right") - 1
    cut_word = np.searchsorted(wt, cut_s, side="left") - 1
    return {"cut_t": timing.rec_time(cut_s), "end_t": float(timing.rec_time(mv["duration"])),
            "word_t": timing.rec_time(wt), "word_scene": word_scene, "cut_word": cut_word,
            "vision": mv["vision"], "language": mv["language"]}


def _unit(rng: np.random.Generator, k: int) -> np.ndarray:
    w = rng.standard_normal(k)
    return _r(w / np.linalg.norm(w))


def _check_fraction(name: str, value: float | None, upper_open: bool = False) -> None:
    if value is None:
        return
    ok = 0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0
    if not ok:
        allowed = "0 <= {0} < 1" if upper_open else "0 <= {0} <= 1"
        raise ValueError(f"Invalid value for the {name!r} parameter: allowed values are "
                         f"{allowed.format(name)}, but got {value!r}.")


def simulate_dataset(out: str | os.PathLike, preset: str = "demo", seed: int = 0,
                     latents: str = "content", source: str = "neuroprobe",
                     snr: float | None = None, n_subjects: int | None = None,
                     duration_s: float | None = None, additive_frac: float = 0.0,
                     null_frac: float | None = None, drift_sd: float | None = None,
                     spike_frac: float | None = None, scenes: bool | None = None,
                     verbose: bool | str | int | None = None) -> Path:
    """Write a simulated Brain TreeBank dataset with planted electrodes and ground truth.

    Parameters
    ----------
    out : path-like
        Dataset root (created).
    preset : {"tiny", "demo", "paper"}
        Size preset (see ``neuroalign.simulate.PRESETS``).
    seed : int
        Seed of every random stream; same arguments give byte-identical h5/csv/json.
    latents : {"content", "random"}
        ``content``: vision latent = fixed seeded random projection of trained
        EfficientNet-Lite0 pooled features of each scene's middle frame; language
        latent = projection of trained MiniLM embeddings of the sentence so far at each
        word (each z-scored). ``random``: N(0, I) per scene and AR(1) across words.
    source : {"neuroprobe", "synthetic"}
        Electrode layout and word timing: the real Brain TreeBank's (PyPI package
        ``neuroprobe``) or synthetic.
    snr : float | None
        Modulation depth ``m`` of the high-gamma envelope relative to its background:
        at a planted electrode the envelope is ``b * max(1 + m * drive(t), 0.05)``
        with ``drive`` zero-mean and unit-variance, so ``m`` is the standard deviation
        of the stimulus-driven envelope in units of the background envelope ``b``.
        ``None``: the preset's.
    n_subjects : int | None
        Simulate only the first ``n_subjects`` subjects of the preset.
    duration_s : float | None
        Override every movie's duration (s).
    additive_frac : float
        Fraction of clean electrodes additionally planted as ``"vision+language"``: the sum
        of a vision and a language response, which a multimodal network predicts better
        than either unimodal one, but a linear integration of the two (``concat``,
        ``banded``) predicts as well — they must not be called multimodal sites.
    null_frac : float | None
        Fraction of the clean electrodes left null, in [0, 1]; the rest is planted in the
        preset's vision : language : multimodal proportions (``None``: the preset's
        ``class_frac``). ``1`` plants nothing (a global null at any ``snr``).
    drift_sd : float | None
        Standard deviation of the slow envelope gain of every clean brain electrode, in
        units of its mean (see ``Preset.drift_sd``); 0 switches drift off, ``None``: the
        preset's.
    spike_frac : float | None
        Fraction of the clean brain electrodes with interictal-like spikes, in [0, 1];
        0 switches spikes off, ``None``: the preset's.
    scenes : bool | None
        Shots nested in scenes sharing setting, palette and latent component (``True``),
        or independent shots (``False``); ``None``: the preset's (``scene_len_s``).
    verbose : bool | str | int | None
        Log level (``None`` keeps the current one).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    _check_option("preset", preset, list(PRESETS))
    _check_fraction("additive_frac", additive_frac, upper_open=True)
    _check_fraction("null_frac", null_frac)
    _check_fraction("spike_frac", spike_frac)
    if drift_sd is not None and not 0.0 <= drift_sd:
        raise ValueError(f"Invalid value for the 'drift_sd' parameter: allowed values are "
                         f"drift_sd >= 0, but got {drift_sd!r}.")
    _check_option("latents", latents, ["content", "random"])
    _check_option("source", source, ["neuroprobe", "synthetic"])
    if verbose is not None:
        set_log_level(verbose)
    if source == "neuroprobe":
        layout.neuroprobe_dir()  # fail early with the install hint
    from dataclasses import replace

    p = PRESETS[preset]
    changes: dict = {}
    if drift_sd is not None:
        changes["drift_sd"] = float(drift_sd)
    if spike_frac is not None:
        changes["spike_frac"] = float(spike_frac)
    if scenes is False:
        changes["scene_len_s"] = None
    elif scenes and p.scene_len_s is None:
        changes["scene_len_s"] = PRESETS["demo"].scene_len_s
    if null_frac is not None:
        total = sum(p.class_frac)
        changes["class_frac"] = tuple((1.0 - float(null_frac)) * f / total for f in p.class_frac)
    p = replace(p, **changes)
    snr = float(p.snr if snr is None else snr)
    n_sub = p.n_subjects if n_subjects is None else int(n_subjects)
    if not 1 <= n_sub <= p.n_subjects:
        raise ValueError(f"n_subjects must be in 1..{p.n_subjects} for preset {preset!r}, "
                         f"got {n_subjects}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    logger.info("simulating preset %r (seed %d, %s latents, %s layout) into %s", preset, seed,
                latents, source, root)

    movies: dict[str, dict] = {}
    used: list[str] = []
    for s in range(n_sub):
        for name in p.trials[s]:
            if name not in movies:
                dur = float(duration_s if duration_s is not None else p.movies[name])
                movies[name] = _make_movie(root, name, len(movies), dur, p, seed, source,
                                           latents, used)

    truth: dict = {"preset": preset, "seed": int(seed), "latents_kind": latents,
                   "source": source, "latents": {},
                   "structure": {
                       "class_frac": list(p.class_frac),
                       "scenes": (None if p.scene_len_s is None else
                                  {"scene_len_s": list(p.scene_len_s), "shot_s": list(p.scene_s),
                                   "scene_share": p.scene_share}),
                       "drift": {"sd": p.drift_sd, "tau_s": list(p.drift_tau_s),
                                 "shared": p.drift_shared, "kind": "multiplicative log-normal "
                                 "gain of the high-gamma envelope",
                                 "file": "ground_truth_drift.h5" if p.drift_sd > 0 else None},
                       "spikes": {"frac": p.spike_frac,
                                  "rate_per_min": list(p.spike_rate_per_min)}}}
    for name, mv in movies.items():
        truth["latents"][name] = {
            "dim": p.latent_dim, "images": mv["images"],
            "scenes": {"start_s": _r(mv["scene_start_s"]).tolist(),
                       "shot_scene": [int(x) for x in mv["shot_scene"]]},
            "vision": {"scene_start_s": _r(mv["cut_s"]).tolist(), "values": mv["vision"].tolist()},
            "language": {"word_start_s": mv["words"]["start"].tolist(),
                         "values": mv["language"].tolist()}}
    corrupted, coords, drifts = {}, [], {}
    for s in range(n_sub):
        sub = f"sub_{s + 1}"
        truth[sub], corrupted[sub], elec, drifts[sub] = _simulate_subject(
            root, s, p, seed, source, snr, movies, additive_frac)
        coords.append(elec)
    if p.drift_sd > 0:
        _write_drifts(root / "ground_truth_drift.h5", drifts)
    write_json(corrupted, root / "corrupted_elec.json")
    _write_csv(pd.concat(coords, ignore_index=True),
               root / "localization" / "elec_coords_full.csv")
    write_json(truth, root / "ground_truth.json")
    logger.info("simulated dataset written to %s", root)
    return root


def _write_drifts(path: Path, drifts: dict) -> None:
    """``{sub}/trial{t}/log_gain`` (n_seconds, n_electrodes) at 1 Hz, with ``electrodes``."""
    with open_h5_atomic(path) as f:
        f.attrs["description"] = ("natural log of the slow high-gamma envelope gain of each "
                                  "clean brain electrode, at 1 Hz from the recording start")
        for sub, trials in drifts.items():
            for t, (labels, log_gain) in trials.items():
                grp = f.create_group(f"{sub}/trial{t}")
                grp.create_dataset("log_gain", data=log_gain.astype(np.float32))
                grp.create_dataset("electrodes", data=np.array(labels, dtype="S"))


def _envelope_gains(p: Preset, labels: list[str], key: tuple[int, int, int],
                    n_grid: int) -> dict[str, np.ndarray]:
    """Slow gain of each electrode on the 100 Hz grid (empty without drift).

    The log-gain is ``s (sqrt(1 - c) own + sqrt(c) shared)`` with ``own`` independent per
    electrode, ``shared`` common to the subject's trial, both ``slow_drift`` series.
    """
    if p.drift_sd <= 0 or not labels:
        return {}
    seed, s, t = key
    times = np.arange(n_grid) / signals.DRIVE_FS
    shared = slow_drift(times, _rng(seed, _DRIFT_SHARED, s, t), tau_s=p.drift_tau_s)[:, 0]
    out = {}
    c = float(p.drift_shared)
    for i, lab in enumerate(labels):
        own = slow_drift(times, _rng(seed, _DRIFT, s, t, i), tau_s=p.drift_tau_s)[:, 0]
        out[lab] = signals.drift_gain(np.sqrt(1.0 - c) * own + np.sqrt(c) * shared, p.drift_sd)
    return out


def _simulate_subject(root: Path, s: int, p: Preset, seed: int, source: str, snr: float,
                      movies: dict, additive_frac: float = 0.0
                      ) -> tuple[dict, list[str], pd.DataFrame, dict]:
    sub, fs = f"sub_{s + 1}", float(p.fs[s])
    rng = _rng(seed, _SUBJ, s)
    elec = layout.electrode_layout(source, s + 1, p.n_electrodes, rng)
    clean = elec["label"].tolist()
    # Dropped channels: 1-2 flagged corrupted, one flat and one all-NaN (not flagged).
    pick = rng.permutation(len(clean))
    n_bad = int(rng.integers(1, 3))
    dropped = {clean[i]: "corrupted" for i in pick[:n_bad]}
    dropped[clean[pick[n_bad]]] = "flat"
    dropped[clean[pick[n_bad + 1]]] = "nan"
    ok = [lab for lab in clean if lab not in dropped]
    n_ok = len(ok)
    # Plant only where a same-shaft neighbour survives, so that the default Laplacian
    # re-reference keeps every planted electrode.
    contact = dict(zip(clean, zip(elec["shaft"], elec["contact"], strict=True), strict=True))
    present = {contact[lab] for lab in ok}
    plantable = [lab for lab in ok
                 if (contact[lab][0], contact[lab][1] - 1) in present
                 or (contact[lab][0], contact[lab][1] + 1) in present]
    counts = [max(1, int(round(f * n_ok))) if f > 0 else 0 for f in p.class_frac]
    n_add = int(round(additive_frac * n_ok))
    while sum(counts) + n_add > len(plantable) - 2 and max(counts + [n_add]) > 1:
        if n_add >= max(counts):  # keep at least two nulls
            n_add -= 1
        else:
            counts[int(np.argmax(counts))] -= 1
    order = rng.permutation(len(plantable))
    classes = {lab: "null" for lab in ok}
    weights: dict[str, dict[str, list[float]]] = {}
    kinds = ("vision", "language", "multimodal", "vision+language")
    if p.separate_classes:
        placed = _separated_classes([plantable[i] for i in order], contact,
                                    dict(zip(kinds, counts + [n_add], strict=True)))
    else:
        placed, j = {}, 0
        for kind, c in zip(kinds, counts + [n_add], strict=True):
            placed.update({plantable[i]: kind for i in order[j:j + c]})
            j += c
    # Weights drawn class by class in placement order; the additive ones last, so that
    # additive_frac = 0 leaves every other random draw as it was.
    for kind in kinds:
        for lab in (lab for lab in (plantable[i] for i in order) if placed.get(lab) == kind):
            classes[lab] = kind
            mods = [kind] if kind in ("vision", "language") else ["vision", "language"]
            weights[lab] = {m: _unit(rng, p.latent_dim).tolist() for m in mods}
    # Full channel list: marked brain labels, DC channels at a shaft boundary, TRIG last.
    marked = layout.mark_labels(clean, rng)
    boundaries = [i for i in range(1, len(clean)) if elec["shaft"][i] != elec["shaft"][i - 1]]
    at = int(rng.choice(boundaries)) if boundaries else 0
    labels = marked[:at] + _NON_NEURAL + marked[at:] + ["TRIG1"]
    write_json(labels, root / "electrode_labels" / sub / "electrode_labels.json")
    regions = [layout.region_label(h, x, y, z) for h, x, y, z in
               elec[["hem", "x", "y", "z"]].itertuples(index=False)]
    _write_csv(pd.DataFrame({"Electrode": clean, "DesikanKilliany": regions}),
               root / "localization" / sub / "depth-wm.csv")
    coords = pd.DataFrame({"Subject": sub, "Electrode": clean, "X": _r(elec["x"]),
                           "Y": _r(elec["y"]), "Z": _r(elec["z"])})
    shaft_of = dict(zip(clean, elec["shaft"], strict=True))
    # Interictal-like spikes: a separate stream, so they leave every other draw unchanged.
    srng = _rng(seed, _SPIKE, s)
    n_spk = int(round(p.spike_frac * n_ok))
    spiking = sorted((ok[i] for i in srng.choice(n_ok, size=n_spk, replace=False)),
                     key=clean.index) if n_spk else []
    rates = {lab: float(np.round(srng.uniform(*p.spike_rate_per_min), 3)) for lab in spiking}

    trials, spikes, drift_out = {}, {}, {}
    for t, name in enumerate(p.trials[s]):
        mv = movies[name]
        trial_rng = _rng(seed, _TRIAL, s, t)
        timing = signals.TrialTiming(mv["duration"], fs, trial_rng)
        table = signals.trigger_table(timing)
        tag = f"{sub}_trial{t:03d}"
        _write_csv(table, root / "subject_timings" / f"{tag}_timings.csv")
        write_json({"filename": f"{name}.mp4", "title": name.replace("-", " ").title()},
                   root / "subject_metadata" / f"{tag}_metadata.json")
        events = _events(mv, timing)
        n_grid = int(np.ceil(timing.n_samples / fs * signals.DRIVE_FS)) + 1
        line = signals.line_noise(trial_rng, timing.n_samples, fs)
        gains = _envelope_gains(p, ok, (seed, s, t), n_grid)
        if gains:
            drift_out[str(t)] = (ok, np.log(np.stack([gains[lab][::int(signals.DRIVE_FS)]
                                                      for lab in ok], axis=1)))
        dur = timing.n_samples / fs
        spikes[str(t)] = {lab: _r(signals.spike_times(_rng(seed, _SPIKE_TIMES, s, t, j), dur,
                                                      rates[lab])).tolist()
                          for j, lab in enumerate(spiking)}
        _write_trial(root / f"{tag}.h5", labels, shaft_of, classes, dropped, weights, events,
                     timing, table, line, n_grid, snr, (seed, s, t), p.name != "tiny",
                     gains, spikes[str(t)])
        trials[str(t)] = {"movie": name, "movie_start_sample": timing.movie_start_sample,
                          "pause": {"movie_time_s": timing.pause_t, "duration_s": timing.pause_s},
                          "n_samples": timing.n_samples, "lead_s": timing.lead_s}
    # Local re-referencing (Laplacian, bipolar) mixes a planted contact's high gamma into its
    # same-shaft neighbours; name them so evaluations can tell leakage from false positives.
    label_at = {v: k for k, v in contact.items() if k in classes}
    adjacent = {}
    for lab, kind in classes.items():
        if kind != "null":
            continue
        shaft, num = contact[lab]
        near = [label_at[(shaft, c)] for c in (num - 1, num + 1)
                if (shaft, c) in label_at and classes[label_at[(shaft, c)]] != "null"]
        if near:
            adjacent[lab] = near
    gt = {"electrodes": classes, "dropped": dropped, "weights": weights, "snr": snr, "fs": fs,
          "trials": trials, "adjacent_to_planted": adjacent,
          # Spike times in s since the recording start (sample = round(time * fs)): the
          # sharp wave's onset; it lasts 20-70 ms, its slow wave 150-300 ms more.
          "spikes": {"rate_per_min": rates, "times_s": spikes}}
    return (gt, sorted(k for k, v in dropped.items() if v == "corrupted"), coords,
            drift_out)


def _separated_classes(candidates: list[str], contact: dict[str, tuple[str, int]],
                       counts: dict[str, int]) -> dict[str, str]:
    """Place classes so that no two same-shaft neighbours carry different planted classes.

    Walks ``candidates`` in order and gives each the class with the most placements left
    among those its already-placed neighbours (contact number -1 and +1 on its shaft) allow;
    a contact no class fits stays null. Classes that find no room get fewer contacts.
    """
    at = {v: k for k, v in contact.items()}
    left = dict(counts)
    placed: dict[str, str] = {}
    for lab in candidates:
        shaft, num = contact[lab]
        near = {placed[at[(shaft, c)]] for c in (num - 1, num + 1)
                if (shaft, c) in at and at[(shaft, c)] in placed}
        fits = [k for k in left if left[k] > 0 and near <= {k}]
        if fits:
            kind = max(fits, key=lambda k: left[k])  # first of the largest: deterministic
            placed[lab] = kind
            left[kind] -= 1
    return placed


def _write_trial(path: Path, labels: list[str], shaft_of: dict, classes: dict, dropped: dict,
                 weights: dict, events: dict, timing: signals.TrialTiming, table: pd.DataFrame,
                 line: np.ndarray, n_grid: int, snr: float, key: tuple[int, int, int],
                 progress: bool, gains: dict[str, np.ndarray] | None = None,
                 spikes: dict[str, list[float]] | None = None) -> None:
    """Generate and write one trial channel by channel (memory: a few channels)."""
    from tqdm.auto import tqdm

    seed, s, t = key
    n, fs = timing.n_samples, timing.fs
    shaft_cache: dict[str, np.ndarray] = {}
    with open_h5_atomic(path) as f:
        grp = f.create_group("data")
        for i, raw in enumerate(tqdm(labels, desc=path.name, unit="ch", disable=not progress)):
            lab = raw.strip("*#")
            rng = _rng(seed, _CHAN, s, t, i)
            if lab == "TRIG1":
                x = signals.trigger_channel(table, n, fs)
            elif lab in _NON_NEURAL:
                x = signals.dc_channel(rng, n, fs)
            elif dropped.get(lab) == "flat":
                x = np.zeros(n)
            elif dropped.get(lab) == "nan":
                x = np.full(n, np.nan)
            elif dropped.get(lab) == "corrupted":
                x = signals.artifact_signal(rng, n, fs)
            else:
                shaft = shaft_of[lab]
                if shaft not in shaft_cache:
                    shaft_cache.clear()  # shafts are contiguous: keep only the current one
                    srng = _rng(seed, _SHAFT, s, t, zlib.crc32(shaft.encode()))
                    shaft_cache[shaft] = signals.pink_noise(srng, n, fs)
                kind = classes[lab]
                drive = (None if kind == "null" else
                         signals.electrode_drive(kind, {m: np.asarray(w) for m, w in
                                                        weights[lab].items()}, events, n_grid))
                x = signals.brain_signal(rng, n, fs, shaft_cache[shaft], line, drive, snr,
                                         (gains or {}).get(lab))
                if spikes and spikes.get(lab):
                    signals.add_spikes(x, np.asarray(spikes[lab]), fs,
                                       _rng(seed, _SPIKE_WAVE, s, t, i))
            grp.create_dataset(f"electrode_{i}", data=x.astype(np.float32))
