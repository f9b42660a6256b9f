"""BIDS-iEEG datasets: subjects, recordings, the electrodes table and movie runs (docs/DESIGN.md §4).

A thin layer over mne-bids. The electrodes table joins ``*_electrodes.tsv`` (coordinates) with the
recordings' ``*_channels.tsv`` (type and status), in the columns of
the electrodes artifact (``neuroalign.artifacts.ARTIFACTS.electrodes``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd

from ..artifacts import ELECTRODE_COLUMNS
from ..utils import did_you_mean, logger
from .braintreebank import TriggerMapping, checked_transcript
from .labels import is_non_neural, parse_label

__all__ = ["ELECTRODE_COLUMNS", "BIDSDataset", "BIDSMovieDataset", "PlaybackMapping",
           "TRANSCRIPT_SUFFIX"]

# Raw-data extensions mne-bids can read; the BrainVision .eeg/.vmrk sidecars are not recordings.
_RAW_EXTENSIONS = [".vhdr", ".edf", ".EDF", ".bdf", ".BDF", ".set", ".nwb", ".fif", ".mefd"]
# BIDS-iEEG channel types that record the brain.
_IEEG_TYPES = {"SEEG", "ECOG", "DBS"}
# Coordinate systems in MNI space (fsaverage is MNI305).
_MNI_MARKERS = ("mni", "icbm", "fsaverage")
_UNIT_TO_MM = {"m": 1000.0, "cm": 10.0, "mm": 1.0}
# Anatomical label columns found in the wild, in order of preference.
_REGION_COLUMNS = ("region", "anat", "anatomy", "anatomical_label", "destrieux", "desikan_killiany")


def _read_tsv(path: Path) -> pd.DataFrame:
    # utf-8-sig: some writers put a byte-order mark before the first column name.
    return pd.read_csv(path, sep="\t", na_values=["n/a"], encoding="utf-8-sig")


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

    def _electrodes_file(self, subject: str) -> Path:
        files = sorted((self.root / f"sub-{subject}").rglob("*_electrodes.tsv"))
        if not files:
            raise FileNotFoundError(
                f"No *_electrodes.tsv for subject {subject!r} under {self.root / f'sub-{subject}'}."
            )
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
            Columns ``name, shaft, contact, x, y, z, space, region, hemisphere, clean, reason``,
            one row per channel of the recordings (in recording order), then electrodes that no
            recording lists. Coordinates in mm (NaN where missing), ``space`` ``'MNI'`` or
            ``'native'``. ``clean`` is False, with a ``reason``, for channels marked bad, of a
            non-iEEG type, non-neural by name, or in no recording.
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
        space = "MNI" if any(m in space_text for m in _MNI_MARKERS) else "native"

        region_col = next((c for c in el.columns if c.lower() in _REGION_COLUMNS), None)
        coords = {name: (row, xyz[i]) for i, (name, row) in enumerate(
            zip(el["name"], el.to_dict("records"), strict=True))}

        channels = self._channels(subject)
        names = list(channels) + [n for n in el["name"] if n not in channels]
        rows = []
        for name in names:
            row, (x, y, z) = coords.get(name, ({}, (np.nan, np.nan, np.nan)))
            shaft, contact = parse_label(name)
            reasons = []
            if name in channels:
                reasons.extend(channels[name])
            elif channels:
                reasons.append("in no recording's channels.tsv")
            if is_non_neural(name) and not reasons:
                reasons.append("non-neural channel (DC/trigger/EKG)")
            region = row.get(region_col) if region_col else None
            rows.append({
                "name": name, "shaft": shaft, "contact": contact,
                "x": x, "y": y, "z": z, "space": space,
                "region": "" if region is None or pd.isna(region) else str(region),
                "hemisphere": "L" if x < 0 else ("R" if x > 0 else ""),
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

    def _channels(self, subject: str) -> dict[str, list[str]]:
        """Channel name -> reasons it is not clean (empty when clean), over the recordings used."""
        channels: dict[str, list[str]] = {}
        for bids_path in self._recordings_for_channels(subject):
            path = bids_path.copy().update(suffix="channels", extension=".tsv").fpath
            if not path.exists():
                raise FileNotFoundError(f"{bids_path.basename}: channels file {path} is missing.")
            table = _read_tsv(path)
            if "name" not in table.columns or "type" not in table.columns:
                raise ValueError(f"{path.name}: needs columns 'name' and 'type' "
                                 f"(has {', '.join(map(str, table.columns))}).")
            for rec in table.to_dict("records"):
                reasons = channels.setdefault(str(rec["name"]), [])
                kind = str(rec["type"]).upper()
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
    - Subjects are named ``sub-<label>``; each iEEG run of ``task`` (all runs when None) is a
      trial, numbered by its ``run`` entity (1, 2, ... in file-name order when runs lack
      distinct numeric ones). Subjects without such a run are not listed.
    - The run's ``*_events.tsv`` has one row per stretch of continuous movie playback with
      ``trial_type == movie_trial_type``: ``onset`` (s, recording time), ``duration`` (s),
      ``stim_file`` (the movie file, e.g. ``stimuli/<movie>.mp4``; the movie id is its stem) and
      optionally ``movie_time`` (s into the movie at ``onset``; without it the rows play one
      after another from 0). A pause is a gap in recording time between two rows.
    - The transcript of a movie is ``stimuli/<movie>_transcript.tsv`` under the dataset root
      (tab-separated ``start``, ``end``, ``text`` in s of movie time, and ``sentence_idx``
      or ``is_onset`` to mark sentences, which give language events their context; without
      either the whole transcript is one sentence).

    Parameters
    ----------
    root : str | Path
        The dataset root.
    task : str | None
        Task label of the movie runs.
    movie_trial_type : str
        ``trial_type`` of the movie-playback rows in ``*_events.tsv``.
    """

    def __init__(self, root: str | Path, task: str | None = None,
                 movie_trial_type: str = "movie") -> None:
        super().__init__(root)
        self.task = task
        self.movie_trial_type = movie_trial_type
        self._headers: dict[Path, mne.io.BaseRaw] = {}
        self._names: dict[str, list[str]] = {}
        self._run_lists: dict[str, list[mne_bids.BIDSPath]] = {}

    def __repr__(self) -> str:
        return f"BIDSMovieDataset({str(self.root)!r}, task={self.task!r})"

    # ------------------------------------------------------------------ index
    def subjects(self) -> list[str]:
        """Ids (``sub-<label>``, sorted) of the subjects with an iEEG run of ``task``."""
        out = []
        for label in super().subjects():
            runs = super().recordings(label)
            if any(self.task is None or r.task == self.task for r in runs):
                out.append(f"sub-{label}")
        return out

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
            runs = self.recordings(subject)
            if self.task is not None:
                runs = [r for r in runs if r.task == self.task]
            if not runs:
                raise ValueError(f"{self.root}: subject {subject!r} has no iEEG recording"
                                 + (f" of task {self.task!r} (config dataset.task)"
                                    if self.task else ""))
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
    def _movie_rows(self, subject: str, trial: int) -> tuple[pd.DataFrame, Path]:
        path = self._run(subject, trial).copy().update(suffix="events", extension=".tsv").fpath
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found (the run's events, with the "
                                    f"{self.movie_trial_type!r} rows that time the movie)")
        events = _read_tsv(path)
        missing = [c for c in ("onset", "duration", "trial_type", "stim_file")
                   if c not in events.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        rows = events[events["trial_type"].astype(str) == self.movie_trial_type]
        if rows.empty:
            raise ValueError(f"{path}: no row with trial_type {self.movie_trial_type!r} "
                             "(config dataset.movie_trial_type)")
        if rows["stim_file"].isna().any():
            raise ValueError(f"{path}: field 'stim_file' is empty on a "
                             f"{self.movie_trial_type!r} row")
        for col in ("onset", "duration") + (("movie_time",) if "movie_time" in rows else ()):
            values = pd.to_numeric(rows[col], errors="coerce")
            if values.isna().any():
                row = int(np.flatnonzero(values.isna().to_numpy())[0])
                raise ValueError(f"{path}: field {col!r} is empty or not a number on "
                                 f"{self.movie_trial_type!r} row {row + 1}")
            rows = rows.assign(**{col: values})
        return rows.sort_values("onset", kind="stable").reset_index(drop=True), path

    def movie(self, subject: str, trial: int) -> str:
        """Movie id of a run: the stem of its movie rows' ``stim_file``."""
        rows, path = self._movie_rows(subject, trial)
        movies = sorted({Path(str(f)).stem for f in rows["stim_file"]})
        if len(movies) != 1:
            raise ValueError(f"{path}: one movie per run expected, found {movies}")
        return movies[0]

    def trigger_mapping(self, subject: str, trial: int):
        """Movie time -> sample from the run's movie rows (one anchor at each row's ends)."""
        rows, path = self._movie_rows(subject, trial)
        fs = float(self._raw(subject, trial).info["sfreq"])
        onset = rows["onset"].to_numpy(float)
        duration = rows["duration"].to_numpy(float)
        if "movie_time" in rows.columns:
            start = rows["movie_time"].to_numpy(float)
        else:
            start = np.r_[0.0, np.cumsum(duration)[:-1]]
        if (duration <= 0).any() or (np.diff(onset) < duration[:-1] - 1.0 / fs).any():
            raise ValueError(f"{path}: {self.movie_trial_type!r} rows must have positive "
                             "durations and must not overlap")
        if (np.diff(start) < 0).any():
            raise ValueError(f"{path}: field 'movie_time' goes backwards")
        movie_time = np.column_stack([start, start + duration]).ravel()
        # A stretch starts on a sample: snapping the onset to it keeps the microsecond
        # rounding of events.tsv from moving an event by one sample.
        first = np.rint(onset * fs)
        index = np.column_stack([first, first + duration * fs]).ravel()
        gaps = onset[1:] - (onset[:-1] + duration[:-1]) - (start[1:] - start[:-1] - duration[:-1])
        pauses = [(float(start[k + 1]), float(g)) for k, g in enumerate(gaps) if g > 0.5]
        return PlaybackMapping(movie_time=movie_time, index=index, fs=fs, pauses=pauses)

    def transcript_path(self, movie: str) -> Path:
        """``stimuli/<movie>_transcript.tsv`` under the dataset root."""
        return self.root / "stimuli" / f"{movie}{TRANSCRIPT_SUFFIX}"

    def transcript(self, movie: str) -> pd.DataFrame:
        """Words of a movie (``start``, ``end``, ``text``), checked and time-sorted."""
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
