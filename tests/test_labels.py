"""Electrode labels: cleaning, shaft/contact parsing, non-neural channels."""

from __future__ import annotations

from collections import defaultdict

import mne
import pandas as pd
import pytest

from neuroalign.data.labels import clean_label, is_non_neural, parse_label


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("T1cIe11", ("T1cIe", 11)),
        ("LT2a3", ("LT2a", 3)),
        ("L'12", ("L'", 12)),
        ("DC1", ("DC", 1)),
        ("EKG", ("EKG", None)),
        ("*T1cIe11#", ("T1cIe", 11)),
        ("  RH-5 ", ("RH", 5)),
        ("A 7", ("A", 7)),
        ("DC01", ("DC", 1)),
    ],
)
def test_parse_label(label, expected):
    assert parse_label(label) == expected


def test_clean_label():
    assert clean_label(" *T1cIe11# ") == "T1cIe11"
    assert clean_label("#L'3") == "L'3"
    assert clean_label("L'3") == "L'3"


@pytest.mark.parametrize("label", ["DC1", "dc04", "TRIG", "Trig2", "EKG1", "ekg", "ECG2", "*DC3"])
def test_non_neural(label):
    assert is_non_neural(label)


@pytest.mark.parametrize("label", ["L'1", "T1cIe11", "LT2a3", "D1", "TR3", "E1"])
def test_neural(label):
    assert not is_non_neural(label)


def test_parse_real_seeg_labels(shared_data):
    """Every sEEG label of the real recording parses, and contacts are consecutive per shaft."""
    folder = shared_data / "mne_misc_seeg_pat01"
    raw = mne.io.read_raw_edf(folder / "sample_seeg.edf", preload=False, verbose="error")
    seeg = set(pd.read_csv(folder / "sample_seeg_electrodes_mni.tsv", sep="\t")["name"])
    labels = [c for c in raw.ch_names if c in seeg]
    assert len(labels) == 88
    shafts: dict[str, list[int]] = defaultdict(list)
    for label in labels:
        shaft, contact = parse_label(label)
        assert contact is not None, label
        assert shaft.endswith("'") and len(shaft) == 2, label
        assert f"{shaft}{contact}" == label
        assert not is_non_neural(label)
        shafts[shaft].append(contact)
    assert set(shafts) == {"L'", "N'", "F'", "O'", "G'", "X'"}
    for shaft, contacts in shafts.items():
        assert sorted(contacts) == list(range(1, len(contacts) + 1)), shaft
    # The rest of the channels are the DC inputs and the EKG: non-neural.
    others = [c for c in raw.ch_names if c not in seeg]
    assert len(others) == 10
    assert all(is_non_neural(c) for c in others)
