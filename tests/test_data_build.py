"""The data stage end to end on simulated data: electrodes, events, responses, check-data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from neuroalign.config import validate_config
from neuroalign.data.build import read_responses, write_events, write_responses


def test_electrodes_drop_flat_nan_and_corrupted_with_reasons(built):
    _, out, truth, _ = built
    for subject in ("sub_1", "sub_2"):
        el = pd.read_parquet(out / subject / "electrodes.parquet")
        assert list(el.columns[:12]) == ["name", "shaft", "contact", "type", "x", "y", "z",
                                         "space", "region", "hemisphere", "clean", "reason"]
        assert el["type"].eq("SEEG").all()  # the Brain TreeBank layout is depth electrodes
        reasons = dict(zip(el["name"], el["reason"], strict=True))
        for name, kind in truth[subject]["dropped"].items():
            assert not el.loc[el["name"] == name, "clean"].item()
            expected = {"corrupted": "corrupted", "flat": "flat", "nan": "NaN"}[kind]
            assert expected in reasons[name], (name, reasons[name])
        for name, kind in truth[subject]["electrodes"].items():
            keep = el.loc[el["name"] == name, "clean"].item()
            # A null contact may lose its only neighbour to the Laplacian; planted ones never.
            assert keep or (kind == "null" and reasons[name].startswith("laplacian")), name
        assert el.loc[~el["clean"], "reason"].str.len().gt(0).all()


def test_events_tables(built):
    _, out, truth, _ = built
    for movie, lat in truth["latents"].items():
        lang = pd.read_parquet(out / "movies" / movie / "events" / "language.parquet")
        vis = pd.read_parquet(out / "movies" / movie / "events" / "vision.parquet")
        assert len(lang) == len(lat["language"]["word_start_s"])
        np.testing.assert_allclose(lang["time_s"], lat["language"]["word_start_s"], atol=1e-6)
        np.testing.assert_allclose(vis["time_s"], lat["vision"]["scene_start_s"][1:], atol=1e-6)
        for ev in (lang, vis):
            assert ev["event_id"].tolist() == list(range(len(ev)))
            assert ev["time_s"].is_monotonic_increasing
            assert (np.diff(ev["block"]) >= 0).all() and ev["block"].iloc[0] == 0


def _drive_per_event(truth, subject, name, movie, times):
    """The simulator's planted per-event drive of an electrode at event times."""
    lat = truth["latents"][movie]
    w = truth[subject]["weights"][name]
    scene = np.searchsorted(lat["vision"]["scene_start_s"], times, side="right") - 1
    word = np.searchsorted(lat["language"]["word_start_s"], times + 1e-6, side="right") - 1
    drive = {}
    if "vision" in w:
        drive["vision"] = np.asarray(lat["vision"]["values"])[scene] @ np.asarray(w["vision"])
    if "language" in w:
        drive["language"] = (np.asarray(lat["language"]["values"])[np.maximum(word, 0)]
                             @ np.asarray(w["language"]))
    if len(w) == 2:
        drive["multimodal"] = drive["vision"] * drive["language"]
    return drive


def _detrend(times, y, half_s=10.0):
    """Minus the mean over the events within ``half_s``: removes the simulator's slow drifts
    (30-180 s) and scene-level latent components, which correlate by chance between any two
    series over a 150 s movie far beyond what white noise does."""
    near = np.abs(times[:, None] - times[None, :]) <= half_s
    return y - (near @ y) / near.sum(axis=1)


def test_planted_electrodes_show_in_high_gamma_responses(built):
    _, out, truth, _ = built
    resp = read_responses(out / "sub_1" / "language.h5")
    centers = resp["attrs"]["bin_centers_s"]
    post = (centers >= 0.1) & (centers <= 0.4)
    events = pd.read_parquet(out / "movies" / "sim-movie-a" / "events" / "language.parquet")
    times = events.set_index("event_id").loc[resp["event_id"], "time_s"].to_numpy()
    classes = truth["sub_1"]["electrodes"]
    for e, name in enumerate(resp["electrodes"]):
        y = _detrend(times, resp["responses"][:, e, post].mean(axis=1))
        kind = classes[name]
        if kind == "null":
            continue
        drive = _detrend(times, _drive_per_event(truth, "sub_1", name, "sim-movie-a", times)[kind])
        r = np.corrcoef(y, drive)[0, 1]
        assert r > 0.3, (name, kind, r)
    # Null contacts beside a planted one carry its signal through the Laplacian: skip them.
    adjacent = truth["sub_1"]["adjacent_to_planted"]
    nulls = [e for e, n in enumerate(resp["electrodes"])
             if classes[n] == "null" and n not in adjacent]
    assert nulls
    planted = [n for n in resp["electrodes"] if classes[n] != "null"]
    for e in nulls:
        y = _detrend(times, resp["responses"][:, e, post].mean(axis=1))
        for name in planted:
            kind = classes[name]
            drive = _detrend(times,
                             _drive_per_event(truth, "sub_1", name, "sim-movie-a", times)[kind])
            # A vision drive changes once per shot (~40 here): chance |r| has an SD near 0.15.
            assert abs(np.corrcoef(y, drive)[0, 1]) < 0.3, (resp["electrodes"][e], name)


def test_responses_file_contract(built, tiny_dataset):
    _, out, truth, summaries = built
    resp = read_responses(out / "sub_2" / "vision.h5")
    attrs = resp["attrs"]
    assert resp["responses"].dtype == np.float32
    assert resp["responses"].shape[2] == len(attrs["bin_centers_s"]) == 81
    assert attrs["reference"] == "laplacian" and attrs["band"] == "high_gamma"
    assert set(resp["movie"]) == {"sim-movie-a", "sim-movie-b"}  # sub_2 watched two movies
    assert set(np.unique(resp["trial"])) == {0, 1}
    np.testing.assert_allclose(attrs["fs"], truth["sub_2"]["fs"], rtol=1e-4)
    assert summaries["sub_2"]["vision"]["events"] == len(resp["event_id"])
    # z-scored per trial: responses are on a unit scale.
    assert 0.2 < np.nanstd(resp["responses"]) < 5


def test_responses_are_deterministic(built, tmp_path):
    cfg, out, _, _ = built
    again = tmp_path / "again.h5"
    write_responses(cfg, "sub_1", ["language"], out / "sub_1" / "electrodes.parquet",
                    out / "movies", [again])
    assert again.read_bytes() == (out / "sub_1" / "language.h5").read_bytes()


def test_events_outside_recording_are_dropped_and_counted(built, tmp_path):
    cfg, out, _, _ = built
    events_dir = tmp_path / "movies"
    ev = pd.read_parquet(out / "movies" / "sim-movie-a" / "events" / "language.parquet")
    late = ev.iloc[:3].copy()
    late["time_s"] = [1000.0, 1001.0, -400.0]  # past the last trigger; before the recording
    late["event_id"] = [len(ev), len(ev) + 1, len(ev) + 2]
    target = events_dir / "sim-movie-a" / "events" / "language.parquet"
    target.parent.mkdir(parents=True)
    pd.concat([ev, late]).to_parquet(target)
    summary = write_responses(cfg, "sub_1", ["language"], out / "sub_1" / "electrodes.parquet",
                              events_dir, [tmp_path / "r.h5"])["language"]
    info = summary["trials"][0]
    assert info["dropped_after_last_trigger"] == 2
    assert info["dropped_outside_recording"] == 1
    assert info["events"] == len(ev)


def test_no_half_written_output_on_failure(built, tmp_path):
    cfg, out, _, _ = built
    with pytest.raises(FileNotFoundError, match="language.parquet"):
        write_responses(cfg, "sub_1", ["language"], out / "sub_1" / "electrodes.parquet",
                        tmp_path / "no-events", [tmp_path / "r.h5"])
    assert list(tmp_path.iterdir()) == []


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "neuroalign", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_check_data_cli(tiny_dataset, tmp_path):
    cfg = {"dataset": {"root": str(tiny_dataset)},
           "movies": {"root": str(tiny_dataset / "movies"),
                      "scene_cuts": str(tiny_dataset / "scene_cuts")},
           "events": {"block_s": 10}, "stats": {"n_permutations": 200},
           "results": str(tmp_path / "results")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = _cli("check-data", "--config", str(path), "--signal")
    assert res.returncode == 0, res.stdout + res.stderr
    # A dataset that passes gets the plan the workflow reads (artifacts.read_plan).
    from neuroalign.artifacts import read_plan

    plan_file = tmp_path / "results" / ".neuroalign" / "plan.json"
    assert f"plan written: {plan_file}" in res.stdout
    plan = read_plan(plan_file)
    assert list(plan["subjects"]) == ["sub_1", "sub_2"]
    assert plan["dataset"] == validate_config(cfg)["dataset"]
    assert "sub_1:" in res.stdout and "fs 2048.00 Hz" in res.stdout
    assert "listed in corrupted_elec.json" in res.stdout
    assert "flat" in res.stdout and "movie pauses: 6" in res.stdout or "movie pauses:" in res.stdout
    assert "language:" in res.stdout and "OK: no problem found" in res.stdout
    # A problem that would stop a run makes it exit non-zero and name the file.
    cfg["movies"]["root"] = str(tmp_path / "nowhere")
    path.write_text(yaml.safe_dump(cfg))
    res = _cli("check-data", "--config", str(path))
    assert res.returncode == 1
    assert "PROBLEM" in res.stdout and "nowhere" in res.stdout
    # No plan for a dataset with problems: the earlier one is removed, so snakemake stops.
    assert not plan_file.exists() and "removed the earlier plan" in res.stdout
    # An unknown reference scheme is a config error naming the key and the allowed values.
    cfg["preprocessing"] = {"reference": "laplace"}
    path.write_text(yaml.safe_dump(cfg))
    res = _cli("check-data", "--config", str(path))
    assert res.returncode == 2
    assert "preprocessing.reference" in res.stderr and "'laplacian'" in res.stderr


def test_vision_events_fall_back_to_pyscenedetect(tiny_dataset, tmp_path):
    """Without scene_cuts/{movie}.csv, PySceneDetect finds the simulated cuts."""
    cfg = validate_config({"dataset": {"root": str(tiny_dataset)},
                           "movies": {"root": str(tiny_dataset / "movies"), "scene_cuts": None}})
    events = write_events(cfg, "sim-movie-a", "vision", tmp_path / "vision.parquet")
    truth = pd.read_csv(tiny_dataset / "scene_cuts" / "sim-movie-a.csv")["time_s"].to_numpy()
    found = events["time_s"].to_numpy()
    fps = 12.0
    hits = sum(np.min(np.abs(found - t)) <= 1.5 / fps for t in truth)
    assert hits >= 0.9 * len(truth)
    assert len(found) <= 1.1 * len(truth)
    from neuroalign.io import read_parquet_metadata

    assert read_parquet_metadata(tmp_path / "vision.parquet")["scene_cuts"].startswith(
        "pyscenedetect")


def _dataset_uses(path) -> set[str]:
    """Attributes read on a variable named ``dataset`` in one module."""
    import ast

    return {node.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "dataset"}


def test_dataset_readers_implement_the_protocol_the_stage_uses(tiny_dataset):
    import inspect
    from pathlib import Path

    import neuroalign.data.build as build
    import neuroalign.data.check as check
    from neuroalign.data import MovieDataset
    from neuroalign.data.bids import BIDSMovieDataset
    from neuroalign.data.braintreebank import BrainTreeBank
    from neuroalign.data.dataset import DATASET_METHODS

    for reader in (BrainTreeBank, BIDSMovieDataset):
        for name in DATASET_METHODS[1:]:
            want = list(inspect.signature(getattr(MovieDataset, name)).parameters)
            got = list(inspect.signature(getattr(reader, name)).parameters)
            assert got == want, (reader.__name__, name, got, want)
    opened = build.open_dataset(validate_config({"dataset": {"root": str(tiny_dataset)}}))
    assert isinstance(opened, MovieDataset) and isinstance(opened.root, Path)
    # The stage calls nothing a reader of another layout would not have.
    assert {"read_channels", "electrode_table", "trigger_mapping"} <= _dataset_uses(
        Path(build.__file__)) | _dataset_uses(Path(check.__file__))
    for module in (build, check):
        extra = _dataset_uses(Path(module.__file__)) - set(DATASET_METHODS)
        assert not extra, f"{module.__name__} uses {sorted(extra)} beyond MovieDataset"
