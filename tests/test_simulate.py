"""Tests of the simulated Brain TreeBank dataset (neuroalign.simulate)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from neuroalign.simulate import PRESETS, simulate_dataset


def _clean(label: str) -> str:
    return label.strip("*#")


def _gt(root: Path) -> dict:
    return json.loads((root / "ground_truth.json").read_text())


def _trials(root: Path) -> list[tuple[str, int]]:
    out = []
    for h5 in sorted(root.glob("sub_*_trial*.h5")):
        sub, trial = h5.stem.split("_trial")
        out.append((sub, int(trial)))
    return out


def test_presets_documented():
    assert set(PRESETS) == {"tiny", "demo", "paper"}
    assert PRESETS["demo"].fs == (2048.0, 1024.0)
    assert PRESETS["paper"].n_subjects == 10 and PRESETS["paper"].n_electrodes is None


def test_layout_files(tiny_dataset):
    root = tiny_dataset
    gt = _gt(root)
    for key in ("preset", "seed", "latents_kind", "source", "latents", "sub_1", "sub_2"):
        assert key in gt
    assert _trials(root) == [("sub_1", 0), ("sub_2", 0), ("sub_2", 1)]
    corrupted = json.loads((root / "corrupted_elec.json").read_text())
    assert set(corrupted) == {"sub_1", "sub_2"}
    coords = pd.read_csv(root / "localization" / "elec_coords_full.csv")
    assert list(coords.columns) == ["Subject", "Electrode", "X", "Y", "Z"]
    for sub in ("sub_1", "sub_2"):
        labels = json.loads((root / "electrode_labels" / sub / "electrode_labels.json").read_text())
        assert {"DC1", "DC2", "DC3", "DC4", "TRIG1"} <= set(labels)
        assert any(lab.startswith("*") or lab.endswith("#") for lab in labels)
        brain = [_clean(lab) for lab in labels if not lab.startswith(("DC", "TRIG"))]
        assert len(brain) >= 12
        assert 1 <= len(corrupted[sub]) <= 2 and set(corrupted[sub]) <= set(brain)
        assert set(coords.loc[coords.Subject == sub, "Electrode"]) == set(brain)
        wm = pd.read_csv(root / "localization" / sub / "depth-wm.csv")
        assert list(wm.columns[:2]) == ["Electrode", "DesikanKilliany"]
        assert set(wm.Electrode) == set(brain)
        g = gt[sub]
        assert {"electrodes", "dropped", "snr", "fs", "trials"} <= set(g)
        assert sorted(v for v in g["dropped"].values()).count("flat") == 1
        assert sorted(v for v in g["dropped"].values()).count("nan") == 1
        assert sorted(k for k, v in g["dropped"].items() if v == "corrupted") == corrupted[sub]
        # Classes only on clean electrodes, every clean electrode has a class.
        assert set(g["electrodes"]) == set(brain) - set(g["dropped"])
        kinds = set(g["electrodes"].values())
        assert kinds == {"vision", "language", "multimodal", "null"}
        for t, trial in g["trials"].items():
            tag = f"{sub}_trial{int(t):03d}"
            meta = json.loads((root / "subject_metadata" / f"{tag}_metadata.json").read_text())
            assert meta["filename"] == f"{trial['movie']}.mp4" and "title" in meta
            with h5py.File(root / f"{tag}.h5", "r") as f:
                names = list(f["data"].keys())
                assert len(names) == len(labels)
                assert set(names) == {f"electrode_{i}" for i in range(len(labels))}
                for i, lab in enumerate(labels):
                    ds = f["data"][f"electrode_{i}"]
                    assert ds.dtype == np.float32 and ds.shape == (trial["n_samples"],)
                    reason = g["dropped"].get(_clean(lab))
                    if reason == "flat":
                        assert not np.any(ds[:])
                    elif reason == "nan":
                        assert np.isnan(ds[:]).all()
                    elif reason == "corrupted":
                        assert np.abs(ds[:]).max() > 5000
                    elif lab.startswith(("DC", "TRIG")):
                        continue
                    else:
                        assert np.isfinite(ds[:]).all() and 5 < np.std(ds[:]) < 500
    for movie, lat in gt["latents"].items():
        words = pd.read_csv(root / "transcripts" / movie / "features.csv", index_col=0)
        for col in ("start", "end", "text", "sentence", "sentence_idx", "idx_in_sentence",
                    "is_onset", "is_offset"):
            assert col in words.columns
        assert (words.end > words.start).all() and words.start.is_monotonic_increasing
        assert (words.is_onset == (words.idx_in_sentence == 0)).all()
        first = words.groupby("sentence_idx").text.agg(" ".join)
        assert (words.sentence == words.sentence_idx.map(first)).all()
        cuts = pd.read_csv(root / "scene_cuts" / f"{movie}.csv")
        assert list(cuts.columns) == ["time_s"] and (cuts.time_s > 0).all()
        assert lat["vision"]["scene_start_s"] == [0.0] + cuts.time_s.tolist()
        k = lat["dim"]
        assert np.shape(lat["vision"]["values"]) == (len(cuts) + 1, k)
        assert np.shape(lat["language"]["values"]) == (len(words), k)
        assert (root / "movies" / f"{movie}.mp4").stat().st_size > 0


def test_trigger_tables(tiny_dataset):
    gt = _gt(tiny_dataset)
    for sub, t in _trials(tiny_dataset):
        table = pd.read_csv(tiny_dataset / "subject_timings" / f"{sub}_trial{t:03d}_timings.csv")
        assert list(table.columns) == ["type", "movie_time", "start_time", "end_time",
                                       "trig_type", "index", "diff"]
        trial = gt[sub]["trials"][str(t)]
        fs = gt[sub]["fs"]
        idx = table["index"].to_numpy()
        assert np.all(np.diff(idx) > 0) and np.all(np.diff(table.movie_time) > 0)
        assert table["diff"].iloc[0] == 0 and (table["diff"].iloc[1:] == np.diff(idx)).all()
        assert idx[0] == trial["movie_start_sample"] > 0 and idx[-1] < trial["n_samples"]
        jumps = np.diff(idx) - np.diff(table.movie_time) * fs
        assert np.sum(np.abs(jumps) > 1) == 1  # exactly one pause
        assert jumps.max() == pytest.approx(trial["pause"]["duration_s"] * fs, abs=1)
        assert (table.end_time > table.start_time).all()


def _word_samples(table: pd.DataFrame, times: np.ndarray, fs: float) -> np.ndarray:
    """Reader's mapping: nearest trigger k, sample = index[k] + (t - movie_time[k]) fs."""
    mt = table.movie_time.to_numpy()
    k = np.abs(times[:, None] - mt[None, :]).argmin(axis=1)
    return np.round(table["index"].to_numpy()[k] + (times - mt[k]) * fs).astype(int)


def test_planted_electrodes_recoverable(tiny_dataset):
    root = tiny_dataset
    gt = _gt(root)
    sub, g = "sub_1", gt["sub_1"]
    trial = g["trials"]["0"]
    lat = gt["latents"][trial["movie"]]
    words = pd.read_csv(root / "transcripts" / trial["movie"] / "features.csv", index_col=0)
    table = pd.read_csv(root / "subject_timings" / f"{sub}_trial000_timings.csv")
    fs = g["fs"]
    onsets = _word_samples(table, words.start.to_numpy(), fs)
    v, lang = np.array(lat["vision"]["values"]), np.array(lat["language"]["values"])
    scene = np.searchsorted(lat["vision"]["scene_start_s"], words.start, side="right") - 1
    labels = [_clean(x) for x in json.loads(
        (root / "electrode_labels" / sub / "electrode_labels.json").read_text())]
    sos = butter(4, [70, 250], btype="bandpass", fs=fs, output="sos")
    win = np.arange(int(0.1 * fs), int(0.4 * fs))

    t_on = onsets / fs

    def detrend(y):
        # Minus the mean over the events within 10 s: the planted slow drifts (30-180 s)
        # and scene-level latent components leave, shot- and word-level variation stays.
        # Two minutes-long series correlate by chance far beyond what white noise does.
        near = (np.abs(t_on[:, None] - t_on[None, :]) <= 10.0) & np.isfinite(y)[None, :]
        return y - (near @ np.nan_to_num(y)) / near.sum(axis=1)

    def event_env(label):
        with h5py.File(root / f"{sub}_trial000.h5", "r") as f:
            x = f["data"][f"electrode_{labels.index(label)}"][:].astype(float)
        env = np.abs(hilbert(sosfiltfilt(sos, x)))
        # The log turns the planted multiplicative drift into an additive slow term.
        out = np.log(env[onsets[:, None] + win[None, :]].mean(axis=1))
        # Events whose window a planted spike (<= 0.37 s long, filter ringing 0.05 s) hits
        # carry the spike, not the response: leave them out (NaN).
        spk = np.asarray(g["spikes"]["times_s"]["0"].get(label, [])) * fs
        hit = ((spk[None, :] > onsets[:, None] + win[0] - 0.42 * fs)
               & (spk[None, :] < onsets[:, None] + win[-1] + 0.05 * fs)).any(axis=1)
        return detrend(np.where(hit, np.nan, out))

    def corr(a, b):
        ok = np.isfinite(a) & np.isfinite(b)
        return np.corrcoef(a[ok], b[ok])[0, 1]

    def true_drive(label):
        w, kind = g["weights"][label], g["electrodes"][label]
        if kind == "vision":
            return v[scene] @ w["vision"]
        if kind == "language":
            return lang @ w["language"]
        return (v[scene] @ w["vision"]) * (lang @ w["language"])

    planted = [lab for lab, k in g["electrodes"].items() if k != "null"]
    drives = {lab: detrend(true_drive(lab)) for lab in planted}
    for lab in planted:
        r = corr(event_env(lab), drives[lab])
        assert r >= 0.45, (lab, g["electrodes"][lab], r)
    for lab in [lab for lab, k in g["electrodes"].items() if k == "null"]:
        env = event_env(lab)
        for other, d in drives.items():
            # A vision drive varies once per shot (~40 in this movie), so chance
            # correlations have an SD near 0.15; planted electrodes sit far above (>= 0.6).
            assert abs(corr(env, d)) < 0.4, (lab, other)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in {".h5", ".csv", ".json"}}


def test_determinism(tmp_path, tiny_dataset):
    a = simulate_dataset(tmp_path / "a", preset="tiny", seed=0, latents="random")
    b = simulate_dataset(tmp_path / "b", preset="tiny", seed=1, latents="random")
    fa, fb, f0 = _files(a), _files(b), _files(tiny_dataset)
    assert fa.keys() == f0.keys() and len(fa) > 10
    assert all(fa[k] == f0[k] for k in fa)
    assert fa["sub_1_trial000.h5"] != fb["sub_1_trial000.h5"]
    assert fa["ground_truth.json"] != fb["ground_truth.json"]


def test_synthetic_source(tmp_path):
    root = simulate_dataset(tmp_path / "syn", preset="tiny", seed=3, latents="random",
                            source="synthetic", n_subjects=1, duration_s=40)
    gt = _gt(root)
    assert gt["source"] == "synthetic" and "sub_2" not in gt
    labels = json.loads((root / "electrode_labels" / "sub_1" / "electrode_labels.json").read_text())
    with h5py.File(root / "sub_1_trial000.h5", "r") as f:
        assert len(f["data"]) == len(labels)
    words = pd.read_csv(root / "transcripts" / "sim-movie-a" / "features.csv", index_col=0)
    assert 1.5 < len(words) / 40 < 3.5 and words.end.max() < 40
    assert gt["sub_1"]["trials"]["0"]["pause"]["movie_time_s"] == 20.5


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="preset"):
        simulate_dataset(tmp_path, preset="huge")
    with pytest.raises(ValueError, match="n_subjects"):
        simulate_dataset(tmp_path, preset="tiny", n_subjects=3, latents="random")


def test_missing_neuroprobe_message(tmp_path, monkeypatch):
    import importlib.util
    import sys

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sys, "path", [])
    with pytest.raises(ImportError, match="pip install neuroprobe"):
        simulate_dataset(tmp_path, preset="tiny", latents="random")


def test_movie_decodes_and_cuts_detected(tiny_dataset):
    import av
    from scenedetect import ContentDetector, detect

    movie = "sim-movie-b"
    path = tiny_dataset / "movies" / f"{movie}.mp4"
    fps = PRESETS["tiny"].fps
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == int(round(PRESETS["tiny"].movies[movie] * fps))
    true = pd.read_csv(tiny_dataset / "scene_cuts" / f"{movie}.csv").time_s.to_numpy()
    scenes = detect(str(path), ContentDetector())
    found = np.array([s[0].seconds for s in scenes[1:]])
    assert len(found) > 0
    hit = [np.min(np.abs(found - t)) <= 1.01 / fps for t in true]
    assert np.mean(hit) >= 0.8


@pytest.mark.models
def test_content_latents(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("sentence_transformers")
    root = simulate_dataset(tmp_path / "c", preset="tiny", seed=0, latents="content", n_subjects=1,
                            duration_s=30)
    gt = _gt(root)
    assert gt["latents_kind"] == "content"
    lat = gt["latents"]["sim-movie-a"]
    words = pd.read_csv(root / "transcripts" / "sim-movie-a" / "features.csv", index_col=0)
    v, lang = np.array(lat["vision"]["values"]), np.array(lat["language"]["values"])
    assert v.shape == (len(lat["vision"]["scene_start_s"]), lat["dim"])
    assert lang.shape == (len(words), lat["dim"])
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(lang))
    assert np.all(np.abs(np.diff(v, axis=0)).max(axis=1) > 1e-3)  # scenes differ
    # Words in a sentence differ (sentence context); repeated short sentences may not.
    assert np.unique(np.round(lang, 4), axis=0).shape[0] > 0.7 * len(words)


def test_additive_frac_must_be_a_fraction(tmp_path):
    from neuroalign.simulate import simulate_dataset

    with pytest.raises(ValueError, match="additive_frac"):
        simulate_dataset(tmp_path / "ds", preset="tiny", additive_frac=1.5)
    assert not (tmp_path / "ds").exists()  # refused before anything is written


def test_separated_classes_never_neighbour_another_class():
    from neuroalign.simulate._core import _separated_classes

    rng = np.random.default_rng(0)
    contact = {f"{s}{c}": (s, c) for s in "ABC" for c in range(1, 11)}
    labels = list(contact)
    counts = {"vision": 4, "language": 4, "multimodal": 4, "vision+language": 2}
    for _ in range(20):
        placed = _separated_classes(list(rng.permutation(labels)), contact, counts)
        assert {k: sum(v == k for v in placed.values()) for k in counts} == counts
        for lab, kind in placed.items():
            shaft, num = contact[lab]
            for near in (f"{shaft}{num - 1}", f"{shaft}{num + 1}"):
                assert placed.get(near, kind) == kind, (lab, near, placed)
    # No room: one shaft of three contacts takes one class at most at its two ends.
    small = {f"A{c}": ("A", c) for c in (1, 2, 3)}
    placed = _separated_classes(["A1", "A3", "A2"], small, {"vision": 1, "language": 1})
    assert placed == {"A1": "vision", "A3": "language"}


def _truth_and_sites():
    truth = {"preset": "tiny",
             "sub_1": {"electrodes": {"A1": "null", "A2": "multimodal", "A3": "null",
                                      "A12": "multimodal", "B1": "vision", "B2": "null"},
                       "adjacent_to_planted": {"A1": ["A2"], "A3": ["A2"], "B2": ["B1"]}},
             "sub_2": {"electrodes": {"C1": "multimodal", "C2": "null"},
                       "adjacent_to_planted": {"C2": ["C1"]}}}
    sites = pd.DataFrame({
        "subject": ["sub_1"] * 5 + ["sub_2"],
        "electrode": ["A1", "A2", "A3", "A12", "B2", "C2"],
        "class": ["multimodal", "multimodal", "responsive", "language", "multimodal", "vision"],
        "region": ["r1", "r1", "r1", "r2", "r3", "r4"]})
    return truth, sites


def test_sites_against_truth_verdicts():
    from neuroalign.simulate.validation import sites_against_truth

    truth, sites = _truth_and_sites()
    sites.loc[4, "electrode"] = "B9"  # a called null next to nothing planted
    table = sites_against_truth(sites, truth)
    got = {(r.subject, r.electrode): (r.called, r.verdict) for r in table.itertuples()}
    assert got == {("sub_1", "A1"): ("multimodal", "leakage"),
                   ("sub_1", "A2"): ("multimodal", "found"),
                   ("sub_1", "A12"): ("language", "missed"),
                   ("sub_1", "B9"): ("multimodal", "false"),
                   ("sub_2", "C1"): ("not responsive", "missed")}
    # Contact 2 before contact 12, subjects in order.
    assert table["electrode"].tolist() == ["A1", "A2", "A12", "B9", "C1"]
    with pytest.raises(ValueError, match="class"):
        sites_against_truth(sites.drop(columns="class"), truth)


def test_pair_outputs_are_scored_by_their_contacts():
    from neuroalign.simulate.validation import score_sites, sites_against_truth

    truth, _ = _truth_and_sites()
    # Outputs as a bipolar reference (or isolated clean pairs under the Laplacian) name them.
    sites = pd.DataFrame({"subject": ["sub_1"] * 3 + ["sub_2"],
                          "electrode": ["A1-A2", "A3-A12", "B1-B2", "C1-C2"],
                          "class": ["multimodal", "responsive", "vision", "multimodal"]})
    got = {(r.subject, r.electrode): (r.planted, r.verdict)
           for r in sites_against_truth(sites, truth).itertuples()}
    assert got == {("sub_1", "A1-A2"): ("multimodal", "found"),
                   ("sub_1", "A3-A12"): ("multimodal", "missed"),
                   ("sub_2", "C1-C2"): ("multimodal", "found")}
    scores = score_sites(sites[sites["subject"] == "sub_1"], truth["sub_1"])
    assert scores["multimodal_recall"] == 0.5 and scores["multimodal_fdp"] == 0.0
    assert scores["vision_recall"] == 1.0
    # A called pair of nulls next to a planted contact is leakage, not a false site.
    leak = pd.DataFrame({"subject": ["sub_1"], "electrode": ["A1-A3"], "class": ["multimodal"]})
    assert sites_against_truth(leak, truth)["verdict"].tolist() == ["leakage", "missed",
                                                                    "missed", "missed"]
    assert score_sites(leak, truth["sub_1"])["multimodal_fdp"] == 0.0


def test_a_contact_in_two_bipolar_outputs_is_found_once():
    from neuroalign.simulate.validation import score_sites, sites_against_truth

    truth = {"sub_1": {"electrodes": {"A1": "null", "A2": "multimodal", "A3": "null"},
                       "adjacent_to_planted": {"A1": ["A2"], "A3": ["A2"]}}}
    sites = pd.DataFrame({"subject": ["sub_1", "sub_1"], "electrode": ["A1-A2", "A2-A3"],
                          "class": ["multimodal", "none"]})
    assert score_sites(sites, truth["sub_1"])["multimodal_recall"] == 1.0
    table = sites_against_truth(sites, truth)
    assert table[["electrode", "verdict"]].values.tolist() == [["A1-A2", "found"]]


def test_score_sites_command(tmp_path, capsys):
    from neuroalign.cli import main

    truth, sites = _truth_and_sites()
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth))
    sites.to_csv(tmp_path / "sites.tsv", sep="\t", index=False)
    assert main(["score-sites", str(tmp_path / "sites.tsv"), "--truth",
                 str(tmp_path / "ground_truth.json")]) == 0
    out = capsys.readouterr().out
    assert "next to planted A2 (re-reference leakage)" in out
    assert "A12" in out and "MISSED" in out
    assert ("Planted multimodal electrodes found: 1 of 3 (sub_1 1/2, sub_2 0/1); "
            "leakage sites: 2; false sites: 0.") in out
    sites.drop(columns="class").to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    assert main(["score-sites", str(tmp_path / "bad.tsv"), "--truth",
                 str(tmp_path / "ground_truth.json")]) == 2
    assert "bad.tsv" in capsys.readouterr().err
    bad_truths = {"broken.json": ("{not json", "not valid JSON"),
                  "nosub.json": (json.dumps({"preset": "tiny"}), "no subject"),
                  "noel.json": (json.dumps({"sub_1": {"dropped": {}}}), "'electrodes'")}
    for name, (text, message) in bad_truths.items():
        (tmp_path / name).write_text(text)
        assert main(["score-sites", str(tmp_path / "sites.tsv"), "--truth",
                     str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert name in err and message in err, err


# --------------------------------------------------------------------------- realistic structure
def test_structure_recorded_in_ground_truth(tiny_dataset):
    gt = _gt(tiny_dataset)
    p = PRESETS["tiny"]
    st = gt["structure"]
    assert st["drift"]["sd"] == p.drift_sd > 0 and st["drift"]["tau_s"] == [30.0, 180.0]
    assert st["drift"]["file"] == "ground_truth_drift.h5"
    assert st["scenes"]["scene_len_s"] == list(p.scene_len_s)
    assert st["spikes"]["frac"] == p.spike_frac > 0
    for lat in gt["latents"].values():
        shot_scene = np.array(lat["scenes"]["shot_scene"])
        shots = np.array(lat["vision"]["scene_start_s"])
        assert len(shot_scene) == len(shots) and shot_scene[0] == 0
        assert np.all(np.diff(shot_scene) >= 0) and np.all(np.diff(shot_scene) <= 1)
        # Every scene starts with a shot (a cut), and scenes are longer than shots.
        first = shots[np.flatnonzero(np.diff(shot_scene, prepend=-1))]
        np.testing.assert_allclose(first, lat["scenes"]["start_s"])
    assert len(gt["latents"]["sim-movie-a"]["scenes"]["start_s"]) >= 2
    for sub in ("sub_1", "sub_2"):
        g = gt[sub]
        n_ok = len(g["electrodes"])
        spiking = g["spikes"]["rate_per_min"]
        assert len(spiking) == round(p.spike_frac * n_ok) >= 1
        assert set(spiking) <= set(g["electrodes"])
        assert all(p.spike_rate_per_min[0] <= r <= p.spike_rate_per_min[1]
                   for r in spiking.values())
        for t, trial in g["trials"].items():
            times = g["spikes"]["times_s"][t]
            assert set(times) == set(spiking)
            dur = trial["n_samples"] / g["fs"]
            assert all(0 <= x < dur for v in times.values() for x in v)


def test_drift_planted_with_its_time_scale(tiny_dataset):
    root = tiny_dataset
    gt = _gt(root)
    sub, g = "sub_1", gt["sub_1"]
    fs = g["fs"]
    with h5py.File(root / "ground_truth_drift.h5", "r") as f:
        labels = [e.decode() for e in f[f"{sub}/trial0/electrodes"][()]]
        log_gain = f[f"{sub}/trial0/log_gain"][()]
    assert log_gain.shape == (int(np.ceil(g["trials"]["0"]["n_samples"] / fs * 100) + 1
                                  + 99) // 100, len(labels))
    assert set(labels) == set(g["electrodes"])
    # Slow: the 1 Hz log gain barely moves in 1 s and 5 s (time constants >= 30 s give
    # lag-1 s autocorrelation >= 0.967, lag 5 s >= 0.85; the sample estimate over 170 s is
    # biased low), unlike white noise (~0).
    z = log_gain - log_gain.mean(axis=0)
    for lag, low in ((1, 0.9), (5, 0.6)):
        r = np.sum(z[lag:] * z[:-lag], axis=0) / np.sum(z * z, axis=0)
        assert np.median(r) > low, (lag, r)
    # Amplitude: the gain's SD is drift_sd (mean 1) over the series, within the sampling
    # error of a 3-minute stretch of minutes-long processes.
    gain_sd = np.exp(log_gain).std(axis=0)
    assert 0.4 * PRESETS["tiny"].drift_sd < np.median(gain_sd) < 1.6 * PRESETS["tiny"].drift_sd
    # In the data: the 1-s mean high-gamma envelope of a null, non-spiking electrode follows
    # its recorded gain.
    names = [_clean(x) for x in json.loads(
        (root / "electrode_labels" / sub / "electrode_labels.json").read_text())]
    lab = next(lab for lab, k in g["electrodes"].items()
               if k == "null" and lab not in g["spikes"]["rate_per_min"])
    with h5py.File(root / f"{sub}_trial000.h5", "r") as f:
        x = f["data"][f"electrode_{names.index(lab)}"][:].astype(float)
    sos = butter(4, [70, 250], btype="bandpass", fs=fs, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x)))
    n = len(env) // int(fs)
    per_s = np.log(env[:n * int(fs)].reshape(n, -1).mean(axis=1))
    assert np.corrcoef(per_s, log_gain[:n, labels.index(lab)])[0, 1] > 0.8


def test_spikes_in_the_raw_signal(tiny_dataset):
    root = tiny_dataset
    g = _gt(root)["sub_2"]
    fs = g["fs"]
    names = [_clean(x) for x in json.loads(
        (root / "electrode_labels" / "sub_2" / "electrode_labels.json").read_text())]
    with h5py.File(root / "sub_2_trial000.h5", "r") as f:
        for lab, times in g["spikes"]["times_s"]["0"].items():
            x = f["data"][f"electrode_{names.index(lab)}"][:].astype(float)
            x -= np.median(x)
            sd = 1.4826 * np.median(np.abs(x))
            starts = np.round(np.asarray(times) * fs).astype(int)
            peaks = np.array([np.abs(x[a:a + int(0.08 * fs)]).max() for a in starts])
            # Large transients: several times the background at every planted time.
            assert len(starts) and np.all(peaks > 4 * sd) and np.median(peaks) > 7 * sd, (
                lab, peaks / sd)
        quiet = next(lab for lab in g["electrodes"] if lab not in g["spikes"]["rate_per_min"])
        x = f["data"][f"electrode_{names.index(quiet)}"][:].astype(float)
        x -= np.median(x)
        assert np.abs(x).max() < 7 * 1.4826 * np.median(np.abs(x))


def test_scene_structure_in_frames_and_latents(tiny_dataset):
    import av

    gt = _gt(tiny_dataset)
    movie = "sim-movie-a"
    lat = gt["latents"][movie]
    fps = PRESETS["tiny"].fps
    shots = np.array(lat["vision"]["scene_start_s"])
    shot_scene = np.array(lat["scenes"]["shot_scene"])
    with av.open(str(tiny_dataset / "movies" / f"{movie}.mp4")) as container:
        frames = [fr.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
                  for fr in container.decode(video=0)]
    frames = np.array(frames)  # (n_frames, 3) mean colour
    shot_of = np.searchsorted(shots, np.arange(len(frames)) / fps + 1e-6, side="right") - 1
    colour = np.array([frames[shot_of == s].mean(axis=0) for s in range(len(shots))])
    dist = np.linalg.norm(colour[:, None] - colour[None, :], axis=2)
    same = shot_scene[:, None] == shot_scene[None, :]
    off = ~np.eye(len(shots), dtype=bool)
    # Shots of one scene share palette and setting: closer in mean colour than across.
    assert dist[same & off].mean() < 0.85 * dist[~same].mean()
    v = np.array(lat["vision"]["values"])
    c = np.corrcoef(v)
    assert c[same & off].mean() > c[~same].mean() + 0.2


def test_demo_shots_nested_in_scenes_keep_the_cut_rate():
    from neuroalign.simulate.movie import plan_shots

    p = PRESETS["demo"]
    for seed in range(3):
        shots, scene = plan_shots(600.0, p.fps, p.scene_s, p.scene_len_s,
                                  np.random.default_rng(seed))
        assert 310 <= len(shots) - 1 <= 380  # cuts, as before scenes (~340)
        assert shots[0] == 0 and np.all(np.diff(shots) >= round(p.scene_s[0] * p.fps))
        starts = shots[np.flatnonzero(np.diff(scene, prepend=-1))] / p.fps
        lengths = np.diff(np.append(starts, 600.0))
        assert len(starts) >= 3 and np.all(lengths >= 60.0 - 1e-9)
        assert np.all(lengths[:-1] <= 180.0 + p.scene_s[1])


def test_options_switch_structure_off(tmp_path):
    root = simulate_dataset(tmp_path / "off", preset="tiny", seed=5, latents="random",
                            source="synthetic", n_subjects=1, duration_s=40, drift_sd=0,
                            spike_frac=0, scenes=False, null_frac=1.0)
    gt = _gt(root)
    assert gt["structure"]["drift"] == {**gt["structure"]["drift"], "sd": 0.0, "file": None}
    assert gt["structure"]["scenes"] is None and gt["structure"]["spikes"]["frac"] == 0.0
    assert not (root / "ground_truth_drift.h5").exists()
    g = gt["sub_1"]
    assert set(g["electrodes"].values()) == {"null"} and g["spikes"]["rate_per_min"] == {}
    lat = gt["latents"]["sim-movie-a"]
    assert lat["scenes"]["shot_scene"] == list(range(len(lat["vision"]["scene_start_s"])))
    with pytest.raises(ValueError, match="allowed values are 0 <= null_frac <= 1"):
        simulate_dataset(tmp_path / "bad", preset="tiny", null_frac=1.5)
    with pytest.raises(ValueError, match="drift_sd >= 0"):
        simulate_dataset(tmp_path / "bad", preset="tiny", drift_sd=-1)
    with pytest.raises(ValueError, match="spike_frac"):
        simulate_dataset(tmp_path / "bad", preset="tiny", spike_frac=2)


def test_null_frac_and_mostly_null_paper_preset(tmp_path):
    assert sum(PRESETS["paper"].class_frac) <= 0.2  # real data: most contacts are null
    assert PRESETS["demo"].class_frac == (0.15, 0.15, 0.15)
    root = simulate_dataset(tmp_path / "nf", preset="tiny", seed=2, latents="random",
                            source="synthetic", n_subjects=1, duration_s=30, null_frac=0.5,
                            drift_sd=0, spike_frac=0)
    g = _gt(root)["sub_1"]
    kinds = list(g["electrodes"].values())
    planted = sum(k != "null" for k in kinds)
    assert abs(planted - 0.5 * len(kinds)) <= 3 and {"vision", "language", "multimodal"} <= set(kinds)


def test_simulate_command_switches(tmp_path):
    from neuroalign.cli import main

    out = tmp_path / "cli"
    assert main(["simulate", "--out", str(out), "--preset", "tiny", "--latents", "random",
                 "--source", "synthetic", "--n-subjects", "1", "--duration", "20",
                 "--drift-sd", "0.3", "--spike-frac", "0", "--no-scenes",
                 "--null-frac", "1"]) == 0
    st = _gt(out)["structure"]
    assert st["drift"]["sd"] == 0.3 and st["spikes"]["frac"] == 0.0 and st["scenes"] is None
    assert set(_gt(out)["sub_1"]["electrodes"].values()) == {"null"}
