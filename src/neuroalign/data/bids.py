"""BIDS-iEEG datasets: subjects, recordings and the electrodes table (DESIGN.md §4).

A thin layer over mne-bids. The electrodes table joins ``*_electrodes.tsv`` (coordinates) with the
recordings' ``*_channels.tsv`` (type and status), in the columns of
``subjects/{subject}/electrodes.parquet``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd

from ..utils import closest, logger
from .labels import is_non_neural, parse_label

__all__ = ["ELECTRODE_COLUMNS", "BIDSDataset"]

ELECTRODE_COLUMNS = ["name", "shaft", "contact", "x", "y", "z", "space", "region", "hemisphere",
                     "clean", "reason"]

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
            near = closest(subject, subjects)
            hint = f" Did you mean {near!r}?" if near else ""
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

    def _channels(self, subject: str) -> dict[str, list[str]]:
        """Channel name -> reasons it is not clean (empty when clean), over all recordings."""
        channels: dict[str, list[str]] = {}
        for bids_path in self.recordings(subject):
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
