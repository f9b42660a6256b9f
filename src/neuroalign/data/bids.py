"""BIDS-iEEG datasets: subjects, recordings, the electrodes table and movie runs (docs/DESIGN.md §4).

A thin layer over mne-bids. The electrodes table joins ``*_electrodes.tsv`` (coordinates) with the
recordings' ``*_channels.tsv`` (type and status), in the columns of
the electrodes artifact (``neuroalign.artifacts.ARTIFACTS.electrodes``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd

from ..artifacts import ELECTRODE_COLUMNS
from ..utils import _check_option, did_you_mean, logger
from .braintreebank import TriggerMapping, checked_transcript
from .labels import is_non_neural, parse_label

__all__ = ["ELECTRODE_COLUMNS", "BIDSDataset", "BIDSMovieDataset", "PlaybackMapping",
           "TRANSCRIPT_SUFFIX", "TranscriptFiles", "sidecar"]

# Raw-data extensions mne-bids can read; the BrainVision .eeg/.vmrk sidecars are not recordings.
_RAW_EXTENSIONS = [".vhdr", ".edf", ".EDF", ".bdf", ".BDF", ".set", ".nwb", ".fif", ".mefd"]
# BIDS-iEEG channel types that record the brain.
_IEEG_TYPES = {"SEEG", "ECOG", "DBS"}
# Coordinate systems in MNI space (fsaverage is MNI305).
_MNI_MARKERS = ("mni", "icbm", "fsaverage")
_UNIT_TO_MM = {"m": 1000.0, "cm": 10.0, "mm": 1.0}
# Non-MNI spaces that are RAS with the origin on the midline, so x < 0 is the left hemisphere.
_MIDLINE_SPACES = {"acpc", "talairach"}
# Anatomical label columns found in the wild, in order of preference.
_REGION_COLUMNS = ("region", "anat", "anatomy", "anatomical_label", "destrieux", "desikan_killiany")


def _read_tsv(path: Path) -> pd.DataFrame:
    # utf-8-sig: some writers put a byte-order mark before the first column name.
    return pd.read_csv(path, sep="\t", na_values=["n/a"], encoding="utf-8-sig")


def _entities(name: str) -> dict[str, str]:
    found = mne_bids.get_entities_from_fname(name, on_error="ignore")
    return {k: str(v) for k, v in found.items() if v is not None}


def _same_entity(key: str, a: str, b: str) -> bool:
    # run-1 and run-01 are the same run (an index); other labels compare as written.
    if key == "run" and a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a == b


def sidecar(bids_path: mne_bids.BIDSPath, suffix: str, extension: str) -> Path | None:
    """The sidecar of a recording by the BIDS inheritance principle (None when there is none).

    A sidecar applies to a recording when every entity in its name is one of the recording's,
    with the same value (``sub-01_task-film_run-1_events.tsv`` applies to
    ``sub-01_task-film_acq-clinical_run-1_ieeg.vhdr``, as in OpenNeuro ds003688; an
    ``acq-HDgrid`` events file never applies to a run without ``acq``). The nearest folder
    holding one wins (the recording's, then its parents up to the root); within it, the one
    naming most entities. Two that apply equally are an error: BIDS allows one.

    Raises
    ------
    ValueError
        When several files apply equally.
    """
    path = Path(bids_path.fpath)
    own = _entities(path.name)
    root = Path(bids_path.root)
    folder = path.parent
    while True:
        fits = []
        for candidate in sorted(folder.glob(f"*{suffix}{extension}")):
            if not candidate.name.endswith(f"_{suffix}{extension}") and \
                    candidate.name != f"{suffix}{extension}":
                continue
            named = _entities(candidate.name)
            if all(k in own and _same_entity(k, v, own[k]) for k, v in named.items()):
                fits.append((len(named), candidate))
        if fits:
            most = max(n for n, _ in fits)
            best = [c for n, c in fits if n == most]
            if len(best) > 1:
                raise ValueError(f"{path.name}: {len(best)} {suffix}{extension} files apply to "
                                 f"it equally ({', '.join(c.name for c in best)} in {folder}); "
                                 "BIDS inheritance allows one")
            return best[0]
        if folder == root or root not in folder.parents:
            return None
        folder = folder.parent


class BIDSDataset:
    """A BIDS-iEEG dataset on disk.

    Parameters
    ----------
    root : str | Path
        The dataset root (the folder holding ``dataset_description.json`` and ``sub-*``).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"BIDS root {self.root} does not exist or is not a folder.")

    def __repr__(self) -> str:
        return f"BIDSDataset({str(self.root)!r})"

    def subjects(self) -> list[str]:
        """Subject labels (without ``sub-``), sorted."""
        return sorted(mne_bids.get_entity_vals(self.root, "subject"))

    def _subject(self, subject: str) -> str:
        subject = subject.removeprefix("sub-")
        subjects = self.subjects()
        if subject not in subjects:
            hint = did_you_mean(subject, subjects)
            raise ValueError(
                f"{self.root}: no subject {subject!r}; found {len(subjects)} subject(s): "
                f"{', '.join(subjects) or 'none'}.{hint}"
            )
        return subject

    def recordings(self, subject: str) -> list[mne_bids.BIDSPath]:
        """The iEEG recordings of a subject.

        Parameters
        ----------
        subject : str
            Subject label, with or without ``sub-``.

        Returns
        -------
        paths : list of mne_bids.BIDSPath
            One per raw recording file (datatype ``ieeg``), sorted by file name.
        """
        subject = self._subject(subject)
        paths = mne_bids.find_matching_paths(
            self.root, subjects=subject, datatypes="ieeg", suffixes="ieeg",
            extensions=_RAW_EXTENSIONS,
        )
        return sorted(paths, key=lambda p: p.basename)

    def read_raw(
        self, bids_path: mne_bids.BIDSPath, *, verbose: bool | str | int | None = None
    ) -> mne.io.BaseRaw:
        """Read one recording with :func:`mne_bids.read_raw_bids` (channel types and bads set).

        Parameters
        ----------
        bids_path : mne_bids.BIDSPath
            A path from :meth:`recordings`.
        verbose : bool | str | int | None
            Control MNE's logging (warnings only unless truthy).

        Returns
        -------
        raw : mne.io.Raw
            Not preloaded.
        """
        if not bids_path.fpath.exists():
            raise FileNotFoundError(f"Recording {bids_path.fpath} does not exist.")
        return mne_bids.read_raw_bids(bids_path, verbose=verbose if verbose else "warning")

    def _acquisitions(self, subject: str) -> set[str | None]:
        """``acq`` entities of the recordings whose electrodes the table describes."""
        return {r.acquisition for r in self._recordings_for_channels(subject)}

    def _electrodes_file(self, subject: str) -> Path:
        files = sorted((self.root / f"sub-{subject}").rglob("*_electrodes.tsv"))
        if not files:
            raise FileNotFoundError(
                f"No *_electrodes.tsv for subject {subject!r} under {self.root / f'sub-{subject}'}."
            )
        acquisitions = self._acquisitions(subject) - {None}
        if acquisitions:
            # Simultaneous amplifiers (ds003688: acq-clinical and acq-HDgrid) each have their
            # own contacts: an electrodes file of another acquisition describes other contacts.
            def acq_of(path: Path) -> str | None:
                found = re.search(r"_acq-([a-zA-Z0-9]+)", path.name)
                return found.group(1) if found else None

            matching = [f for f in files if acq_of(f) in acquisitions or acq_of(f) is None]
            if not matching:
                raise FileNotFoundError(
                    f"sub-{subject}: no *_electrodes.tsv for acquisition "
                    f"{', '.join(sorted(acquisitions))} (config dataset.acquisition; found "
                    f"{', '.join(f.name for f in files)})")
            files = matching
        # Several spaces may be given; the MNI one is comparable across subjects.
        mni = [f for f in files if any(m in f.name.lower() for m in _MNI_MARKERS)]
        chosen = (mni or files)[0]
        if len(files) > 1:
            logger.info("sub-%s: %d electrodes files, using %s", subject, len(files), chosen.name)
        return chosen

    @staticmethod
    def _coordsystem_file(electrodes_file: Path) -> Path:
        exact = electrodes_file.with_name(
            electrodes_file.name.removesuffix("_electrodes.tsv") + "_coordsystem.json"
        )
        if exact.exists():
            return exact
        candidates = sorted(electrodes_file.parent.glob("*_coordsystem.json"))
        if len(candidates) == 1:
            return candidates[0]
        raise FileNotFoundError(
            f"{electrodes_file.name}: its coordinate-system file {exact.name} is missing in "
            f"{electrodes_file.parent}."
        )

    def electrodes(
        self, subject: str, *, verbose: bool | str | int | None = None
    ) -> pd.DataFrame:
        """The electrodes table of a subject.

        Parameters
        ----------
        subject : str
            Subject label, with or without ``sub-``.
        verbose : bool | str | int | None
            Control logging.

        Returns
        -------
        electrodes : pandas.DataFrame
            Columns ``name, shaft, contact, type, x, y, z, space, region, hemisphere, clean,
            reason``, ``type`` the channels.tsv type (``SEEG``, ``ECOG``, ...; ``''`` when no
            recording lists the channel) and ``shaft`` the label prefix (an ECoG contact's grid
            or strip);
            one row per channel of the recordings (in recording order), then electrodes that no
            recording lists. Coordinates in mm (NaN where missing), ``space`` ``'MNI'`` or
            the coordinate system's own label (``'ACPC'``, ``'Other'``, ...; ``'native'`` when
            none is given); ``hemisphere`` only in MNI, ACPC and Talairach space. ``clean`` is
            False, with a ``reason``, for channels marked bad, of a non-iEEG type, non-neural
            by name, or in no recording.
        """
        subject = self._subject(subject)
        el_file = self._electrodes_file(subject)
        cs_file = self._coordsystem_file(el_file)
        el = _read_tsv(el_file)
        missing = [c for c in ("name", "x", "y", "z") if c not in el.columns]
        if missing:
            raise ValueError(
                f"{el_file.name}: column(s) {', '.join(map(repr, missing))} missing "
                f"(has {', '.join(map(str, el.columns))})."
            )
        try:
            coordsystem = json.loads(cs_file.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{cs_file.name}: not valid JSON ({err}).") from err

        el["name"] = el["name"].astype(str)
        xyz = el[["x", "y", "z"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        units = str(coordsystem.get("iEEGCoordinateUnits", "n/a")).strip()
        if units in _UNIT_TO_MM:
            scale = _UNIT_TO_MM[units]
        else:
            # Unknown units: heads are ~150 mm wide, so coordinates all below 1 must be metres.
            finite = xyz[np.isfinite(xyz)]
            scale = 1000.0 if finite.size and np.abs(finite).max() < 1 else 1.0
            logger.info("%s: units %r, assuming %s", cs_file.name, units,
                        "metres" if scale == 1000.0 else "millimetres")
        xyz = xyz * scale

        system = str(coordsystem.get("iEEGCoordinateSystem", ""))
        space_entity = re.search(r"_space-([a-zA-Z0-9]+)", el_file.name)
        space_text = f"{system} {space_entity.group(1) if space_entity else ''}".lower()
        if any(m in space_text for m in _MNI_MARKERS):
            space = "MNI"
        else:  # carried with its label (ds003688: ACPC), never passed off as MNI
            space = (system or (space_entity.group(1) if space_entity else "")).strip() or \
                "native"
        # Left/right from x only where the space is RAS with its origin on the midline.
        midline = space == "MNI" or space.lower() in _MIDLINE_SPACES

        region_col = next((c for c in el.columns if c.lower() in _REGION_COLUMNS), None)
        coords = {name: (row, xyz[i]) for i, (name, row) in enumerate(
            zip(el["name"], el.to_dict("records"), strict=True))}

        channels = self._channels(subject)
        names = list(channels) + [n for n in el["name"] if n not in channels]
        rows = []
        for name in names:
            row, (x, y, z) = coords.get(name, ({}, (np.nan, np.nan, np.nan)))
            shaft, contact = parse_label(name)
            # A grid's or strip's contacts share their label prefix (ds003688: F01..F48;
            # ds005574: GA1.., GB1.., DAMT1..), which is what `shaft` holds. The BIDS `group`
            # column is not used for it: ds005574 fills it with the electrode kind (G, S, D),
            # which would merge every strip of a subject, across hemispheres.
            kind, listed = channels.get(name, ("", []))
            reasons = list(listed)
            if name not in channels and channels:
                reasons.append("in no recording's channels.tsv")
            if is_non_neural(name) and not reasons:
                reasons.append("non-neural channel (DC/trigger/EKG)")
            region = row.get(region_col) if region_col else None
            rows.append({
                "name": name, "shaft": shaft, "contact": contact, "type": kind,
                "x": x, "y": y, "z": z, "space": space,
                "region": "" if region is None or pd.isna(region) else str(region),
                "hemisphere": ("L" if x < 0 else ("R" if x > 0 else "")) if midline else "",
                "clean": not reasons, "reason": "; ".join(reasons),
            })
        table = pd.DataFrame(rows, columns=ELECTRODE_COLUMNS)
        table["contact"] = table["contact"].astype("Int64")
        table["clean"] = table["clean"].astype(bool)
        logger.info("sub-%s: %d electrodes (%d clean), %s space, from %s", subject, len(table),
                    int(table["clean"].sum()), space, el_file.name)
        return table

    def _recordings_for_channels(self, subject: str) -> list[mne_bids.BIDSPath]:
        return self.recordings(subject)

    def _channels(self, subject: str) -> dict[str, tuple[str, list[str]]]:
        """Channel name -> (its channels.tsv type, upper case, as first listed; the reasons it
        is not clean, empty when clean), over the recordings used."""
        channels: dict[str, tuple[str, list[str]]] = {}
        for bids_path in self._recordings_for_channels(subject):
            path = sidecar(bids_path, "channels", ".tsv")
            if path is None:
                expected = bids_path.copy().update(suffix="channels", extension=".tsv").fpath
                raise FileNotFoundError(f"{bids_path.basename}: channels file {expected} "
                                        "is missing.")
            table = _read_tsv(path)
            if "name" not in table.columns or "type" not in table.columns:
                raise ValueError(f"{path.name}: needs columns 'name' and 'type' "
                                 f"(has {', '.join(map(str, table.columns))}).")
            for rec in table.to_dict("records"):
                kind = str(rec["type"]).upper()
                reasons = channels.setdefault(str(rec["name"]), (kind, []))[1]
                if kind not in _IEEG_TYPES:
                    reason = f"non-iEEG channel type {kind!r}"
                    if reason not in reasons:
                        reasons.append(reason)
                if str(rec.get("status", "good")).lower() == "bad":
                    desc = rec.get("status_description")
                    reason = "marked bad in channels.tsv" + (
                        f" ({desc})" if isinstance(desc, str) and desc else "")
                    if reason not in reasons:
                        reasons.append(reason)
        return channels


TRANSCRIPT_SUFFIX = "_transcript.tsv"


@dataclass(frozen=True)
class TranscriptFiles:
    """A dataset's own word (and sentence) annotation files, read as a transcript.

    Parameters
    ----------
    words : str
        Path of the words table under the dataset root; ``{movie}`` is replaced by the
        movie id (ds003688: ``stimuli/annotations/sound/sound_annotation_words.tsv``).
        Tab-separated, or comma-separated when it ends in ``.csv``.
    sentences : str | None
        Path of a sentences table (same columns); every word joins the last sentence that
        starts at or before it, which gives language events their context. None: the words
        table's own ``sentence_idx`` / ``is_onset`` columns, or one sentence.
    columns : dict
        The tables' column for each of ``text``, ``start`` and ``end`` (s of movie time);
        ds003688: ``{text: item, start: onset, end: offset}``.
    """

    words: str
    sentences: str | None = None
    columns: dict = field(default_factory=lambda: {"text": "text", "start": "start",
                                                   "end": "end"})

    def words_path(self, root: Path, movie: str) -> Path:
        return Path(root) / self.words.format(movie=movie)

    def paths(self, root: Path, movie: str) -> list[Path]:
        out = [self.words_path(root, movie)]
        if self.sentences:
            out.append(Path(root) / self.sentences.format(movie=movie))
        return out

    def _table(self, path: Path, movie: str, what: str, needed: tuple[str, ...]) -> pd.DataFrame:
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found ({what} of movie {movie!r}, config "
                                    f"dataset.transcript.{what})")
        # Tab-separated as BIDS asks, or comma-separated where a dataset ships a .csv.
        table = (pd.read_csv(path, na_values=["n/a"], encoding="utf-8-sig")
                 if path.suffix.lower() == ".csv" else _read_tsv(path))
        wanted = {key: self.columns.get(key, key) for key in needed}
        missing = [f"{col!r} (for {key})" for key, col in wanted.items() if col not in table]
        if missing:
            raise ValueError(f"{path}: column(s) {', '.join(missing)} missing, has "
                             f"{', '.join(map(str, table.columns))} (config "
                             "dataset.transcript.columns)")
        # Needed columns must be there; the other mapped ones are renamed when present.
        present = {key: self.columns.get(key, key) for key in ("text", "start", "end")}
        out = table.rename(columns={col: key for key, col in present.items() if col in table})
        for key in ("start", "end"):
            if key in out:
                values = pd.to_numeric(out[key], errors="coerce")
                bad = values.isna() & out[key].notna()
                if bad.any():
                    row = int(np.flatnonzero(bad.to_numpy())[0])
                    raise ValueError(f"{path}: field {present[key]!r} is not a number on row "
                                     f"{row + 1} ({out[key].iloc[row]!r})")
                out[key] = values
        return out

    def read(self, root: Path, movie: str) -> pd.DataFrame:
        """The transcript (``start``, ``end``, ``text``, and ``sentence_idx`` when sentences
        are given) of one movie."""
        paths = self.paths(root, movie)
        words = self._table(paths[0], movie, "words", ("text", "start", "end"))
        # A word without a start time (its forced alignment failed) keeps its place: after
        # the word before it in the file, in that word's sentence.
        placed = words["start"].ffill().fillna(-np.inf).to_numpy(float)
        words = words.iloc[np.argsort(placed, kind="stable")].reset_index(drop=True)
        if len(paths) > 1:
            sentences = self._table(paths[1], movie, "sentences", ("start",))
            spans = sentences.dropna(subset=["start"]).sort_values("start", kind="stable")
            onsets = spans["start"].to_numpy(float)
            ends = (pd.to_numeric(spans["end"], errors="coerce").to_numpy(float)
                    if "end" in spans else np.full(len(spans), np.inf))
            ends = np.where(np.isfinite(ends), ends, np.inf)
            start = words["start"].ffill().fillna(-np.inf).to_numpy(float)
            # Annotations round to the ms: a word that starts its sentence may be 1 ms early.
            idx = np.searchsorted(onsets, start + 1e-3, side="right") - 1
            # A word in no sentence (after one ends, before the next starts) gets no context
            # from the sentence before it: it starts a fragment of its own.
            inside = (idx >= 0) & (start <= ends[np.clip(idx, 0, None)] + 1e-3)
            key = np.where(inside, 2 * idx, 2 * idx + 1)
            words["sentence_idx"] = np.cumsum(np.r_[True, key[1:] != key[:-1]]) - 1
        return words


class PlaybackMapping(TriggerMapping):
    """Movie time -> sample from stretches of continuous playback.

    ``movie_time`` and ``index`` hold each stretch's start and end (interleaved). A movie
    time maps through the last stretch that starts at or before it (the first stretch for
    movie time maps through the stretch that shows it (at a pause, the one after it, as in
    :class:`~neuroalign.data.braintreebank.TriggerMapping`); a time no stretch shows (before
    the first, in a skipped part, past the end) maps to -1.
    """

    def to_samples(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        starts, ends, onsets = self.movie_time[0::2], self.movie_time[1::2], self.index[0::2]
        k = np.searchsorted(starts, times, side="right") - 1
        kk = np.clip(k, 0, len(starts) - 1)
        samples = np.rint(onsets[kk] + (times - starts[kk]) * self.fs).astype(np.int64)
        samples[(k < 0) | (times > ends[kk])] = -1
        return samples


class BIDSMovieDataset(BIDSDataset):
    """A BIDS-iEEG dataset of movie-watching runs, read the way the pipeline reads a dataset.

    Offers the interface of :class:`neuroalign.data.braintreebank.BrainTreeBank` (subjects,
    trials, movie, trigger_mapping, read_channels, transcript, electrode_table, ...), so the
    data stage runs unchanged on either layout.

    Layout (beyond BIDS-iEEG itself)
    --------------------------------
    - Subjects are named ``sub-<label>``; each iEEG run of ``task`` (all runs when None) and
      ``acquisition`` (all when None) is a trial, numbered by its ``run`` entity (1, 2, ... in
      file-name order when runs lack distinct numeric ones). Subjects without such a run are
      not listed. Runs recorded at once by several amplifiers (the same run under two ``acq``
      entities) need ``acquisition``; the electrodes file is that acquisition's.
    - The run's ``*_events.tsv``, found by BIDS inheritance (it may lack the run's ``acq``),
      has one row per stretch of continuous movie playback with ``trial_type`` in
      ``movie_trial_type`` (several trial types when the film is cut into labelled blocks, as
      ds003688's ``music`` / ``speech``): ``onset`` (s, recording time), ``duration`` (s), and
      optionally ``stim_file`` (the movie file, e.g. ``stimuli/<movie>.mp4``; the movie id is
      its stem; without it, the ``movie`` parameter) and ``movie_time`` (s into the movie at
      ``onset``). Without ``movie_time``, rows that abut within ``playback_tolerance_s`` play
      on from one another and a longer gap is a pause. Rows overlapping by up to the
      tolerance are trimmed; a longer overlap is an error.
    - The transcript of a movie is ``stimuli/<movie>_transcript.tsv`` under the dataset root
      (tab-separated ``start``, ``end``, ``text`` in s of movie time, and ``sentence_idx``
      or ``is_onset`` to mark sentences, which give language events their context; without
      either the whole transcript is one sentence), or the dataset's own annotation files
      described by ``transcript`` (:class:`TranscriptFiles`).

    Parameters
    ----------
    root : str | Path
        The dataset root.
    task : str | None
        Task label of the movie runs.
    movie_trial_type : str | list of str
        ``trial_type`` value(s) of the movie-playback rows in ``*_events.tsv``.
    acquisition : str | None
        ``acq`` entity of the runs to read (None: every acquisition, which must then not
        hold the same run twice).
    movie : str | None
        Movie id of runs whose playback rows have no ``stim_file``.
    pause_trial_types : list of str
        Trial types whose rows mark a real stop of playback. A gap between playback rows that
        is exactly a row of any other trial type is refused: it is far more often a block of
        the film that ``movie_trial_type`` leaves out (ds003688's ``music`` rows between its
        ``speech`` rows), which would shift every later word.
    playback_tolerance_s : float
        How far consecutive playback rows may overlap or fall short of each other (real
        block logs disagree by milliseconds) and still count as continuous playback.
    transcript : TranscriptFiles | None
        Where the words are, when not in ``stimuli/<movie>_transcript.tsv``.
    playback_from : 'events' | 'recording_start'
        ``events``: playback is timed by the events files (above). ``recording_start``: every
        run is cropped to the stimulus, which starts at its first sample and plays without
        pause (OpenNeuro ds005574, "Podcast": no events file); needs ``movie``.
    """

    def __init__(self, root: str | Path, task: str | None = None,
                 movie_trial_type: str | list[str] = "movie", *,
                 acquisition: str | None = None, movie: str | None = None,
                 pause_trial_types: list[str] | tuple[str, ...] = (),
                 playback_tolerance_s: float = 0.05,
                 transcript: TranscriptFiles | None = None,
                 playback_from: str = "events") -> None:
        super().__init__(root)
        _check_option("playback_from", playback_from, ("events", "recording_start"))
        if playback_from == "recording_start" and movie is None:
            raise ValueError("playback_from 'recording_start' needs the movie's id: set config "
                             "dataset.movie (the stimulus file's name without extension)")
        self.playback_from = playback_from
        self.task = task
        self.playback_types = ([movie_trial_type] if isinstance(movie_trial_type, str)
                               else list(movie_trial_type))
        if not self.playback_types:
            raise ValueError("movie_trial_type: at least one trial type is needed, but got []")
        self.acquisition = acquisition
        self.movie_id = movie
        self.pause_trial_types = list(pause_trial_types)
        if playback_tolerance_s < 0:
            raise ValueError(f"playback_tolerance_s must be >= 0, but got {playback_tolerance_s}")
        self.playback_tolerance_s = float(playback_tolerance_s)
        self.transcript_files = transcript
        self._headers: dict[Path, mne.io.BaseRaw] = {}
        self._names: dict[str, list[str]] = {}
        self._run_lists: dict[str, list[mne_bids.BIDSPath]] = {}

    def __repr__(self) -> str:
        return (f"BIDSMovieDataset({str(self.root)!r}, task={self.task!r}"
                + (f", acquisition={self.acquisition!r}" if self.acquisition else "") + ")")

    def _selected(self, runs: list[mne_bids.BIDSPath]) -> list[mne_bids.BIDSPath]:
        return [r for r in runs if (self.task is None or r.task == self.task)
                and (self.acquisition is None or r.acquisition == self.acquisition)]

    # ------------------------------------------------------------------ index
    def subjects(self) -> list[str]:
        """Ids (``sub-<label>``, sorted) of the subjects with an iEEG run of ``task``
        (and ``acquisition``)."""
        recordings = super().recordings  # zero-argument super() fails in a comprehension
        return [f"sub-{label}" for label in super().subjects()
                if self._selected(recordings(label))]

    def _subject(self, subject: str) -> str:
        label = subject.removeprefix("sub-")
        labels = super().subjects()
        if label not in labels:
            hint = did_you_mean(f"sub-{label}", [f"sub-{s}" for s in labels])
            raise ValueError(f"{self.root}: no subject {subject!r}; found "
                             f"{', '.join(f'sub-{s}' for s in labels) or 'none'}.{hint}")
        return label

    def _recordings_for_channels(self, subject: str) -> list[mne_bids.BIDSPath]:
        return self._runs(subject)  # other tasks' channels (ECG in a rest run, ...) do not count

    def _runs(self, subject: str) -> list[mne_bids.BIDSPath]:
        # Every reader call (one per channel chunk) resolves its run: walk the tree once.
        key = subject.removeprefix("sub-")
        if key not in self._run_lists:
            every = self.recordings(subject)
            runs = self._selected(every)
            if not runs:
                what = " and ".join(
                    ([f"task {self.task!r} (config dataset.task)"] if self.task else [])
                    + ([f"acquisition {self.acquisition!r} (config dataset.acquisition)"]
                       if self.acquisition else []))
                found = sorted({f"task-{r.task}" + (f"_acq-{r.acquisition}" if r.acquisition
                                                    else "") for r in every})
                raise ValueError(f"{self.root}: sub-{key} has no iEEG recording"
                                 + (f" of {what}" if what else "")
                                 + (f"; it has {', '.join(found)}" if found else ""))
            acquisitions = sorted({r.acquisition or "" for r in runs})
            if self.acquisition is None and len(acquisitions) > 1:
                # One electrode table per subject: runs of different amplifiers have different
                # contacts, whether recorded at once (ds003688's clinical and HD grid) or not.
                by_run: dict[tuple, set[str]] = {}
                for r in runs:
                    by_run.setdefault((r.session, r.run), set()).add(r.acquisition or "")
                at_once = [k for k, v in by_run.items() if len(v) > 1]
                listed = ", ".join(f"acq-{a}" if a else "(no acq)" for a in acquisitions)
                how = (f"run {at_once[0][1] or '(unnumbered)'} exists under each: amplifiers "
                       "recording at once, not separate trials" if at_once
                       else "their contacts differ")
                raise ValueError(
                    f"{self.root}: sub-{key}'s runs of task {self.task or '(any)'!r} are of "
                    f"several acquisitions ({listed}); {how}. Choose one with config "
                    f"dataset.acquisition (e.g. {next(a for a in acquisitions if a)!r}).")
            self._run_lists[key] = runs
        return self._run_lists[key]

    def _numbered_runs(self, subject: str) -> dict[int, mne_bids.BIDSPath]:
        runs = self._runs(subject)
        numbers = [r.run for r in runs]
        if all(n is not None and str(n).isdigit() for n in numbers) and \
                len({int(n) for n in numbers}) == len(runs):
            return {int(n): r for n, r in zip(numbers, runs, strict=True)}
        return {i + 1: r for i, r in enumerate(runs)}

    def trials(self, subject: str) -> list[int]:
        """Trial numbers of the subject's movie runs: their ``run`` entities when every run has
        a distinct numeric one, else 1, 2, ... in file-name order."""
        return sorted(self._numbered_runs(subject))

    def _run(self, subject: str, trial: int) -> mne_bids.BIDSPath:
        runs = self._numbered_runs(subject)
        if int(trial) not in runs:
            raise ValueError(f"{self.root}: subject {subject} has no trial {trial} "
                             f"(found {sorted(runs)})")
        return runs[int(trial)]

    def recording_path(self, subject: str, trial: int) -> Path:
        """The file holding the run's samples (the ``.eeg`` of a BrainVision ``.vhdr``)."""
        path = self._run(subject, trial).fpath
        data = path.with_suffix(".eeg")
        return data if path.suffix == ".vhdr" and data.exists() else path

    def _raw(self, subject: str, trial: int) -> mne.io.BaseRaw:
        path = self._run(subject, trial)
        if path.fpath not in self._headers:
            try:
                self._headers[path.fpath] = self.read_raw(path)
            except (OSError, ValueError, RuntimeError) as err:
                raise ValueError(f"{path.fpath}: unreadable recording ({err})") from err
        return self._headers[path.fpath]

    # -------------------------------------------------------------- recordings
    def n_samples(self, subject: str, trial: int) -> int:
        """Length of the run in samples."""
        return int(self._raw(subject, trial).n_times)

    def check_recording(self, subject: str, trial: int) -> None:
        """Check the run opens and lists the channels of the subject's electrode table."""
        raw = self._raw(subject, trial)
        table = self.electrode_table(subject)
        listed = table.loc[table["clean"] & (table["index"] >= 0), "name"].tolist()
        missing = [n for n in listed if n not in raw.ch_names]
        if missing:
            raise ValueError(f"{self._run(subject, trial).fpath}: channel(s) {missing[:5]} "
                             "listed in the subject's other runs are not in this recording "
                             "(mark them bad in this run's channels.tsv)")

    def read_channels(self, subject: str, trial: int, indices: list[int]) -> np.ndarray:
        """Read channels (microvolts) by their index in the subject's electrode table.

        Returns
        -------
        data : array of float64, shape (len(indices), n_samples)
        """
        raw = self._raw(subject, trial)
        names = self._channel_names(subject)
        absent = [names[i] for i in indices if names[i] not in raw.ch_names]
        if absent:
            raise ValueError(f"{self._run(subject, trial).fpath}: channel(s) {absent[:5]} are "
                             "not in this recording (mark them bad in its channels.tsv)")
        picks = [raw.ch_names.index(names[i]) for i in indices]
        if not picks:
            return np.empty((0, 0))
        # Microvolts, the unit of the Brain TreeBank release: thresholds stay comparable.
        return raw.get_data(picks=picks, units="uV").astype(np.float64, copy=False)

    def _channel_names(self, subject: str) -> list[str]:
        label = self._subject(subject)
        if label not in self._names:  # read_channels runs per chunk: parse the tsv files once
            self._names[label] = list(self._channels(label))
        return self._names[label]

    # --------------------------------------------------------------- movie runs
    def events_path(self, subject: str, trial: int) -> Path:
        """The run's ``*_events.tsv``, found by BIDS inheritance."""
        run = self._run(subject, trial)
        path = sidecar(run, "events", ".tsv")
        if path is None:
            expected = run.copy().update(suffix="events", extension=".tsv").fpath
            raise FileNotFoundError(
                f"{expected}: file not found, nor an events file it inherits (the run's events, "
                f"with the {self._types_text()} rows that time the movie)")
        return path

    def _types_text(self) -> str:
        return " / ".join(map(repr, self.playback_types))

    def _movie_rows(self, subject: str, trial: int) -> tuple[pd.DataFrame, Path]:
        path = self.events_path(subject, trial)
        events = _read_tsv(path)
        missing = [c for c in ("onset", "duration", "trial_type") if c not in events.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        # A blank trial type reads as NaN ("n/a"): name it so, so it can be listed in config.
        kinds = events["trial_type"].astype(object).where(events["trial_type"].notna(),
                                                           "n/a").astype(str)
        events = events.assign(trial_type=kinds)
        rows = events[kinds.isin(self.playback_types)]
        if rows.empty:
            found = sorted(set(kinds))
            raise ValueError(f"{path}: no row with trial_type {self._types_text()} (config "
                             f"dataset.movie_trial_type); its trial types are {found}")
        for col in ("onset", "duration") + (("movie_time",) if "movie_time" in rows else ()):
            values = pd.to_numeric(rows[col], errors="coerce")
            if values.isna().any():
                row = int(np.flatnonzero(values.isna().to_numpy())[0])
                raise ValueError(f"{path}: field {col!r} is empty or not a number on "
                                 f"{self._types_text()} row {row + 1}")
            rows = rows.assign(**{col: values})
        if "stim_file" not in rows or rows["stim_file"].isna().all():
            if self.movie_id is None:
                raise ValueError(f"{path}: the {self._types_text()} rows have no 'stim_file'; "
                                 "set config dataset.movie to the movie's id (its file name "
                                 "without extension in movies.root)")
            rows = rows.assign(stim_file=self.movie_id)
        elif rows["stim_file"].isna().any():
            raise ValueError(f"{path}: field 'stim_file' is empty on a {self._types_text()} row")
        elif self.movie_id is not None:
            stems = sorted({Path(str(f)).stem for f in rows["stim_file"]})
            if stems != [self.movie_id]:
                raise ValueError(f"{path}: config dataset.movie is {self.movie_id!r} but the "
                                 f"playback rows' stim_file names {stems}; remove dataset.movie "
                                 "(stim_file names the movie) or correct it")
        rows = rows.sort_values("onset", kind="stable").reset_index(drop=True)
        others = events[~kinds.isin(self.playback_types)
                        & ~kinds.isin(self.pause_trial_types)]
        self._refuse_left_out_blocks(rows, others, path)
        return rows, path

    def _refuse_left_out_blocks(self, rows: pd.DataFrame, others: pd.DataFrame,
                                path: Path) -> None:
        """Refuse a film block left out of ``movie_trial_type``.

        A pause between playback rows that rows of another trial type cover (90 % or more of
        it), or that such a row's onset marks (a block marker of no duration at the moment
        playback stops), is far more often a block of the film than a real stop; so is a
        block-long row, of a type that recurs later, ending as the first playback row starts
        (it would shift film time 0). Declared ``pause_trial_types`` are not in ``others``.
        """
        onset = rows["onset"].to_numpy(float)
        end = onset + rows["duration"].to_numpy(float)
        o_on = pd.to_numeric(others["onset"], errors="coerce").to_numpy(float)
        o_dur = pd.to_numeric(others["duration"], errors="coerce").to_numpy(float)
        o_dur = np.where(np.isfinite(o_dur), o_dur, 0.0)
        o_end = o_on + o_dur
        o_kind = others["trial_type"].astype(str).to_numpy()
        tol = max(self.playback_tolerance_s, 1e-3)

        def refuse(what: str, at: np.ndarray) -> None:
            kinds = ", ".join(map(repr, sorted(set(o_kind[at]))))
            raise ValueError(
                f"{path}: {what} is the {kinds} row(s) there. If the film plays on through "
                f"them, add {kinds} to config dataset.movie_trial_type (otherwise every later "
                "event is mistimed); if playback really stops, list them in "
                "dataset.pause_trial_types.")

        for k in range(len(rows) - 1):
            lo, hi = end[k], onset[k + 1]
            if hi - lo <= tol:
                continue
            what = (f"the {hi - lo:.1f} s pause in playback after the "
                    f"{rows['trial_type'].iloc[k]!r} row at onset {onset[k]:.3f} s")
            markers = (o_dur <= tol) & (np.abs(o_on - lo) <= tol)
            if markers.any():
                refuse(what + " starts with a marker that", markers)
            spans = (o_dur > tol) & (o_end > lo) & (o_on < hi)
            if spans.any():
                # Union of the other rows' spans inside the gap.
                covered, reach = 0.0, lo
                for a, b in sorted(zip(np.maximum(o_on[spans], lo), np.minimum(o_end[spans], hi),
                                       strict=True)):
                    covered += max(0.0, b - max(a, reach))
                    reach = max(reach, b)
                if covered >= 0.9 * (hi - lo):
                    refuse(what, spans)
        # Before the first playback row: only a trial type that recurs during or after the
        # playback is a film block; a task marker with a duration (ds003688 sub-28, sub-39:
        # 'start task' lasting until the film starts) is not.
        recurs = np.isin(o_kind, o_kind[o_on >= onset[0] - tol])
        before = ((o_dur > max(1.0, tol)) & (np.abs(o_end - onset[0]) <= tol)
                  & (o_on < onset[0]) & recurs)
        if before.any():
            refuse(f"the stretch before the first playback row (onset {onset[0]:.3f} s, "
                   "taken as movie time 0)", before)

    def movie(self, subject: str, trial: int) -> str:
        """Movie id of a run: the stem of its playback rows' ``stim_file`` (or the
        configured ``movie`` when they have none)."""
        if self.playback_from == "recording_start":
            return self.movie_id
        rows, path = self._movie_rows(subject, trial)
        movies = sorted({Path(str(f)).stem for f in rows["stim_file"]})
        if len(movies) != 1:
            raise ValueError(f"{path}: one movie per run expected, found {movies}")
        return movies[0]

    def trigger_mapping(self, subject: str, trial: int):
        """Movie time -> sample from the run's playback rows (one anchor at each row's ends),
        or, with ``playback_from='recording_start'``, from the first sample on."""
        fs = float(self._raw(subject, trial).info["sfreq"])
        if self.playback_from == "recording_start":
            n = self.n_samples(subject, trial)
            return PlaybackMapping(movie_time=np.array([0.0, n / fs]),
                                   index=np.array([0.0, float(n)]), fs=fs, pauses=[])
        rows, path = self._movie_rows(subject, trial)
        onset = rows["onset"].to_numpy(float)
        duration = rows["duration"].to_numpy(float)
        if (duration <= 0).any():
            row = int(np.flatnonzero(duration <= 0)[0])
            raise ValueError(f"{path}: {self._types_text()} row at onset {onset[row]:.3f} s has "
                             f"duration {duration[row]} (playback rows need a positive one)")
        tol = self.playback_tolerance_s + 1.0 / fs
        gap = onset[1:] - (onset[:-1] + duration[:-1])
        if (gap < -tol).any():
            k = int(np.flatnonzero(gap < -tol)[0])
            raise ValueError(
                f"{path}: {self._types_text()} rows at onsets {onset[k]:.3f} s and "
                f"{onset[k + 1]:.3f} s overlap by {-gap[k]:.3f} s, more than the "
                f"{self.playback_tolerance_s} s tolerated (config dataset.playback_tolerance_s)")
        if "movie_time" in rows.columns:
            start = rows["movie_time"].to_numpy(float)
            if (np.diff(start) < 0).any():
                raise ValueError(f"{path}: field 'movie_time' goes backwards")
        else:
            # Abutting rows (within the tolerance) play on: movie time advances with the
            # recording, so millisecond disagreements between durations and onsets do not
            # accumulate over blocks. A longer gap is a pause: movie time resumes where the
            # previous row ended.
            start = np.zeros(len(rows))
            for k in range(1, len(rows)):
                step = onset[k] - onset[k - 1] if abs(gap[k - 1]) <= tol else duration[k - 1]
                start[k] = start[k - 1] + step
        # Trim rows that overlap the next one (within the tolerance): the mapping is monotone.
        # Without movie_time, a row that falls short of the next by less than the tolerance
        # plays on up to it, so no moment between two abutting rows is left unmapped.
        duration = duration.copy()
        duration[:-1] = np.minimum(duration[:-1], onset[1:] - onset[:-1])
        if "movie_time" not in rows.columns:
            abut = np.abs(gap) <= tol
            duration[:-1][abut] = (onset[1:] - onset[:-1])[abut]
        movie_time = np.column_stack([start, start + duration]).ravel()
        # A stretch starts on a sample: snapping the onset to it keeps the microsecond
        # rounding of events.tsv from moving an event by one sample.
        first = np.rint(onset * fs)
        index = np.column_stack([first, first + duration * fs]).ravel()
        gaps = onset[1:] - (onset[:-1] + duration[:-1]) - (start[1:] - start[:-1] - duration[:-1])
        pauses = [(float(start[k + 1]), float(g)) for k, g in enumerate(gaps) if g > 0.5]
        return PlaybackMapping(movie_time=movie_time, index=index, fs=fs, pauses=pauses)

    def line_freq(self, subject: str, trial: int) -> tuple[float | None, str]:
        """Mains frequency of a run from its sidecar (``PowerLineFrequency``).

        Returns
        -------
        line_freq : float | None
            In Hz; None when the sidecar gives none (``n/a``).
        source : str
            The sidecar file it was read from, for messages.
        """
        run = self._run(subject, trial)
        json_path = sidecar(run, "ieeg", ".json")
        if json_path is None:
            return None, f"{run.basename} (no *_ieeg.json sidecar)"
        try:
            value = json.loads(json_path.read_text()).get("PowerLineFrequency")
        except json.JSONDecodeError as err:
            raise ValueError(f"{json_path}: not valid JSON ({err})") from err
        try:
            return float(value), f"{json_path} PowerLineFrequency"
        except (TypeError, ValueError):
            return None, f"{json_path} PowerLineFrequency ({value!r})"

    def transcript_path(self, movie: str) -> Path:
        """The words file of a movie: ``stimuli/<movie>_transcript.tsv`` under the dataset
        root, or the configured annotation file."""
        if self.transcript_files is not None:
            return self.transcript_files.words_path(self.root, movie)
        return self.root / "stimuli" / f"{movie}{TRANSCRIPT_SUFFIX}"

    def transcript_inputs(self, movie: str) -> list[Path]:
        """Every file the transcript of a movie is read from (words, then sentences)."""
        if self.transcript_files is not None:
            return self.transcript_files.paths(self.root, movie)
        return [self.transcript_path(movie)]

    def transcript(self, movie: str) -> pd.DataFrame:
        """Words of a movie (``start``, ``end``, ``text``), checked and time-sorted."""
        if self.transcript_files is not None:
            return checked_transcript(self.transcript_files.read(self.root, movie),
                                      self.transcript_path(movie))
        path = self.transcript_path(movie)
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found (transcript of movie {movie!r})")
        return checked_transcript(_read_tsv(path), path)

    # -------------------------------------------------------------- electrodes
    def electrode_table(self, subject: str) -> pd.DataFrame:
        """:meth:`electrodes` with ``index``, the channel's position in the recordings.

        Electrodes that no recording lists get ``index`` -1 (and are not clean).
        """
        table = self.electrodes(subject).copy()
        names = self._channel_names(subject)
        position = {n: i for i, n in enumerate(names)}
        table["index"] = [position.get(n, -1) for n in table["name"]]
        table["contact"] = table["contact"].fillna(-1).astype(int)
        return table
