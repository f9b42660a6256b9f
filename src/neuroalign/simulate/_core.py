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
from .presets import PRESETS

__all__ = ["simulate_dataset"]

# Purpose tags mixed into every seed, so each rng stream is independent of the others
# and of the order in which things are generated.
_MOVIE, _SUBJ, _TRIAL, _CHAN, _SHAFT, _PROJ = 1, 2, 3, 4, 5, 6
_NON_NEURAL = ["DC1", "DC2", "DC3", "DC4"]


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *[int(t) for t in tags]])


def _write_csv(df: pd.DataFrame, path: Path, index: bool = False) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=index)


def _r(x: np.ndarray) -> np.ndarray:
    """Round for JSON (and use the rounded values in the simulation: exact ground truth)."""
    return np.round(np.asarray(x, dtype=float), 6)


def _make_movie(root: Path, name: str, i: int, duration: float, p, seed: int, source: str,
                latents: str, used: list[str]) -> dict:
    rng = _rng(seed, _MOVIE, i)
    # A shortened movie keeps the preset's word rate, not its word count.
    min_words = int(p.min_words.get(name, 0) * min(1.0, duration / p.movies[name]))
    words, origin = layout.word_table(source, duration, rng, min_words, tuple(used))
    used.append(origin)
    _write_csv(words, root / "transcripts" / name / "features.csv", index=True)
    starts = movie.plan_scenes(duration, p.fps, p.scene_s, rng)
    n_frames = int(round(duration * p.fps))
    logger.info("movie %s: %.0f s, %d scenes, %d words (%s); encoding %d frames", name,
                duration, len(starts), len(words), origin, n_frames)
    info = movie.write_movie(root / "movies" / f"{name}.mp4", starts, n_frames, p.fps,
                             p.frame_size, rng)
    cut_s = starts / p.fps
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
        vis, lang = signals.random_latents(len(starts), words["sentence_idx"].to_numpy(),
                                           p.latent_dim, rng)
    return {"duration": duration, "cut_s": cut_s, "words": words, "vision": _r(vis),
            "language": _r(lang), "images": [s["image"] for s in info]}


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


def simulate_dataset(out: str | os.PathLike, preset: str = "demo", seed: int = 0,
                     latents: str = "content", source: str = "neuroprobe",
                     snr: float | None = None, n_subjects: int | None = None,
                     duration_s: float | None = None, additive_frac: float = 0.0,
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
    verbose : bool | str | int | None
        Log level (``None`` keeps the current one).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    _check_option("preset", preset, list(PRESETS))
    if not 0.0 <= additive_frac < 1.0:
        raise ValueError(f"Invalid value for the 'additive_frac' parameter: {additive_frac!r}; "
                         "it is a fraction of the electrodes, 0 <= additive_frac < 1.")
    _check_option("latents", latents, ["content", "random"])
    _check_option("source", source, ["neuroprobe", "synthetic"])
    if verbose is not None:
        set_log_level(verbose)
    if source == "neuroprobe":
        layout.neuroprobe_dir()  # fail early with the install hint
    p = PRESETS[preset]
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
                   "source": source, "latents": {}}
    for name, mv in movies.items():
        truth["latents"][name] = {
            "dim": p.latent_dim, "images": mv["images"],
            "vision": {"scene_start_s": _r(mv["cut_s"]).tolist(), "values": mv["vision"].tolist()},
            "language": {"word_start_s": mv["words"]["start"].tolist(),
                         "values": mv["language"].tolist()}}
    corrupted, coords = {}, []
    for s in range(n_sub):
        sub = f"sub_{s + 1}"
        truth[sub], corrupted[sub], elec = _simulate_subject(root, s, p, seed, source, snr,
                                                             movies, additive_frac)
        coords.append(elec)
    write_json(corrupted, root / "corrupted_elec.json")
    _write_csv(pd.concat(coords, ignore_index=True),
               root / "localization" / "elec_coords_full.csv")
    write_json(truth, root / "ground_truth.json")
    logger.info("simulated dataset written to %s", root)
    return root


def _simulate_subject(root: Path, s: int, p, seed: int, source: str, snr: float,
                      movies: dict, additive_frac: float = 0.0
                      ) -> tuple[dict, list[str], pd.DataFrame]:
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
    counts = [max(1, int(round(f * n_ok))) for f in p.class_frac]
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

    trials = {}
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
        _write_trial(root / f"{tag}.h5", labels, shaft_of, classes, dropped, weights, events,
                     timing, table, line, n_grid, snr, (seed, s, t), p.name != "tiny")
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
          "trials": trials, "adjacent_to_planted": adjacent}
    return gt, sorted(k for k, v in dropped.items() if v == "corrupted"), coords


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
                 progress: bool) -> None:
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
                x = signals.brain_signal(rng, n, fs, shaft_cache[shaft], line, drive, snr)
            grp.create_dataset(f"electrode_{i}", data=x.astype(np.float32))
