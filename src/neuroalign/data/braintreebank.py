"""Reader for the Brain TreeBank release layout (and the simulator's copy of it).

One class, :class:`BrainTreeBank`, answers every question the data stage asks of
the raw dataset: which subjects and trials exist, which movie a trial shows,
which channels are brain signal and why the others are dropped, where each
contact is, the sampling rate of each trial and the sample at which a movie
moment was on screen. Files are read lazily; every error names the file and
the field at fault.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .labels import clean_label, is_non_neural, parse_label

__all__ = ["BrainTreeBank", "TriggerMapping", "TRIGGER_COLUMNS", "TRANSCRIPT_COLUMNS"]

TRIGGER_COLUMNS = ["type", "movie_time", "start_time", "end_time", "trig_type", "index", "diff"]
TRANSCRIPT_COLUMNS = ["start", "end", "text", "sentence", "sentence_idx", "idx_in_sentence",
                      "is_onset"]
_TRIAL_RE = re.compile(r"^sub_(\d+)_trial(\d{3})\.h5$")
# A gap in samples this much longer than the movie time it spans marks a pause.
_PAUSE_FACTOR = 1.5


@dataclass(frozen=True)
class TriggerMapping:
    """Movie time -> recording sample for one trial.

    Attributes
    ----------
    movie_time : array of shape (n_triggers,)
        Movie time of each trigger, in s (non-decreasing).
    index : array of shape (n_triggers,)
        Recording sample of each trigger (increasing).
    fs : float
        Sampling rate estimated from the triggers.
    pauses : list of (float, float)
        (movie time, duration in s) of every pause in the movie.
    """

    movie_time: np.ndarray
    index: np.ndarray
    fs: float
    pauses: list[tuple[float, float]]

    @property
    def last_movie_time(self) -> float:
        return float(self.movie_time[-1])

    def to_samples(self, times: np.ndarray) -> np.ndarray:
        """Map movie times (s) to samples by the nearest trigger.

        ``sample = round(index[k] + (t - movie_time[k]) * fs)`` with ``k`` the
        trigger nearest to ``t``. Times past the last trigger map to -1.

        Parameters
        ----------
        times : array of shape (n_times,)

        Returns
        -------
        samples : array of int64, shape (n_times,)
        """
        times = np.asarray(times, dtype=float)
        mt = self.movie_time
        right = np.clip(np.searchsorted(mt, times), 0, len(mt) - 1)
        left = np.clip(right - 1, 0, len(mt) - 1)
        # Nearest trigger; on ties prefer the later one so that a time just after
        # a pause uses the post-pause trigger.
        k = np.where(np.abs(mt[left] - times) < np.abs(mt[right] - times), left, right)
        samples = np.rint(self.index[k] + (times - mt[k]) * self.fs).astype(np.int64)
        samples[times > self.last_movie_time] = -1
        return samples


def checked_transcript(words: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A transcript table with its required columns checked, blank words dropped, time-sorted.

    A word without a start time (its forced alignment failed) is kept, in its place after
    the word before it: it gives no event but is part of the context of the words after it
    (:func:`neuroalign.data.events.language_events`; :func:`~neuroalign.data.events.check_words_in_film`
    counts such words).
    """
    missing = [c for c in ("start", "end", "text") if c not in words]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (expected {TRANSCRIPT_COLUMNS})")
    words = words.dropna(subset=["text"])
    placed = words["start"].astype(float).ffill().fillna(-np.inf).to_numpy()
    return words.iloc[np.argsort(placed, kind="stable")].reset_index(drop=True)


class BrainTreeBank:
    """Read a dataset in the Brain TreeBank layout.

    Parameters
    ----------
    root : path-like
        Folder holding ``sub_{S}_trial{TTT}.h5`` files and the metadata folders.

    Notes
    -----
    See ``data/README.md`` for the layout. Subject ids are strings ``"sub_{S}"``;
    trials are integers.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: dataset folder not found (config dataset.root)")

    # ------------------------------------------------------------------ index
    @cached_property
    def _trial_files(self) -> dict[str, dict[int, Path]]:
        found: dict[str, dict[int, Path]] = {}
        for path in sorted(self.root.glob("sub_*_trial*.h5")):
            m = _TRIAL_RE.match(path.name)
            if m:
                found.setdefault(f"sub_{int(m.group(1))}", {})[int(m.group(2))] = path
        return found

    def subjects(self) -> list[str]:
        """Subject ids with at least one recording, in numeric order."""
        return sorted(self._trial_files, key=lambda s: int(s.split("_")[1]))

    def _check_subject(self, subject: str) -> None:
        if subject not in self._trial_files:
            from ..utils import did_you_mean

            hint = did_you_mean(subject, self.subjects())
            raise ValueError(f"{self.root}: no recordings for subject {subject!r} "
                             f"(found {self.subjects()}).{hint}")

    def trials(self, subject: str) -> list[int]:
        """Trial numbers of a subject."""
        self._check_subject(subject)
        return sorted(self._trial_files[subject])

    def recording_path(self, subject: str, trial: int) -> Path:
        self._check_subject(subject)
        try:
            return self._trial_files[subject][trial]
        except KeyError:
            raise ValueError(f"{self.root}: subject {subject} has no trial {trial} "
                             f"(found {self.trials(subject)})") from None

    # --------------------------------------------------------------- metadata
    def _json(self, path: Path):
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err

    def metadata(self, subject: str, trial: int) -> dict:
        """The trial's metadata JSON (``filename``, ``title``, ...)."""
        path = self.root / "subject_metadata" / f"{subject}_trial{trial:03d}_metadata.json"
        meta = self._json(path)
        if not isinstance(meta, dict) or "filename" not in meta:
            raise ValueError(f"{path}: field 'filename' (the movie file) is missing")
        return meta

    def movie(self, subject: str, trial: int) -> str:
        """Movie id shown in a trial: the stem of the metadata's ``filename``."""
        return Path(str(self.metadata(subject, trial)["filename"])).stem

    def raw_labels(self, subject: str) -> list[str]:
        """The unfiltered label list, marks included, in ``electrode_{i}`` order."""
        path = self.root / "electrode_labels" / subject / "electrode_labels.json"
        labels = self._json(path)
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"{path}: expected a JSON list of label strings")
        return labels

    def corrupted(self, subject: str) -> set[str]:
        """Cleaned labels listed for ``subject`` in ``corrupted_elec.json`` (empty if absent)."""
        path = self.root / "corrupted_elec.json"
        if not path.exists():
            return set()
        table = self._json(path)
        if not isinstance(table, dict):
            raise ValueError(f"{path}: expected a mapping 'sub_N' -> list of labels")
        return {clean_label(x) for x in table.get(subject, [])}

    def coordinates(self, subject: str) -> pd.DataFrame:
        """MNI coordinates (mm) and regions, indexed by cleaned label.

        Returns
        -------
        coords : DataFrame with columns x, y, z, region (index: label)
        """
        out = pd.DataFrame(columns=["x", "y", "z", "region"], dtype=float)
        path = self.root / "localization" / "elec_coords_full.csv"
        if path.exists():
            df = pd.read_csv(path)
            missing = [c for c in ("Subject", "Electrode", "X", "Y", "Z") if c not in df]
            if missing:
                raise ValueError(f"{path}: missing column(s) {missing}")
            df = df[df["Subject"].astype(str) == subject]
            out = pd.DataFrame({"x": df["X"].to_numpy(float), "y": df["Y"].to_numpy(float),
                                "z": df["Z"].to_numpy(float)},
                               index=[clean_label(str(e)) for e in df["Electrode"]])
            out = out[~out.index.duplicated()]
        out["region"] = ""
        wm = self.root / "localization" / subject / "depth-wm.csv"
        if wm.exists():
            df = pd.read_csv(wm)
            if "Electrode" not in df:
                raise ValueError(f"{wm}: missing column 'Electrode'")
            col = next((c for c in ("DesikanKilliany", "Destrieux") if c in df), None)
            if col is not None:
                regions = pd.Series(df[col].fillna("").astype(str).to_numpy(),
                                    index=[clean_label(str(e)) for e in df["Electrode"]])
                regions = regions[~regions.index.duplicated()]
                out = out.reindex(out.index.union(regions.index))
                out["region"] = regions.reindex(out.index).fillna("").to_numpy()
        return out

    # -------------------------------------------------------------- recordings
    def n_samples(self, subject: str, trial: int) -> int:
        """Length in samples of a trial's recording (of its first channel)."""
        path = self.recording_path(subject, trial)
        with self._open_h5(path) as f:
            data = f["data"]
            first = next(iter(data.keys()), None)
            if first is None:
                raise ValueError(f"{path}: group 'data' holds no electrode_{{i}} dataset")
            return int(data[first].shape[0])

    @staticmethod
    def _open_h5(path: Path) -> h5py.File:
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found")
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise ValueError(f"{path}: unreadable or truncated HDF5 file ({err})") from err
        if "data" not in f:
            f.close()
            raise ValueError(f"{path}: group 'data' is missing")
        return f

    def check_recording(self, subject: str, trial: int) -> None:
        """Check that the h5 file holds exactly one dataset per listed label."""
        path = self.recording_path(subject, trial)
        labels = self.raw_labels(subject)
        with self._open_h5(path) as f:
            keys = set(f["data"].keys())
            missing = [i for i in range(len(labels)) if f"electrode_{i}" not in keys]
            if missing or len(keys) != len(labels):
                detail = (f"dataset 'electrode_{missing[0]}' is missing"
                          if missing else "it has extra datasets")
                raise ValueError(
                    f"{path}: {detail} (electrode_labels.json lists {len(labels)} channels, "
                    f"the file has {len(keys)})")
            lengths = {f["data"][f"electrode_{i}"].shape[0] for i in range(len(labels))}
            if len(lengths) != 1:
                raise ValueError(f"{path}: electrode datasets differ in length {sorted(lengths)}")

    def read_channels(self, subject: str, trial: int, indices: list[int]) -> np.ndarray:
        """Read raw channels by their ``electrode_{i}`` index.

        Returns
        -------
        data : array of float64, shape (len(indices), n_samples)
        """
        path = self.recording_path(subject, trial)
        with self._open_h5(path) as f:
            out = None
            for row, i in enumerate(indices):
                key = f"electrode_{i}"
                if key not in f["data"]:
                    raise ValueError(f"{path}: dataset {key!r} is missing")
                try:
                    values = f["data"][key][:]
                except OSError as err:
                    raise ValueError(f"{path}: dataset {key!r} is unreadable ({err})") from err
                if out is None:
                    out = np.empty((len(indices), values.shape[0]), dtype=np.float64)
                out[row] = values
        return out if out is not None else np.empty((0, 0))

    # ---------------------------------------------------------------- triggers
    def triggers(self, subject: str, trial: int) -> pd.DataFrame:
        """The trial's trigger table, checked: columns present, rows in time order."""
        path = self.root / "subject_timings" / f"{subject}_trial{trial:03d}_timings.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found")
        df = pd.read_csv(path)
        missing = [c for c in ("movie_time", "index") if c not in df]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing} (expected {TRIGGER_COLUMNS})")
        df = df.dropna(subset=["movie_time", "index"]).reset_index(drop=True)
        if len(df) < 2:
            raise ValueError(f"{path}: fewer than two triggers")
        idx = df["index"].to_numpy(float)
        mt = df["movie_time"].to_numpy(float)
        bad = np.flatnonzero(np.diff(idx) <= 0)
        if bad.size:
            raise ValueError(f"{path}: field 'index' is out of order at row {bad[0] + 1} "
                             f"({idx[bad[0]]:.0f} then {idx[bad[0] + 1]:.0f}); triggers must be "
                             "in recording order")
        bad = np.flatnonzero(np.diff(mt) < 0)
        if bad.size:
            raise ValueError(f"{path}: field 'movie_time' goes backwards at row {bad[0] + 1} "
                             f"({mt[bad[0]]} then {mt[bad[0] + 1]})")
        return df

    def trigger_mapping(self, subject: str, trial: int) -> TriggerMapping:
        """Estimate fs and detect pauses from the trigger table (see :class:`TriggerMapping`)."""
        df = self.triggers(subject, trial)
        mt = df["movie_time"].to_numpy(float)
        idx = df["index"].to_numpy(float)
        dmt, didx = np.diff(mt), np.diff(idx)
        moving = dmt > 0
        if not moving.any():
            raise ValueError(f"{subject} trial {trial}: movie_time never advances in the "
                             "trigger table")
        # The median rate is robust to the few intervals that contain a pause.
        fs = float(np.median(didx[moving] / dmt[moving]))
        expected = np.where(moving, dmt * fs, 0.0)
        is_pause = didx > _PAUSE_FACTOR * expected + 0.5 * fs
        pauses = [(float(mt[i]), float((didx[i] - expected[i]) / fs))
                  for i in np.flatnonzero(is_pause)]
        return TriggerMapping(movie_time=mt, index=idx, fs=fs, pauses=pauses)

    def line_freq(self, subject: str, trial: int) -> tuple[float | None, str]:
        """Mains frequency of a trial: the layout records none, so always None."""
        return None, f"{self.recording_path(subject, trial).name} (the Brain TreeBank layout " \
                     "records no mains frequency)"

    # -------------------------------------------------------------- transcripts
    def transcript_path(self, movie: str) -> Path:
        """``transcripts/{movie}/features.csv`` under the dataset root."""
        return self.root / "transcripts" / movie / "features.csv"

    def transcript_inputs(self, movie: str) -> list[Path]:
        """Every file the transcript of a movie is read from."""
        return [self.transcript_path(movie)]

    def transcript(self, movie: str) -> pd.DataFrame:
        """Words of a movie: ``transcripts/{movie}/features.csv``, checked and time-sorted."""
        path = self.transcript_path(movie)
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found (transcript of movie {movie!r})")
        return checked_transcript(pd.read_csv(path, index_col=0), path)

    # -------------------------------------------------------------- electrodes
    def electrode_table(self, subject: str) -> pd.DataFrame:
        """Every channel with its location and, for excluded ones, the reason.

        Reasons known from metadata alone: non-neural channel, corrupted. Signal
        checks (NaN, flat) and reference-neighbour checks are added by the
        preprocessing step.

        Returns
        -------
        table : DataFrame
            Columns ``name, index, shaft, contact, x, y, z, space, region,
            hemisphere, clean, reason``, one row per listed channel.
        """
        labels = [clean_label(x) for x in self.raw_labels(subject)]
        corrupted = self.corrupted(subject)
        coords = self.coordinates(subject)
        rows = []
        seen: set[str] = set()
        for i, name in enumerate(labels):
            shaft, contact = parse_label(name)
            reason = ""
            if is_non_neural(name):
                reason = "non-neural channel (DC/TRIG)"
            elif name in corrupted:
                reason = "listed in corrupted_elec.json"
            elif name in seen:
                reason = "duplicate label"
            seen.add(name)
            x = y = z = np.nan
            region = ""
            if name in coords.index:
                x, y, z, region = coords.loc[name, ["x", "y", "z", "region"]]
            rows.append({
                "name": name, "index": i, "shaft": shaft,
                "contact": -1 if contact is None else int(contact),
                "type": "SEEG",  # the release is depth electrodes only
                "x": float(x), "y": float(y), "z": float(z),
                "space": "MNI" if np.isfinite(x) else "native",
                "region": str(region) if isinstance(region, str) else "",
                "hemisphere": "" if not np.isfinite(x) else ("L" if x < 0 else "R"),
                "clean": reason == "", "reason": reason,
            })
        return pd.DataFrame(rows)
