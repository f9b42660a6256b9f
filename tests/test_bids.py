"""BIDS-iEEG dataset access, on the real py_neuromodulation ECoG/LFP recording."""

from __future__ import annotations

import shutil

import mne
import numpy as np
import pytest

from neuroalign.data.bids import ELECTRODE_COLUMNS, BIDSDataset

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mne-bids sidecar notes

NAME = "pynm_ecog_lfp_gripforce"


@pytest.fixture(scope="module")
def dataset(shared_data):
    return BIDSDataset(shared_data / NAME)


def test_subjects_and_recordings(dataset):
    assert dataset.subjects() == ["testsub"]
    paths = dataset.recordings("testsub")
    assert len(paths) == 1
    bp = paths[0]
    assert (bp.subject, bp.session, bp.task, bp.run, bp.datatype) == (
        "testsub", "EphysMedOff", "gripforce", "0", "ieeg")
    assert bp.extension == ".vhdr"
    assert dataset.recordings("sub-testsub") == paths


def test_read_raw(dataset):
    raw = dataset.read_raw(dataset.recordings("testsub")[0])
    assert isinstance(raw, mne.io.BaseRaw)
    assert raw.info["sfreq"] == 1000.0 and len(raw.ch_names) == 10
    types = raw.get_channel_types()
    assert types.count("ecog") == 6 and types.count("dbs") == 3 and types.count("misc") == 1


def test_electrodes(dataset):
    el = dataset.electrodes("testsub")
    assert list(el.columns) == ELECTRODE_COLUMNS
    assert len(el) == 10
    ecog = el[el["name"].str.startswith("ECOG")]
    assert len(ecog) == 6
    assert (ecog["space"] == "MNI").all()
    # Metres in the file, millimetres here: ECoG on the right convexity, ~40 mm lateral.
    row = ecog.set_index("name").loc["ECOG_RIGHT_0"]
    assert row["x"] == pytest.approx(37.318174, abs=1e-4)
    assert row["z"] == pytest.approx(61.79765, abs=1e-4)
    assert np.all(np.abs(ecog[["x", "y", "z"]].to_numpy()) < 100)
    assert (ecog["x"].abs() > 30).all() and (ecog["hemisphere"] == "R").all()
    assert ecog["clean"].all() and (ecog["reason"] == "").all()
    assert list(ecog["shaft"].unique()) == ["ECOG_RIGHT_"]
    assert ecog["contact"].tolist() == [0, 1, 2, 3, 4, 5]
    # The grip-force trace is not brain signal and has no coordinates.
    mov = el.set_index("name").loc["MOV_RIGHT"]
    assert not mov["clean"] and "MISC" in mov["reason"]
    assert np.isnan(mov["x"]) and mov["hemisphere"] == ""
    assert (el["region"] == "").all()


def test_electrodes_bad_channel_and_missing_files(shared_data, tmp_path):
    root = tmp_path / NAME
    shutil.copytree(shared_data / NAME, root)
    ieeg = root / "sub-testsub" / "ses-EphysMedOff" / "ieeg"
    channels = ieeg / "sub-testsub_ses-EphysMedOff_task-gripforce_run-0_channels.tsv"
    text = channels.read_text(encoding="utf-8-sig").splitlines()
    text[5] = text[5].replace("\tgood\t", "\tbad\t")  # ECOG_RIGHT_1
    channels.write_text("\n".join(text) + "\n", encoding="utf-8")
    el = BIDSDataset(root).electrodes("testsub").set_index("name")
    assert not el.loc["ECOG_RIGHT_1", "clean"]
    assert "marked bad" in el.loc["ECOG_RIGHT_1", "reason"]
    assert el.loc["ECOG_RIGHT_2", "clean"]

    (ieeg / "sub-testsub_ses-EphysMedOff_space-mni_coordsystem.json").unlink()
    with pytest.raises(FileNotFoundError, match="coordsystem.json"):
        BIDSDataset(root).electrodes("testsub")
    (ieeg / "sub-testsub_ses-EphysMedOff_space-mni_electrodes.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="electrodes.tsv"):
        BIDSDataset(root).electrodes("testsub")


def test_errors(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        BIDSDataset(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no subject 'testsb'.*Did you mean 'testsub'"):
        dataset.recordings("testsb")
