"""Convert a dataset in the Brain TreeBank layout to BIDS-iEEG (``neuroalign to-bids``).

The result is what :class:`neuroalign.data.bids.BIDSMovieDataset` reads: one BrainVision run
per trial (task ``movie``, written by mne-bids), channels.tsv with corrupted channels marked
bad, an MNI ``*_electrodes.tsv`` when coordinates are known, ``*_events.tsv`` with one
``movie`` row per stretch of continuous playback (pauses become gaps between rows), and the
transcripts (and, when given, the movie files) under ``stimuli/``. Running the pipeline on
the converted dataset gives the same responses as on the original (tested).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd

from ..utils import logger
from .bids import TRANSCRIPT_SUFFIX
from .braintreebank import TRANSCRIPT_COLUMNS, BrainTreeBank
from .events import find_movie
from .labels import is_non_neural

__all__ = ["braintreebank_to_bids"]

_SPACE = "MNI152NLin2009cAsym"


def _bids_label(subject: str) -> str:
    return subject.replace("sub_", "").replace("_", "")


def _movie_rows(mapping, movie_file: str) -> pd.DataFrame:
    """One row per stretch of continuous playback between the trigger table's pauses.

    A pause lies somewhere between two triggers; the Brain TreeBank mapping (nearest
    trigger) switches from the pre- to the post-pause trigger half-way between them, so the
    rows meet there too and both layouts map every movie time to the same sample.
    """
    mt, idx, fs = mapping.movie_time, mapping.index, mapping.fs
    starts, onsets = [float(mt[0])], [float(idx[0]) / fs]
    for t, _ in mapping.pauses:
        # The pause follows trigger k, the first at its movie time (a table may repeat the
        # movie time across a pause).
        k = int(np.searchsorted(mt, t, side="left"))
        if not 0 <= k < len(mt) - 1:
            continue
        middle = 0.5 * (mt[k] + mt[k + 1])
        starts.append(float(middle))
        onsets.append(float(idx[k + 1] - (mt[k + 1] - middle) * fs) / fs)
    ends = starts[1:] + [mapping.last_movie_time]
    return pd.DataFrame({"onset": np.round(onsets, 6),
                         "duration": np.round(np.subtract(ends, starts), 6),
                         "trial_type": "movie", "stim_file": movie_file,
                         "movie_time": np.round(starts, 6)})


def braintreebank_to_bids(src: str | os.PathLike, out: str | os.PathLike, *,
                          movies_root: str | os.PathLike | None = None,
                          subjects: list[str] | None = None, line_freq: float = 60.0,
                          overwrite: bool = False) -> Path:
    """Write a Brain TreeBank-layout dataset as BIDS-iEEG.

    Parameters
    ----------
    src : path-like
        Root of the Brain TreeBank-layout dataset.
    out : path-like
        BIDS root to create.
    movies_root : path-like | None
        Folder of the movie files; each watched movie is copied to ``stimuli/``. None: the
        movies are not copied (point ``movies.root`` at their folder instead).
    subjects : list of str | None
        Subjects to convert (default: all). ``sub_3`` becomes ``sub-3``.
    line_freq : float
        Power-line frequency written to the sidecars.
    overwrite : bool
        Replace files already in ``out``.

    Returns
    -------
    out : Path
    """
    bt = BrainTreeBank(src)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True "
                              "(--overwrite) to replace its files.")
    subjects = bt.subjects() if subjects is None else subjects
    stimuli = out / "stimuli"
    stimuli.mkdir(parents=True, exist_ok=True)
    movies = set()
    for subject in subjects:
        label = _bids_label(subject)
        table = bt.electrode_table(subject)
        names = table["name"].tolist()
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{subject}: duplicate channel label(s) {dup[:5]}; BIDS needs "
                             "unique channel names")
        types = ["misc" if is_non_neural(n) else "seeg" for n in names]
        for trial in bt.trials(subject):
            mapping = bt.trigger_mapping(subject, trial)
            movie = bt.movie(subject, trial)
            movies.add(movie)
            data = bt.read_channels(subject, trial, table["index"].tolist()) * 1e-6  # uV -> V
            info = mne.create_info(names, mapping.fs, types, verbose=False)
            info["line_freq"] = line_freq
            raw = mne.io.RawArray(data, info, verbose=False)
            raw.info["bads"] = table.loc[~table["clean"], "name"].tolist()
            # run = trial number, so trials keep their numbers (dataset.trials) across layouts
            path = mne_bids.BIDSPath(subject=label, task="movie", run=int(trial),
                                     datatype="ieeg", root=out)
            with warnings.catch_warnings():
                # pybv notes that the unit-less misc channels (DC, trigger) are not in uV.
                warnings.filterwarnings("ignore", message=".*non-voltage units.*")
                warnings.filterwarnings("ignore", message=".*Converting data files to "
                                        "BrainVision.*")
                mne_bids.write_raw_bids(raw, path, format="BrainVision", allow_preload=True,
                                        overwrite=overwrite, verbose=False)
            events = path.copy().update(suffix="events", extension=".tsv").fpath
            ext = Path(bt.metadata(subject, trial)["filename"]).suffix or ".mp4"
            _movie_rows(mapping, f"stimuli/{movie}{ext}").to_csv(
                events, sep="\t", index=False, na_rep="n/a")
            events.with_suffix(".json").write_text(json.dumps({
                "trial_type": {"Description": "Stretch of continuous movie playback"},
                "stim_file": {"Description": "The movie shown (path relative to the root)"},
                "movie_time": {"Description": "Time into the movie at onset", "Units": "s"},
            }, indent=2) + "\n")
        xyz = table[["x", "y", "z"]].to_numpy(float)
        if np.isfinite(xyz).any():
            ieeg = out / f"sub-{label}" / "ieeg"
            # mne-bids wrote placeholder sidecars (no montage, coordinates n/a): replace them.
            for stale in ("electrodes.tsv", "electrodes.json", "coordsystem.json"):
                (ieeg / f"sub-{label}_{stale}").unlink(missing_ok=True)
            contacts = np.array([t == "seeg" for t in types])  # DC and trigger lines are not
            el = pd.DataFrame({"name": names, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                               "size": "n/a", "region": table["region"].replace("", "n/a")}
                              )[contacts]
            el.to_csv(ieeg / f"sub-{label}_space-{_SPACE}_electrodes.tsv", sep="\t",
                      index=False, na_rep="n/a")
            (ieeg / f"sub-{label}_space-{_SPACE}_coordsystem.json").write_text(json.dumps(
                {"iEEGCoordinateSystem": _SPACE, "iEEGCoordinateUnits": "mm"}, indent=2) + "\n")
        logger.info("%s -> sub-%s: %d run(s), %d channels", subject, label,
                    len(bt.trials(subject)), len(names))
    for movie in sorted(movies):
        words = bt.transcript(movie)
        words = words[[c for c in TRANSCRIPT_COLUMNS if c in words.columns]]
        words.to_csv(stimuli / f"{movie}{TRANSCRIPT_SUFFIX}", sep="\t", index=False,
                     na_rep="n/a")
        if movies_root is not None:
            found = find_movie(movies_root, movie)
            dest = stimuli / found.name
            if found.is_dir():
                shutil.copytree(found, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(found, dest)
    return out
