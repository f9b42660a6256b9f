"""The Brain TreeBank reader on the simulator's output: every planted property is recovered."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from neuroalign.data.braintreebank import BrainTreeBank


def _truth(root: Path) -> dict:
    return json.loads((root / "ground_truth.json").read_text())


def copy_dataset(src: Path, dst: Path) -> Path:
    """Copy a dataset cheaply: hard-link recordings, copy metadata."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".h5", ".mp4"):
            os.link(path, target)
        else:
            shutil.copy(path, target)
    return dst


def test_subjects_trials_movies(tiny_dataset):
    ds = BrainTreeBank(tiny_dataset)
    truth = _truth(tiny_dataset)
    assert ds.subjects() == sorted((k for k in truth if k.startswith("sub_")),
                                   key=lambda s: int(s[4:]))
    for subject in ds.subjects():
        trials = truth[subject]["trials"]
        assert ds.trials(subject) == sorted(int(t) for t in trials)
        for t, info in trials.items():
            assert ds.movie(subject, int(t)) == info["movie"]


def test_labels_dropped_channels_and_reasons(tiny_dataset):
    ds = BrainTreeBank(tiny_dataset)
    truth = _truth(tiny_dataset)
    for subject in ds.subjects():
        table = ds.electrode_table(subject)
        raw = ds.raw_labels(subject)
        assert len(table) == len(raw)
        assert not table["name"].str.contains(r"[*#]").any()
        assert any(("*" in x) or ("#" in x) for x in raw), "simulator should mark some labels"
        non_neural = table["name"].str.upper().str.match(r"^(DC|TRIG)")
        assert non_neural.any()
        assert (~table.loc[non_neural, "clean"]).all()
        assert table.loc[non_neural, "reason"].str.contains("non-neural").all()
        corrupted = [k for k, v in truth[subject]["dropped"].items() if v == "corrupted"]
        assert corrupted
        for name in corrupted:
            row = table[table["name"] == name].iloc[0]
            assert not row["clean"] and "corrupted" in row["reason"]
        planted = table[table["name"].isin(truth[subject]["electrodes"])]
        assert len(planted) == len(truth[subject]["electrodes"])
        assert planted[["x", "y", "z"]].notna().all().all()
        assert (planted["space"] == "MNI").all()
        assert (planted["region"] != "").all()
        assert planted["shaft"].str.len().gt(0).all() and planted["contact"].ge(0).all()


def test_sampling_rate_per_trial(tiny_dataset):
    ds = BrainTreeBank(tiny_dataset)
    truth = _truth(tiny_dataset)
    for subject in ds.subjects():
        for trial in ds.trials(subject):
            fs = ds.trigger_mapping(subject, trial).fs
            assert fs == pytest.approx(truth[subject]["fs"], rel=1e-4)


def test_trigger_mapping_within_one_sample_across_the_pause(tiny_dataset):
    ds = BrainTreeBank(tiny_dataset)
    truth = _truth(tiny_dataset)
    for subject in ds.subjects():
        fs = truth[subject]["fs"]
        for trial, info in truth[subject]["trials"].items():
            mapping = ds.trigger_mapping(subject, int(trial))
            pause = info["pause"]
            assert len(mapping.pauses) == 1
            assert mapping.pauses[0][0] == pytest.approx(pause["movie_time_s"], abs=1.01)
            assert mapping.pauses[0][1] == pytest.approx(pause["duration_s"], abs=0.01)
            t = np.linspace(0.1, mapping.last_movie_time - 0.1, 2000)
            # Continuous truth: the movie starts lead_s into the recording and stops for
            # duration_s at the pause; trigger indices and our answer are both rounded.
            assert info["movie_start_sample"] == round(info["lead_s"] * fs)
            expected = (info["lead_s"] + t
                        + np.where(t >= pause["movie_time_s"], pause["duration_s"], 0)) * fs
            got = mapping.to_samples(t)
            assert np.max(np.abs(got - expected)) <= 1.0
            assert mapping.to_samples(np.array([mapping.last_movie_time + 5]))[0] == -1


def test_recording_checks(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    ds = BrainTreeBank(root)
    ds.check_recording("sub_1", 0)
    # Truncated file.
    path = root / "sub_1_trial000.h5"
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"sub_1_trial000.h5: unreadable or truncated HDF5"):
        BrainTreeBank(root).check_recording("sub_1", 0)
    # Missing file.
    path.unlink()
    with pytest.raises(ValueError, match="no trial 0|no recordings"):
        BrainTreeBank(root).check_recording("sub_1", 0)


def test_label_count_mismatch_names_file_and_dataset(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    labels_path = root / "electrode_labels" / "sub_1" / "electrode_labels.json"
    labels = json.loads(labels_path.read_text())
    labels_path.write_text(json.dumps(labels + ["EXTRA1"]))
    with pytest.raises(ValueError, match=rf"sub_1_trial000.h5: dataset 'electrode_{len(labels)}' is "
                                         rf"missing \(electrode_labels.json lists {len(labels) + 1}"):
        BrainTreeBank(root).check_recording("sub_1", 0)


def test_trigger_table_out_of_order(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    path = root / "subject_timings" / "sub_1_trial000_timings.csv"
    df = pd.read_csv(path)
    df.loc[[3, 4]] = df.loc[[4, 3]].to_numpy()
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"sub_1_trial000_timings.csv: field 'index' is out of order"):
        BrainTreeBank(root).trigger_mapping("sub_1", 0)


def test_missing_metadata_and_transcript(tiny_dataset, tmp_path):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    (root / "subject_metadata" / "sub_1_trial000_metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="sub_1_trial000_metadata.json: file not found"):
        BrainTreeBank(root).movie("sub_1", 0)
    movie = json.loads((tiny_dataset / "ground_truth.json").read_text())["sub_1"]["trials"]["0"]["movie"]
    shutil.rmtree(root / "transcripts" / movie)
    with pytest.raises(FileNotFoundError, match=f"transcripts/{movie}/features.csv"):
        BrainTreeBank(root).transcript(movie)


def test_read_channels_matches_h5(tiny_dataset):
    ds = BrainTreeBank(tiny_dataset)
    x = ds.read_channels("sub_1", 0, [2, 0])
    with h5py.File(tiny_dataset / "sub_1_trial000.h5") as f:
        np.testing.assert_array_equal(x[0], f["data"]["electrode_2"][:])
        np.testing.assert_array_equal(x[1], f["data"]["electrode_0"][:])
    assert x.dtype == np.float64
