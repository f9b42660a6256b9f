"""The data stage's three steps, one function per Snakemake rule.

``write_events``     transcript + scene cuts -> ``ARTIFACTS.events``
``write_electrodes`` labels, metadata, signal checks -> ``ARTIFACTS.electrodes``
``write_responses``  raw recordings + events -> ``ARTIFACTS.responses``

(the paths and columns of these artifacts are defined in :mod:`neuroalign.artifacts`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..artifacts import (
    ARTIFACTS,
    ELECTRODE_COLUMNS,
    read_electrodes,
    read_events,
    read_responses,  # re-exported: the reader of this stage's output lives with its schema
)
from ..config import config_hash
from ..io import atomic_path, open_h5_atomic, sha256_file, write_parquet
from ..utils import logger
from .bids import BIDSMovieDataset, TranscriptFiles
from .braintreebank import BrainTreeBank
from .dataset import MovieDataset
from .events import (
    audio_only_vision,
    check_dropped,
    check_words_in_film,
    detect_scene_cuts,
    find_movie,
    make_events,
    movie_info,
    read_scene_cuts,
)
from .preprocessing import (
    channel_quality,
    preprocess_recording,
    reference_plan,
    valid_event_mask,
)

__all__ = ["open_dataset", "make_plan", "write_plan",
           "resolved_line_freq", "selected_subjects", "selected_trials", "write_events",
           "write_electrodes", "write_responses", "read_responses", "chunk_size",
           "ELECTRODE_COLUMNS"]


def open_dataset(config: dict[str, Any]) -> MovieDataset:
    """Open the dataset named by ``config['dataset']`` (Brain TreeBank or BIDS-iEEG layout).

    Both readers implement :class:`~neuroalign.data.dataset.MovieDataset`, all this stage
    calls on a dataset.
    """
    ds = config["dataset"]
    if ds["format"] == "bids":
        words = ds.get("transcript")
        transcript = None if not words else TranscriptFiles(
            words=words["words"], sentences=words.get("sentences"),
            columns={"text": "text", "start": "start", "end": "end",
                     **(words.get("columns") or {})})
        return BIDSMovieDataset(ds["root"], task=ds.get("task"),
                                movie_trial_type=ds.get("movie_trial_type", "movie"),
                                acquisition=ds.get("acquisition"), movie=ds.get("movie"),
                                pause_trial_types=ds.get("pause_trial_types", []),
                                playback_tolerance_s=ds.get("playback_tolerance_s", 0.05),
                                transcript=transcript,
                                playback_from=ds.get("playback_from", "events"))
    return BrainTreeBank(ds["root"])


def make_plan(config: dict[str, Any], dataset: MovieDataset | None = None) -> dict[str, Any]:
    """What a run on ``config`` covers: the selected subjects, their trials, each trial's movie.

    Returns
    -------
    plan : dict
        ``dataset`` (the config's dataset section, to tell a stale plan), ``subjects``
        ({subject: {"trials": {trial: movie}}}) and ``neuroalign_version``; the schema
        :func:`neuroalign.artifacts.read_plan` reads.

    Raises
    ------
    FileNotFoundError, ValueError
        From the dataset reader, naming the file and field it could not read.
    """
    dataset = dataset or open_dataset(config)
    subjects = {}
    for subject in selected_subjects(config, dataset):
        subjects[subject] = {"trials": {t: dataset.movie(subject, t)
                                        for t in selected_trials(config, dataset, subject)}}
    return {"neuroalign_version": __version__, "dataset": config["dataset"],
            "subjects": subjects}


def write_plan(config: dict[str, Any], out: str | os.PathLike | None = None,
               dataset: MovieDataset | None = None) -> dict[str, Any]:
    """Write the run's plan (:func:`make_plan`).

    Snakemake reads the plan when it parses the workflow instead of opening the dataset,
    so ``snakemake -n``, ``--lint`` and every cluster job read one small file.

    Parameters
    ----------
    config : dict
        A validated config.
    out : path-like or None
        The plan file; None: ``ARTIFACTS.plan`` under ``config['results']``.

    Returns
    -------
    plan : dict
    """
    import json

    plan = make_plan(config, dataset)
    out = Path(out) if out is not None else ARTIFACTS.plan.path(config["results"])
    # Not key-sorted: the subjects keep their selected order (the order of the pooled tables).
    text = json.dumps(plan, indent=1, default=str)
    with atomic_path(out, suffix=".json") as tmp:
        tmp.write_text(text)
    n_trials = sum(len(s["trials"]) for s in plan["subjects"].values())
    movies = {m for s in plan["subjects"].values() for m in s["trials"].values()}
    logger.info("plan: %d subject(s), %d trial(s), %d movie(s) -> %s", len(plan["subjects"]),
                n_trials, len(movies), out)
    return plan


def resolved_line_freq(config: dict[str, Any], dataset: MovieDataset,
                       subject: str, trial: int) -> float:
    """The mains frequency to notch in one trial: ``preprocessing.line_freq``, checked
    against the recording's sidecar, or read from it when the config says ``auto``.

    Raises
    ------
    ValueError
        When ``auto`` finds no ``PowerLineFrequency``, or a configured frequency disagrees
        with the sidecar's (its harmonics would stay in the high-gamma band).
    """
    wanted = config["preprocessing"]["line_freq"]
    found, source = dataset.line_freq(subject, trial)
    if wanted == "auto":
        if found is None:
            raise ValueError(f"{subject} trial {trial}: config preprocessing.line_freq is "
                             f"'auto' but {source} gives no mains frequency; set it to 50 or "
                             "60 (Hz)")
        return found
    if found is not None and abs(float(wanted) - found) > 0.5:
        raise ValueError(f"{subject} trial {trial}: config preprocessing.line_freq is "
                         f"{wanted:g} Hz but {source} is {found:g} Hz; the notch would leave "
                         f"the {found:g} Hz harmonics in the band. Set line_freq to {found:g} "
                         "or 'auto'")
    return float(wanted)


def selected_subjects(config: dict[str, Any], dataset: MovieDataset | None = None) -> list[str]:
    """Subjects named by ``dataset.subjects`` ('all' or a list), checked against the dataset."""
    dataset = dataset or open_dataset(config)
    wanted = config["dataset"]["subjects"]
    available = dataset.subjects()
    if wanted == "all":
        return available
    for s in wanted:
        if s not in available:
            from ..utils import did_you_mean

            hint = did_you_mean(s, available)
            raise ValueError(f"config dataset.subjects: subject {s!r} not found in "
                             f"{dataset.root} (available: {available}).{hint}")
    return list(wanted)


def selected_trials(config: dict[str, Any], dataset: MovieDataset, subject: str) -> list[int]:
    """Trials of ``subject`` named by ``dataset.trials`` ('all' or a mapping)."""
    wanted = config["dataset"].get("trials", "all")
    available = dataset.trials(subject)
    if wanted == "all" or subject not in wanted:
        return available
    bad = [t for t in wanted[subject] if t not in available]
    if bad:
        raise ValueError(f"config dataset.trials.{subject}: trial(s) {bad} not found "
                         f"(available: {available})")
    return sorted(wanted[subject])


def _scene_cuts(config: dict[str, Any], movie: str, movie_path: Path) -> tuple[np.ndarray, str]:
    folder = config["movies"].get("scene_cuts")
    if folder:
        table = Path(folder) / f"{movie}.csv"
        if table.exists():
            return read_scene_cuts(table), f"file:{table.name}:{sha256_file(table)[:16]}"
    threshold = config["movies"]["scene_detect_threshold"]
    return detect_scene_cuts(movie_path, threshold=threshold), f"pyscenedetect:{threshold}"


def write_events(config: dict[str, Any], movie: str, alignment: str,
                 out: str | os.PathLike) -> pd.DataFrame:
    """Build and write the events table of one movie and alignment.

    Returns
    -------
    events : DataFrame
        The table written to ``out`` (see docs/DESIGN.md §4).
    """
    dataset = open_dataset(config)
    transcript = dataset.transcript(movie)
    movie_path = find_movie(config["movies"]["root"], movie)
    duration, fps = movie_info(movie_path)
    if alignment == "vision" and fps is None:
        raise ValueError(audio_only_vision(movie, movie_path))
    ev = config["events"]
    cuts, cuts_source = (None, "")
    if alignment == "vision":
        cuts, cuts_source = _scene_cuts(config, movie, movie_path)
    inputs = dataset.transcript_inputs(movie)
    if alignment == "language":
        check_words_in_film(transcript, duration, config, inputs, movie, movie_path)
    events = make_events(alignment, transcript, cut_times=cuts, fps=fps,
                         context_words=ev["context_words"], block_s=ev["block_s"],
                         duration_s=duration)
    digest = (sha256_file(inputs[0]) if len(inputs) == 1
              else ",".join(f"{p.name}:{sha256_file(p)}" for p in inputs))
    meta = {"version": __version__, "movie": movie, "alignment": alignment,
            "config_hash": config_hash(config, ["events", "movies"]),
            "transcript_sha256": digest, "scene_cuts": cuts_source,
            "movie_duration_s": duration, "fps": fps}
    write_parquet(events, out, metadata=meta)
    logger.info("%s/%s: %d events in %d blocks -> %s", movie, alignment, len(events),
                events["block"].nunique() if len(events) else 0, out)
    return events


def write_electrodes(config: dict[str, Any], subject: str,
                     out: str | os.PathLike) -> pd.DataFrame:
    """Write the subject's electrode table with the reason every excluded channel was dropped.

    Checks, in order: non-neural channel, corrupted list, duplicate label, then
    the signal of every selected trial (all NaN, some NaN, flat), then the
    re-reference scheme's needs (a Laplacian needs a clean same-shaft neighbour).
    """
    dataset = open_dataset(config)
    table = dataset.electrode_table(subject)
    pp = config["preprocessing"]
    for trial in selected_trials(config, dataset, subject):
        dataset.check_recording(subject, trial)
        chunk = chunk_size(dataset.n_samples(subject, trial), pp["chunk_channels"],
                           pp["memory_mb"])
        candidates = table.index[table["clean"]].to_numpy()
        indices = table.loc[candidates, "index"].tolist()

        def read(rows: list[int], _t=trial, _i=indices) -> np.ndarray:
            return dataset.read_channels(subject, _t, [_i[r] for r in rows])

        bad = channel_quality(read, len(indices), chunk)
        for row, reason in bad.items():
            at = candidates[row]
            table.loc[at, ["clean", "reason"]] = [False, f"trial {trial}: {reason}"]
    clean = table["clean"].to_numpy()
    plan = reference_plan(table["name"].tolist(), config["preprocessing"]["reference"],
                          usable=clean, kinds=table["type"].tolist(),
                          groups=table["shaft"].tolist())
    for name, reason in plan.dropped.items():
        at = table.index[(table["name"] == name) & table["clean"]]
        table.loc[at, ["clean", "reason"]] = [False, reason]
    table = table[ELECTRODE_COLUMNS + ["index"]].rename(columns={"index": "channel_index"})
    meta = {"version": __version__, "subject": subject,
            "config_hash": config_hash(config, ["dataset", "preprocessing"])}
    write_parquet(table, out, metadata=meta)
    logger.info("%s: %d of %d channels clean -> %s", subject, int(table["clean"].sum()),
                len(table), out)
    return table


# Float64 copies of one channel alive at once while MNE notches, band-passes and takes
# the analytic signal (raw, filtered, complex Hilbert = 2, envelope, z-scored), measured
# loosely; the budget divides by it.
_COPIES_PER_CHANNEL = 8


def chunk_size(n_samples: int, chunk_channels: int, memory_mb: float) -> int:
    """Channels to process at once so one chunk stays within ``memory_mb``.

    At least one channel is always processed, so a single channel longer than the
    budget still runs (and is logged).
    """
    per_channel = n_samples * 8 * _COPIES_PER_CHANNEL
    fit = int(memory_mb * 2**20 // per_channel)
    if fit < 1:
        logger.warning("one channel of %d samples needs ~%.0f MB, over the %d MB budget "
                       "(preprocessing.memory_mb)", n_samples, per_channel / 2**20, memory_mb)
    return max(1, min(chunk_channels, fit))


def _recording_fingerprint(path: Path) -> str:
    # Hashing multi-GB recordings on every run would dominate small jobs: size plus
    # the hash of the first MiB identifies a file well enough for provenance.
    import hashlib

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    return f"{path.stat().st_size}:{hashlib.sha256(head).hexdigest()[:16]}"


def write_responses(config: dict[str, Any], subject: str, alignments: list[str],
                    electrodes_path: str | os.PathLike, events_dir: str | os.PathLike,
                    outs: list[str | os.PathLike], verbose: bool | None = None
                    ) -> dict[str, dict[str, Any]]:
    """Preprocess every selected trial of a subject once and write responses per alignment.

    The envelope of a trial is computed once and windowed at the events of every
    alignment, so asking for both alignments costs one pass over the recording.

    Parameters
    ----------
    config : dict
        Validated configuration.
    subject : str
    alignments : list of {'language', 'vision'}
    electrodes_path : path-like
        The subject's ``electrodes.parquet``.
    events_dir : path-like
        The events artifact's folder (``ARTIFACTS.events.folder``, i.e. ``results/movies``).
    outs : list of path-like
        One output ``responses/{alignment}.h5`` per alignment, in the same order.

    Returns
    -------
    summary : dict
        Per alignment: events kept and dropped per trial, electrodes, bins.
    """
    if len(outs) != len(alignments):
        raise ValueError(f"{len(alignments)} alignment(s) {alignments} but {len(outs)} output(s)")
    dataset = open_dataset(config)
    pp = config["preprocessing"]
    table = read_electrodes(electrodes_path, extra=["channel_index"])
    clean = table[table["clean"]]
    if clean.empty:
        raise ValueError(f"{electrodes_path}: no clean electrode for {subject}")
    names = clean["name"].tolist()
    kinds, groups = clean["type"].astype(str).tolist(), clean["shaft"].astype(str).tolist()
    channel_index = clean["channel_index"].to_list()

    parts: dict[str, dict[str, list]] = {a: {"resp": [], "ids": [], "trial": [], "movie": [],
                                             "hit": []}
                                         for a in alignments}
    spike_rows: list[tuple[int, str, int]] = []  # (trial, electrode, sample)
    summary: dict[str, dict[str, Any]] = {a: {"subject": subject, "alignment": a, "trials": {}}
                                          for a in alignments}
    out_names: list[str] | None = None
    fs_by_trial, hashes = {}, {}
    bin_centers = None
    line_freqs: dict[int, float] = {}
    for trial in selected_trials(config, dataset, subject):
        movie = dataset.movie(subject, trial)
        mapping = dataset.trigger_mapping(subject, trial)
        n_samples = dataset.n_samples(subject, trial)
        line_freqs[int(trial)] = resolved_line_freq(config, dataset, subject, trial)
        all_samples, counts, kept = [], [], {}
        for alignment in alignments:
            events_path = ARTIFACTS.events.in_folder(events_dir, movie=movie, alignment=alignment)
            events = read_events(events_path)
            times = events["time_s"].to_numpy()
            samples = mapping.to_samples(times)
            late = times > mapping.last_movie_time
            inside = ~late & valid_event_mask(np.where(late, 0, samples), n_samples, mapping.fs,
                                              pp["tmin"], pp["tmax"], pp["window_s"])
            n_late = int(late.sum())
            n_out = int((~inside).sum()) - n_late
            summary[alignment]["trials"][int(trial)] = {
                "movie": movie, "events": int(inside.sum()), "fs": mapping.fs,
                "dropped_after_last_trigger": n_late, "dropped_outside_recording": n_out,
                "pauses": mapping.pauses}
            check_dropped(n_late + n_out, len(times), config,
                          f"{subject} trial {trial} ({movie}, {alignment}): events past the "
                          "last trigger or whose window leaves the recording",
                          "the movie's timing (triggers, or events.tsv playback rows and config "
                          "dataset.movie_trial_type) does not match this run")
            if n_late or n_out:
                logger.warning("%s trial %d (%s, %s): dropped %d event(s) past the last trigger "
                               "and %d whose window leaves the recording", subject, trial, movie,
                               alignment, n_late, n_out)
            all_samples.append(samples[inside])
            counts.append(int(inside.sum()))
            kept[alignment] = events["event_id"].to_numpy()[inside]

        def read(rows: list[int], _t=trial) -> np.ndarray:
            return dataset.read_channels(subject, _t, [channel_index[r] for r in rows])

        result = preprocess_recording(
            read, names, mapping.fs, np.concatenate(all_samples), reference=pp["reference"],
            band=pp["band"], line_freq=line_freqs[int(trial)], high_gamma=tuple(pp["high_gamma"]),
            tmin=pp["tmin"], tmax=pp["tmax"], window_s=pp["window_s"], step_s=pp["step_s"],
            chunk_channels=chunk_size(n_samples, pp["chunk_channels"], pp["memory_mb"]),
            spikes=pp["spikes"], kinds=kinds, groups=groups, verbose=verbose)
        responses, hit = result.responses, result.spike_hit
        spike_rows += [(int(trial), name, int(x)) for name, peaks in result.spikes.items()
                       for x in peaks]
        if out_names is None:
            out_names = list(result.names)
        elif list(result.names) != out_names:
            # Keep the electrodes usable in every trial, in the first trial's order.
            keep = [n for n in out_names if n in set(result.names)]
            cols = [out_names.index(n) for n in keep]
            for part in parts.values():
                part["resp"] = [r[:, cols] for r in part["resp"]]
                part["hit"] = [h[:, cols] for h in part["hit"]]
            responses = responses[:, [list(result.names).index(n) for n in keep]]
            hit = hit[:, [list(result.names).index(n) for n in keep]]
            out_names = keep
        offsets = np.cumsum([0] + counts)
        for k, alignment in enumerate(alignments):
            n = counts[k]
            parts[alignment]["resp"].append(responses[offsets[k]:offsets[k + 1]])
            parts[alignment]["hit"].append(hit[offsets[k]:offsets[k + 1]])
            parts[alignment]["ids"].append(kept[alignment])
            parts[alignment]["trial"].append(np.full(n, trial, dtype=np.int64))
            parts[alignment]["movie"].append(np.full(n, movie, dtype=object))
        fs_by_trial[int(trial)] = mapping.fs
        hashes[f"trial{trial:03d}"] = _recording_fingerprint(dataset.recording_path(subject, trial))
        bin_centers = result.bin_centers_s

    for alignment, out in zip(alignments, outs, strict=True):
        part = parts[alignment]
        responses = np.concatenate(part["resp"], axis=0).astype(np.float32)
        with open_h5_atomic(out) as f:
            chunks = ((max(1, min(len(responses), 256)),) + responses.shape[1:]
                      if len(responses) else None)
            f.create_dataset("responses", data=responses, compression="gzip",
                             compression_opts=1, shuffle=True, chunks=chunks)
            f.create_dataset("event_id", data=np.concatenate(part["ids"]).astype(np.int64))
            f.create_dataset("trial", data=np.concatenate(part["trial"]))
            f.create_dataset("movie", data=np.concatenate(part["movie"]).astype("S"))
            f.create_dataset("electrodes", data=np.array(out_names, dtype="S"))
            # Epileptiform spikes (preprocessing.spikes): which event x electrode responses
            # a detected spike's interval hits, and every detection (trial, electrode, sample).
            hits = np.concatenate(part["hit"], axis=0)
            f.create_dataset("spike_hit", data=hits,
                             **({"compression": "gzip", "compression_opts": 1} if hits.size else {}))
            rows = [r for r in spike_rows if r[1] in set(out_names)]
            f.create_dataset("spike_trial", data=np.array([r[0] for r in rows], np.int64))
            f.create_dataset("spike_electrode", data=np.array([r[1] for r in rows], dtype="S"))
            f.create_dataset("spike_sample", data=np.array([r[2] for r in rows], np.int64))
            f.attrs.update({
                "bin_centers_s": np.asarray(bin_centers, float), "window_s": pp["window_s"],
                "step_s": pp["step_s"], "tmin": pp["tmin"], "tmax": pp["tmax"],
                "reference": pp["reference"], "band": pp["band"],
                # Per trial as notched (preprocessing.line_freq 'auto' reads each sidecar).
                "line_freq": np.array([line_freqs[t] for t in sorted(line_freqs)], float),
                "spikes_detect": bool(pp["spikes"]["detect"]),
                "spikes_action": pp["spikes"]["action"],
                "spikes_threshold": float(pp["spikes"]["threshold"]),
                "spikes_band": np.asarray(pp["spikes"]["band"], float),
                "spikes_pad_s": float(pp["spikes"]["pad_s"]),
                "fs": np.array([fs_by_trial[t] for t in sorted(fs_by_trial)], float),
                "fs_trials": np.array(sorted(fs_by_trial), np.int64),
                "subject": subject, "alignment": alignment, "neuroalign_version": __version__,
                "config_hash": config_hash(config, ["dataset", "preprocessing", "events"]),
                "recording_fingerprints": str(sorted(hashes.items())),
            })
        summary[alignment].update({"electrodes": len(out_names), "bins": int(responses.shape[2]),
                                   "events": int(responses.shape[0]),
                                   "spikes_detected": len(rows),
                                   "spike_hit_responses": int(hits.sum())})
        logger.info("%s/%s: responses %s -> %s", subject, alignment, responses.shape, out)
    return summary
