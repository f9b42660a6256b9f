"""``neuroalign check-data``: validate a dataset before a run and say what was found.

For every subject and trial it reports electrodes kept and dropped (with the
reasons), events per alignment, the estimated sampling rate and movie pauses,
and collects every problem it meets instead of stopping at the first one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .blocks import check_block_design
from .events import (
    assign_blocks,
    audio_only_vision,
    check_dropped,
    check_words_in_film,
    find_movie,
    make_events,
    movie_info,
    read_scene_cuts,
)

__all__ = ["check_data", "DataReport"]


def _timing_source(fmt: str) -> str:
    return ("the triggers" if fmt == "braintreebank"
            else "the events.tsv playback rows, config dataset.movie_trial_type")


@dataclass
class DataReport:
    """What :func:`check_data` found: printable lines and blocking problems."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        out = list(self.lines)
        out += [f"WARNING: {w}" for w in self.warnings]
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append("OK: no problem found" if self.ok else
                   f"{len(self.problems)} problem(s) would stop a run")
        return "\n".join(out)


def check_data(config: dict[str, Any], signal: bool = False,
               image_models: list[str] | tuple[str, ...] = ()) -> DataReport:
    """Check the dataset a validated config points to.

    Parameters
    ----------
    config : dict
        Validated configuration (:func:`neuroalign.config.load_config`).
    signal : bool
        Also read every channel to find NaN and flat ones (slow on big data).
    image_models : list of str
        The configured models that read frames (the CLI finds them in the features registry,
        which the data stage does not import): a problem on an audio-only stimulus.

    Returns
    -------
    report : DataReport
    """
    from .build import open_dataset, resolved_line_freq, selected_subjects, selected_trials

    rep = DataReport()
    ds_cfg = config["dataset"]
    fmt = ds_cfg["format"]
    try:
        dataset = open_dataset(config)
        subjects = selected_subjects(config, dataset)
    except (FileNotFoundError, ValueError) as err:
        rep.problems.append(str(err))
        return rep
    if not subjects:
        expected = ("sub_{S}_trial{TTT}.h5 recordings" if fmt == "braintreebank"
                    else "sub-<label> folders with iEEG recordings")
        rep.problems.append(f"{dataset.root}: no {expected} found")
        return rep
    alignments = config["events"]["alignments"]
    movies_checked: dict[str, dict[str, np.ndarray]] = {}
    rep.lines.append(f"dataset {dataset.root} ({fmt}): {len(subjects)} subject(s)")
    for subject in subjects:
        try:
            table = dataset.electrode_table(subject)
        except (FileNotFoundError, ValueError) as err:
            rep.problems.append(str(err))
            continue
        kept = int(table["clean"].sum())
        rep.lines.append(f"{subject}: {kept} of {len(table)} channels kept")
        for reason, n in table.loc[~table["clean"], "reason"].value_counts().items():
            rep.lines.append(f"  dropped {n}: {reason}")
        if table["space"].ne("MNI").all():
            where = ("localization/elec_coords_full.csv" if fmt == "braintreebank"
                     else "an MNI *_electrodes.tsv")
            spaces = ", ".join(sorted(set(table["space"].astype(str)) - {"native"}))
            rep.warnings.append(f"{subject}: no MNI coordinates ({where})"
                                + (f", only {spaces}" if spaces else "")
                                + "; reports will draw contacts in their own space (or on a "
                                "shaft diagram without coordinates), not on an MNI glass brain")
        try:
            trials = selected_trials(config, dataset, subject)
        except (FileNotFoundError, ValueError) as err:
            rep.problems.append(str(err))
            continue
        designs: dict[str, list[tuple[int, np.ndarray]]] = {}  # alignment -> (trial, blocks)
        for trial in trials:
            try:
                dataset.check_recording(subject, trial)
                movie = dataset.movie(subject, trial)
                mapping = dataset.trigger_mapping(subject, trial)
                n_samples = dataset.n_samples(subject, trial)
            except (FileNotFoundError, ValueError) as err:
                rep.problems.append(str(err))
                continue
            try:
                line_freq = resolved_line_freq(config, dataset, subject, trial)
            except ValueError as err:
                rep.problems.append(str(err))
                line_freq = None
            pauses = ", ".join(f"{d:.1f} s at movie {t:.1f} s" for t, d in mapping.pauses)
            rep.lines.append(
                f"  trial {trial}: movie {movie!r}, fs {mapping.fs:.2f} Hz "
                f"({'from triggers' if fmt == 'braintreebank' else 'from the header'}), "
                f"{n_samples / mapping.fs:.1f} s recorded, movie pauses: {pauses or 'none'}"
                + (f", mains {line_freq:g} Hz" if line_freq is not None else ""))
            if signal:
                from .preprocessing import channel_quality

                clean = table[table["clean"]]
                idx = clean["index"].tolist()
                bad = channel_quality(
                    lambda rows, _s=subject, _t=trial, _i=idx: dataset.read_channels(
                        _s, _t, [_i[r] for r in rows]),
                    len(idx), config["preprocessing"]["chunk_channels"])
                for row, reason in bad.items():
                    rep.lines.append(f"    drop {clean['name'].iloc[row]}: {reason}")
            if movie not in movies_checked:
                movies_checked[movie] = _check_movie(config, dataset, movie, alignments, rep,
                                                     list(image_models))
            for alignment, times in movies_checked[movie].items():
                samples = mapping.to_samples(times)
                inside = (samples >= 0) & (samples < n_samples)
                late = int((~inside).sum())
                blocks = assign_blocks(times, config["events"]["block_s"])[inside]
                designs.setdefault(alignment, []).append((trial, blocks))
                rep.lines.append(f"    {alignment}: {len(times) - late} events in recording"
                                 + (f" ({late} outside playback or the recording, dropped)"
                                    if late else ""))
                try:
                    check_dropped(late, times.size, config,
                                  f"{subject} trial {trial} / {alignment}: {late} of "
                                  f"{times.size} events of movie {movie!r} fall outside the "
                                  "playback in the recording",
                                  f"the movie's timing ({_timing_source(fmt)}) or the transcript "
                                  "does not match this run")
                except ValueError as err:
                    rep.problems.append(str(err))
        for alignment, parts in designs.items():
            _check_blocks(config, subject, alignment, parts, rep)
        if kept == 0:
            rep.problems.append(f"{subject}: no clean electrode left")
    return rep


def _check_movie(config: dict[str, Any], dataset, movie: str,
                 alignments: list[str], rep: DataReport,
                 image_models: list[str] = ()) -> dict[str, np.ndarray]:
    """Check a movie's transcript, file and scene cuts; return event times per alignment."""
    counts: dict[str, np.ndarray] = {}
    try:
        transcript = dataset.transcript(movie)
    except (FileNotFoundError, ValueError) as err:
        rep.problems.append(str(err))
        return counts
    try:
        path = find_movie(config["movies"]["root"], movie)
        duration, fps = movie_info(path)
    except (FileNotFoundError, ValueError) as err:
        rep.problems.append(str(err))
        return counts
    rep.lines.append(f"movie {movie!r}: {path}, {duration:.1f} s "
                     + (f"at {fps:.2f} fps" if fps is not None else "of audio (no pictures)")
                     + f", {len(transcript)} words")
    if fps is None:
        if "vision" in alignments:
            rep.problems.append(audio_only_vision(movie, path))
        if image_models:
            rep.problems.append(f"movie {movie!r}: {path} is audio only, so model(s) "
                                f"{', '.join(image_models)} (image inputs) cannot run; keep "
                                "text models only in config models")
        alignments = [a for a in alignments if a != "vision"]
    try:
        check_words_in_film(transcript, duration, config, dataset.transcript_inputs(movie),
                            movie, path)
    except ValueError as err:
        rep.problems.append(str(err))
    ev = config["events"]
    for alignment in alignments:
        cuts = None
        if alignment == "vision":
            folder = config["movies"].get("scene_cuts")
            table = Path(folder) / f"{movie}.csv" if folder else None
            if table is not None and table.exists():
                try:
                    cuts = read_scene_cuts(table)
                except ValueError as err:
                    rep.problems.append(str(err))
                    continue
            else:
                rep.lines.append(f"  no scene_cuts/{movie}.csv: PySceneDetect will find the cuts "
                                 "during the run")
                continue
        events = make_events(alignment, transcript, cut_times=cuts, fps=fps,
                             context_words=ev["context_words"], block_s=ev["block_s"],
                             duration_s=duration)
        counts[alignment] = events["time_s"].to_numpy()
        rep.lines.append(f"  {alignment}: {len(events)} events in {events['block'].nunique()} "
                         f"blocks of {ev['block_s']} s")
        if len(events) < 2 * config["encoding"]["folds"]:
            rep.problems.append(f"movie {movie!r}: only {len(events)} {alignment} events, too few "
                                f"for {config['encoding']['folds']} folds")
    return counts


def _check_blocks(config: dict[str, Any], subject: str, alignment: str,
                  parts: list[tuple[int, np.ndarray]], rep: DataReport) -> None:
    """Block design of one subject and alignment (``data.blocks.check_block_design``): the
    same minimums the encoding job enforces before its fit (it also checks each fold)."""
    parts = [(t, b) for t, b in parts if b.size]
    if not parts:
        rep.problems.append(f"{subject} / {alignment}: no event inside the recordings")
        return
    blocks = np.concatenate([b for _, b in parts])
    trials = np.concatenate([np.full(b.size, t) for t, b in parts])
    enc, st = config["encoding"], config["stats"]
    design = check_block_design(blocks, trials, n_folds=enc["folds"],
                                n_permutations=st["n_permutations"], fdr_q=st["fdr_q"],
                                gap_blocks=enc.get("gap_blocks", 1),
                                guard_blocks=enc.get("guard_blocks", 1),
                                block_s=config["events"]["block_s"],
                                what=f"{subject} / {alignment}")
    rep.lines.append(f"  {subject} / {alignment}: {design.n_blocks} blocks over {len(parts)} "
                     f"trial(s), {design.n_shift_combinations:.0f} circular-shift combinations"
                     + (f", trial(s) {design.unshifted_trials} left unshifted"
                        if design.unshifted_trials else ""))
    rep.problems += design.problems
    rep.warnings += design.warnings
