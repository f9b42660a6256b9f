"""The data stage on BIDS-iEEG: the tiny simulation converted with `neuroalign to-bids` must give
the same events, electrodes and responses as the original Brain TreeBank layout."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from neuroalign.config import validate_config
from neuroalign.data.bids import BIDSMovieDataset
from neuroalign.data.build import (
    open_dataset,
    read_responses,
    write_electrodes,
    write_events,
    write_responses,
)
from neuroalign.data.check import check_data

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mne-bids sidecar notes


@pytest.fixture(scope="module")
def bids_root(tiny_dataset, tmp_path_factory):
    from neuroalign.cli import main

    out = tmp_path_factory.mktemp("bids") / "ds"
    assert main(["to-bids", "--src", str(tiny_dataset), "--out", str(out),
                 "--movies", str(tiny_dataset / "movies"), "--subjects", "sub_1", "sub_2"]) == 0
    return out


def _config(root, results, **dataset):
    return validate_config({"dataset": {"format": "bids", "root": str(root), **dataset},
                            "movies": {"root": str(root / "stimuli"),
                                       "scene_cuts": str(root.parent / "no_cuts")},
                            "results": str(results)})


def test_layout_and_mapping(bids_root, tiny_dataset):
    ds = BIDSMovieDataset(bids_root, task="movie")
    assert ds.subjects() == ["sub-1", "sub-2"]
    assert ds.trials("sub-2") == [0, 1]  # the run entities: Brain TreeBank's trial numbers
    assert ds.movie("sub-2", 1) == "sim-movie-b"
    truth = json.loads((tiny_dataset / "ground_truth.json").read_text())
    first = truth["sub_1"]["trials"]["0"]
    mapping = ds.trigger_mapping("sub-1", 0)
    # The planted pause shows up as a gap between two playback rows.
    assert len(mapping.pauses) == 1
    assert mapping.pauses[0][1] == pytest.approx(first["pause"]["duration_s"], abs=0.01)
    assert mapping.to_samples(np.array([0.0]))[0] == first["movie_start_sample"]
    # movie time no playback row shows maps to no sample
    assert (mapping.to_samples(np.array([-1.0, 151.0])) == -1).all()
    table = ds.electrode_table("sub-1")
    assert table["space"].eq("MNI").all()
    dropped = dict(zip(table["name"], table["clean"], strict=True))
    corrupted = [e for e, why in truth["sub_1"]["dropped"].items() if why == "corrupted"]
    assert corrupted and not any(dropped[e] for e in corrupted)


def test_data_stage_matches_braintreebank_layout(bids_root, built, tmp_path):
    cfg_bt, out_bt, truth, _ = built
    results = tmp_path / "results"
    cfg = _config(bids_root, results, task="movie")
    cfg["movies"]["scene_cuts"] = cfg_bt["movies"]["scene_cuts"]
    cfg["events"]["block_s"] = cfg_bt["events"]["block_s"]  # the same blocks as `built`
    for movie in truth["latents"]:
        for alignment in ("language", "vision"):
            path = results / "movies" / movie / "events" / f"{alignment}.parquet"
            events = write_events(cfg, movie, alignment, path)
            ref = pd.read_parquet(out_bt / "movies" / movie / "events" / f"{alignment}.parquet")
            pd.testing.assert_frame_equal(events.reset_index(drop=True),
                                          ref.reset_index(drop=True))
    for subject, bt_subject in (("sub-1", "sub_1"), ("sub-2", "sub_2")):
        el = write_electrodes(cfg, subject, results / subject / "electrodes.parquet")
        el_bt = pd.read_parquet(out_bt / bt_subject / "electrodes.parquet")
        cols = ["name", "x", "y", "z", "region", "clean"]
        pd.testing.assert_frame_equal(
            el.sort_values("name")[cols].reset_index(drop=True),
            el_bt.sort_values("name")[cols].reset_index(drop=True), check_dtype=False)
        write_responses(cfg, subject, ["language", "vision"],
                        results / subject / "electrodes.parquet", results / "movies",
                        [results / subject / f"{a}.h5" for a in ("language", "vision")])
        for alignment in ("language", "vision"):
            got = read_responses(results / subject / f"{alignment}.h5")
            ref = read_responses(out_bt / bt_subject / f"{alignment}.h5")
            assert got["electrodes"] == ref["electrodes"]
            np.testing.assert_array_equal(got["event_id"], ref["event_id"])
            # BrainVision stores float32 microvolts: responses agree to float32 precision.
            np.testing.assert_allclose(got["responses"], ref["responses"], rtol=1e-4, atol=1e-4)


def test_check_data_reads_bids_runs(bids_root, tiny_dataset, tmp_path):
    cfg = _config(bids_root, tmp_path, task="movie")
    cfg["movies"]["scene_cuts"] = str(tiny_dataset / "scene_cuts")
    cfg["events"]["block_s"], cfg["stats"]["n_permutations"] = 10, 200  # 30 s: too few blocks
    report = check_data(cfg)
    assert report.ok, report.text()
    text = report.text()
    assert "(bids): 2 subject(s)" in text and "movie 'sim-movie-a'" in text
    assert "from the header" in text


def test_bad_bids_input(bids_root, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(bids_root, root)
    with pytest.raises(ValueError, match="no iEEG recording of task 'rest'"):
        BIDSMovieDataset(root, task="rest").trials("sub-1")
    with pytest.raises(ValueError, match="Did you mean 'sub-1'"):
        BIDSMovieDataset(root).trials("sub-11")
    events = next((root / "sub-1" / "ieeg").glob("*_events.tsv"))
    table = pd.read_csv(events, sep="\t")
    table.drop(columns="stim_file").to_csv(events, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"have no 'stim_file'; set config dataset.movie"):
        BIDSMovieDataset(root).movie("sub-1", 0)
    assert BIDSMovieDataset(root, movie="sim-movie-a").movie("sub-1", 0) == "sim-movie-a"
    table.assign(movie_time=[0.0, "n/a"]).to_csv(events, sep="\t", index=False)
    with pytest.raises(ValueError, match="field 'movie_time' is empty or not a number on 'movie' row 2"):
        BIDSMovieDataset(root).trigger_mapping("sub-1", 0)
    table.assign(trial_type="film").to_csv(events, sep="\t", index=False)
    with pytest.raises(ValueError, match="dataset.movie_trial_type"):
        BIDSMovieDataset(root).movie("sub-1", 0)
    assert BIDSMovieDataset(root, movie_trial_type="film").movie("sub-1", 0) == "sim-movie-a"
    (root / "stimuli" / "sim-movie-a_transcript.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="transcript of movie 'sim-movie-a'"):
        open_dataset(_config(root, tmp_path)).transcript("sim-movie-a")


def test_workflow_runs_on_bids(bids_root, tiny_dataset, tmp_path):
    """Snakemake resolves the whole DAG on BIDS subjects (sub-1, sub-2) and runs its data rules."""
    import yaml
    from workflow_utils import TINY_MODELS, dry_run_jobs, snakemake

    work = tmp_path / "work"
    work.mkdir()
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "dataset": {"format": "bids", "root": str(bids_root), "task": "movie"},
        "movies": {"root": str(bids_root / "stimuli"),
                   "scene_cuts": str(tiny_dataset / "scene_cuts")},
        "events": {"block_s": 10}, "models": TINY_MODELS,
        "stats": {"n_bootstrap": 200, "n_permutations": 200},
        "results": str(work / "results")}))
    dry = snakemake(work, config, "--dry-run", "--printshellcmds")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    jobs = dry_run_jobs(dry.stdout)
    subjects = {j["wildcards"].get("subject") for j in jobs} - {None}
    assert subjects == {"sub-1", "sub-2"}
    assert {"responses", "stats", "report", "summary"} <= {j["rule"] for j in jobs}
    targets = [str(work / "results" / "subjects" / "sub-2" / "responses" / f"{a}.h5")
               for a in ("language", "vision")]
    run = snakemake(work, config, *targets)
    assert run.returncode == 0, run.stdout + run.stderr
    resp = read_responses(targets[0])
    assert resp["responses"].shape[0] == len(resp["event_id"]) > 0
    assert sorted(set(resp["movie"])) == ["sim-movie-a", "sim-movie-b"]
