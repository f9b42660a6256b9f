"""The data stage's three steps, one function per Snakemake rule.

``write_events``     transcript + scene cuts -> ``movies/{movie}/events/{alignment}.parquet``
``write_electrodes`` labels, metadata, signal checks -> ``subjects/{subject}/electrodes.parquet``
``write_responses``  raw recordings + events -> ``subjects/{subject}/responses/{alignment}.h5``
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..config import config_hash
from ..io import open_h5_atomic, read_parquet_checked, sha256_file, write_parquet
from ..utils import logger
from .braintreebank import BrainTreeBank
from .events import (
    EVENT_COLUMNS,
    detect_scene_cuts,
    find_movie,
    make_events,
    movie_info,
    read_scene_cuts,
)
from .preprocessing import channel_quality, preprocess_recording, reference_plan

__all__ = ["open_dataset", "selected_subjects", "selected_trials", "write_events",
           "write_electrodes", "write_responses", "ELECTRODE_COLUMNS"]

ELECTRODE_COLUMNS = ["name", "shaft", "contact", "x", "y", "z", "space", "region", "hemisphere",
                     "clean", "reason"]


def open_dataset(config: dict[str, Any]) -> BrainTreeBank:
    """Open the dataset named by ``config['dataset']``."""
    fmt = config["dataset"]["format"]
    if fmt != "braintreebank":
        raise ValueError(
            f"dataset.format {fmt!r}: the events/responses steps read the Brain TreeBank layout "
            "only so far; BIDS-iEEG recordings can be read with neuroalign.data.bids.BIDSDataset")
    return BrainTreeBank(config["dataset"]["root"])


def selected_subjects(config: dict[str, Any], dataset: BrainTreeBank | None = None) -> list[str]:
    """Subjects named by ``dataset.subjects`` ('all' or a list), checked against the dataset."""
    dataset = dataset or open_dataset(config)
    wanted = config["dataset"]["subjects"]
    available = dataset.subjects()
    if wanted == "all":
        return available
    for s in wanted:
        if s not in available:
            from ..utils import closest

            near = closest(s, available)
            hint = f" Did you mean {near!r}?" if near else ""
            raise ValueError(f"config dataset.subjects: subject {s!r} not found in "
                             f"{dataset.root} (available: {available}).{hint}")
    return list(wanted)


def selected_trials(config: dict[str, Any], dataset: BrainTreeBank, subject: str) -> list[int]:
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
        The table written to ``out`` (see DESIGN.md §4).
    """
    dataset = open_dataset(config)
    transcript = dataset.transcript(movie)
    movie_path = find_movie(config["movies"]["root"], movie)
    duration, fps = movie_info(movie_path)
    ev = config["events"]
    cuts, cuts_source = (None, "")
    if alignment == "vision":
        cuts, cuts_source = _scene_cuts(config, movie, movie_path)
    events = make_events(alignment, transcript, cut_times=cuts, fps=fps,
                         context_words=ev["context_words"], block_s=ev["block_s"],
                         duration_s=duration)
    transcript_path = dataset.root / "transcripts" / movie / "features.csv"
    meta = {"version": __version__, "movie": movie, "alignment": alignment,
            "config_hash": config_hash(config, ["events", "movies"]),
            "transcript_sha256": sha256_file(transcript_path), "scene_cuts": cuts_source,
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
    chunk = config["preprocessing"]["chunk_channels"]
    for trial in selected_trials(config, dataset, subject):
        dataset.check_recording(subject, trial)
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
                          usable=clean)
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


def _recording_fingerprint(path: Path) -> str:
    # Hashing multi-GB recordings on every run would dominate small jobs: size plus
    # the hash of the first MiB identifies a file well enough for provenance.
    import hashlib

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    return f"{path.stat().st_size}:{hashlib.sha256(head).hexdigest()[:16]}"


def write_responses(config: dict[str, Any], subject: str, alignment: str,
                    electrodes_path: str | os.PathLike, events_dir: str | os.PathLike,
                    out: str | os.PathLike, verbose: bool | None = None) -> dict[str, Any]:
    """Preprocess every selected trial of a subject and write windowed responses.

    Parameters
    ----------
    config : dict
        Validated configuration.
    subject : str
    alignment : {'language', 'vision'}
    electrodes_path : path-like
        The subject's ``electrodes.parquet``.
    events_dir : path-like
        Folder holding ``{movie}/events/{alignment}.parquet`` tables.
    out : path-like
        Output ``responses/{alignment}.h5``.

    Returns
    -------
    summary : dict
        Events kept and dropped per trial, electrodes, bins.
    """
    dataset = open_dataset(config)
    pp = config["preprocessing"]
    table = read_parquet_checked(electrodes_path, ELECTRODE_COLUMNS + ["channel_index"])
    clean = table[table["clean"]]
    if clean.empty:
        raise ValueError(f"{electrodes_path}: no clean electrode for {subject}")
    names = clean["name"].tolist()
    channel_index = clean["channel_index"].to_list()

    blocks_resp, blocks_ids, blocks_trial, blocks_movie = [], [], [], []
    out_names: list[str] | None = None
    summary: dict[str, Any] = {"subject": subject, "alignment": alignment, "trials": {}}
    fs_by_trial, hashes = {}, {}
    for trial in selected_trials(config, dataset, subject):
        movie = dataset.movie(subject, trial)
        events_path = Path(events_dir) / movie / "events" / f"{alignment}.parquet"
        events = read_parquet_checked(events_path, EVENT_COLUMNS)
        mapping = dataset.trigger_mapping(subject, trial)
        n_samples = dataset.n_samples(subject, trial)
        samples = mapping.to_samples(events["time_s"].to_numpy())
        from .preprocessing import valid_event_mask

        inside = (samples >= 0) & valid_event_mask(np.maximum(samples, 0), n_samples,
                                                    mapping.fs, pp["tmin"], pp["tmax"],
                                                    pp["window_s"])
        n_late = int((samples < 0).sum())
        n_out = int((~inside).sum()) - n_late
        summary["trials"][int(trial)] = {"movie": movie, "events": int(inside.sum()),
                                         "dropped_after_last_trigger": n_late,
                                         "dropped_outside_recording": n_out,
                                         "fs": mapping.fs, "pauses": mapping.pauses}
        if n_late or n_out:
            logger.warning("%s trial %d (%s): dropped %d event(s) past the last trigger and %d "
                           "whose window leaves the recording", subject, trial, movie, n_late,
                           n_out)

        def read(rows: list[int], _t=trial) -> np.ndarray:
            return dataset.read_channels(subject, _t, [channel_index[r] for r in rows])

        result = preprocess_recording(
            read, names, mapping.fs, samples[inside], reference=pp["reference"],
            band=pp["band"], line_freq=pp["line_freq"], high_gamma=tuple(pp["high_gamma"]),
            tmin=pp["tmin"], tmax=pp["tmax"], window_s=pp["window_s"], step_s=pp["step_s"],
            chunk_channels=pp["chunk_channels"], verbose=verbose)
        if out_names is None:
            out_names = list(result.names)
        elif list(result.names) != out_names:
            # Keep the electrodes usable in every trial, in the first trial's order.
            keep = [n for n in out_names if n in set(result.names)]
            blocks_resp = [r[:, [out_names.index(n) for n in keep]] for r in blocks_resp]
            result.responses = result.responses[:, [list(result.names).index(n) for n in keep]]
            out_names = keep
        blocks_resp.append(result.responses)
        blocks_ids.append(events["event_id"].to_numpy()[inside])
        blocks_trial.append(np.full(int(inside.sum()), trial, dtype=np.int64))
        blocks_movie.append(np.full(int(inside.sum()), movie, dtype=object))
        fs_by_trial[int(trial)] = mapping.fs
        hashes[f"trial{trial:03d}"] = _recording_fingerprint(dataset.recording_path(subject, trial))
        bin_centers = result.bin_centers_s

    responses = np.concatenate(blocks_resp, axis=0).astype(np.float32)
    with open_h5_atomic(out) as f:
        f.create_dataset("responses", data=responses, compression="gzip", compression_opts=1,
                         shuffle=True, chunks=(min(len(responses), 256), responses.shape[1],
                                               responses.shape[2]) if len(responses) else None)
        f.create_dataset("event_id", data=np.concatenate(blocks_ids).astype(np.int64))
        f.create_dataset("trial", data=np.concatenate(blocks_trial))
        f.create_dataset("movie", data=np.concatenate(blocks_movie).astype("S"))
        f.create_dataset("electrodes", data=np.array(out_names, dtype="S"))
        f.attrs.update({
            "bin_centers_s": np.asarray(bin_centers, float), "window_s": pp["window_s"],
            "step_s": pp["step_s"], "tmin": pp["tmin"], "tmax": pp["tmax"],
            "reference": pp["reference"], "band": pp["band"], "line_freq": pp["line_freq"],
            "fs": np.array([fs_by_trial[t] for t in sorted(fs_by_trial)], float),
            "fs_trials": np.array(sorted(fs_by_trial), np.int64),
            "subject": subject, "alignment": alignment, "neuroalign_version": __version__,
            "config_hash": config_hash(config, ["dataset", "preprocessing", "events"]),
            "recording_fingerprints": str(sorted(hashes.items())),
        })
    summary.update({"electrodes": len(out_names), "bins": int(responses.shape[2]),
                    "events": int(responses.shape[0])})
    logger.info("%s/%s: responses %s -> %s", subject, alignment, responses.shape, out)
    return summary


def read_responses(path: str | os.PathLike) -> dict[str, Any]:
    """Read a responses file written by :func:`write_responses`, checking its fields."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    with h5py.File(path, "r") as f:
        for key in ("responses", "event_id", "trial", "electrodes"):
            if key not in f:
                raise ValueError(f"{path}: dataset {key!r} is missing")
        out = {k: f[k][()] for k in ("responses", "event_id", "trial", "movie", "electrodes")
               if k in f}
        out["attrs"] = dict(f.attrs)
    out["electrodes"] = [e.decode() for e in out["electrodes"]]
    if "movie" in out:
        out["movie"] = np.array([m.decode() for m in out["movie"]])
    n = out["responses"].shape
    if n[0] != len(out["event_id"]) or n[1] != len(out["electrodes"]):
        raise ValueError(f"{path}: 'responses' has shape {n} but {len(out['event_id'])} event ids "
                         f"and {len(out['electrodes'])} electrode names")
    return out
