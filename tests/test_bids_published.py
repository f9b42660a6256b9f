"""BIDS-iEEG as other labs publish it: a replica of OpenNeuro ds003688's layout (tests/replicas.py)
read with config/ds003688.yaml, and the traps a new user of that layout falls into."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from replicas import DS003688_FILM, build_ds003688, example_config, write_film

from neuroalign.data.build import (
    open_dataset,
    read_responses,
    write_electrodes,
    write_events,
    write_responses,
)
from neuroalign.data.check import check_data

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mne-bids sidecar notes


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    base = tmp_path_factory.mktemp("ds003688")
    facts = build_ds003688(base / "ds003688")
    cuts = write_film(base / "film" / f"{DS003688_FILM}.mp4", facts["film_s"])
    (base / "cuts").mkdir()
    pd.DataFrame({"time_s": cuts}).to_csv(base / "cuts" / f"{DS003688_FILM}.csv", index=False)
    return base, facts


def _config(base, results, **sections):
    """config/ds003688.yaml with only its roots changed (as the README tells a user)."""
    return example_config("ds003688", {
        ("dataset", "root"): str(base / "ds003688"), ("movies", "root"): str(base / "film"),
        ("movies", "scene_cuts"): str(base / "cuts"),  # skip PySceneDetect: fast and exact
        ("", "results"): str(results)}, **sections)


def _copy(base, tmp_path):
    """A copy of the replica that a test may edit."""
    root = tmp_path / "ds"
    shutil.copytree(base / "ds003688", root)
    return root


def test_example_config_reads_the_published_layout(replica, tmp_path):
    base, facts = replica
    cfg = _config(base, tmp_path)
    ds = open_dataset(cfg)
    assert ds.subjects() == ["sub-01", "sub-30"]
    assert ds.trials("sub-30") == [1]  # the clinical run only, not the HD grid's twin
    assert ds.movie("sub-01", 1) == DS003688_FILM
    # The events file has no acq entity: it is inherited by the acq-clinical run.
    assert "acq-" not in ds.events_path("sub-01", 1).name
    # Film time 0 is the first music row; blocks abut (ms disagreements do not accumulate).
    mapping = ds.trigger_mapping("sub-01", 1)
    fs = mapping.fs
    words = facts["words"]["onset"].to_numpy(float)
    samples = mapping.to_samples(words)
    np.testing.assert_allclose(samples / fs, words + facts["first_onset"], atol=1.5 / fs)
    assert mapping.pauses == []
    assert (mapping.to_samples(np.array([-0.5, facts["film_s"] + 1.0])) == -1).all()
    # Electrodes of the chosen acquisition only, in ACPC space (not MNI).
    table = ds.electrode_table("sub-30")
    assert set(table["name"]) == set(facts["channels"]["sub-30"]["clinical"]) | {"ECG", "TRIG1"}
    assert table["space"].eq("ACPC").all()  # its label, not passed off as MNI
    assert table.loc[table["clean"], "hemisphere"].isin(["L", "R"]).all()  # ACPC: RAS, midline
    transcript = ds.transcript(DS003688_FILM)
    assert len(transcript) == len(facts["words"])
    # Every word belongs to its sentence of the sentences file.
    assert transcript["sentence_idx"].nunique() == len(facts["sentences"])

    report = check_data(cfg)
    assert report.ok, report.text()
    text = report.text()
    assert "mains 50 Hz" in text
    assert "outside playback" not in text


def test_hd_grid_acquisition_reads_its_own_electrodes(replica, tmp_path):
    base, facts = replica
    ds = open_dataset(_config(base, tmp_path, dataset={"acquisition": "HDgrid"}))
    assert ds.subjects() == ["sub-30"]  # sub-01 recorded no HD grid
    table = ds.electrode_table("sub-30")
    assert table["name"].tolist() == facts["channels"]["sub-30"]["HDgrid"]
    assert table["clean"].all()


def test_grids_are_referenced_within_the_grid(replica, tmp_path):
    base, facts = replica
    cfg = _config(base, tmp_path, preprocessing={"reference": "laplacian"})
    el = write_electrodes(cfg, "sub-30", tmp_path / "electrodes.parquet")
    grid = el[el["name"].str.startswith("F")]
    assert grid["type"].eq("ECOG").all() and grid["shaft"].eq("F").all()
    # Every clean grid and strip contact is kept: none waits for a shaft neighbour.
    assert el.loc[el["clean"], "name"].tolist() == facts["channels"]["sub-30"]["clinical"]
    # The table's type and group drive the plan: F08 is referenced to its grid's 16 contacts,
    # not to F07 and F09 (which the label order would call neighbours).
    from neuroalign.data.referencing import reference_plan

    plan = reference_plan(el["name"].tolist(), "laplacian", el["clean"].to_numpy(),
                          kinds=el["type"].tolist(), groups=el["shaft"].tolist())
    assert np.count_nonzero(plan.weights[plan.out_names.index("F08")]) == 16
    assert np.count_nonzero(plan.weights[plan.out_names.index("IH3")]) == 6
    seeg = write_electrodes(cfg, "sub-01", tmp_path / "electrodes01.parquet")
    assert seeg.loc[seeg["clean"], "type"].eq("SEEG").all()


@pytest.mark.parametrize(("change", "message"), [
    # speech rows alone: the music blocks between them would be read as pauses.
    ({"dataset": {"movie_trial_type": "speech"}},
     r"pause in playback after the 'speech' row .* is the 'music' row\(s\) there.*"
     r"dataset.movie_trial_type"),
    # a mains frequency that is not the recordings'.
    ({"preprocessing": {"line_freq": 60}},
     r"line_freq is 60 Hz but .*_ieeg.json PowerLineFrequency is 50 Hz"),
    # two amplifiers recording one run, read as two trials.
    ({"dataset": {"acquisition": None}},
     r"sub-30's runs of task 'film' are of several acquisitions \(acq-HDgrid, acq-clinical\); "
     r"run 1 exists under each.*dataset.acquisition"),
    ({"dataset": {"movie": None}}, r"have no 'stim_file'; set config dataset.movie"),
    ({"dataset": {"transcript": {
        "words": "stimuli/annotations/sound/sound_annotation_words.tsv"}}},
     r"sound_annotation_words.tsv: column\(s\) 'text' \(for text\), 'start' \(for start\).*"
     r"dataset.transcript.columns"),
])
def test_published_layout_traps_are_named(replica, tmp_path, change, message):
    base, _ = replica
    cfg = _config(base, tmp_path, **change)
    report = check_data(cfg)
    assert not report.ok
    assert any(re.search(message, p) for p in report.problems), report.text()


def test_a_real_pause_row_is_accepted_when_declared(replica, tmp_path):
    base, _ = replica
    root = _copy(base, tmp_path)
    events_file = root / "sub-01/ses-iemu/ieeg/sub-01_ses-iemu_task-film_run-1_events.tsv"
    cfg = _config(base, tmp_path, dataset={"root": str(root), "movie_trial_type": "speech"})
    events = pd.read_csv(events_file, sep="\t")
    # Playback that really stops during the music rows: declared, it is a pause.
    cfg["dataset"]["pause_trial_types"] = ["music"]
    mapping = open_dataset(cfg).trigger_mapping("sub-01", 1)
    assert len(mapping.pauses) == 5  # the music blocks between the 6 speech blocks
    assert mapping.pauses[0][1] == pytest.approx(30.0, abs=0.01)
    # Rows overlapping by more than the tolerance are refused, naming the key.
    events.loc[events["trial_type"] == "music", "duration"] = 30.2
    events.to_csv(events_file, sep="\t", index=False)
    cfg = _config(base, tmp_path, dataset={"root": str(root)})
    with pytest.raises(ValueError, match=r"overlap by 0.200 s.*dataset.playback_tolerance_s"):
        open_dataset(cfg).trigger_mapping("sub-01", 1)


def test_events_outside_the_film_or_the_playback_are_a_problem(replica, tmp_path):
    base, facts = replica
    root = _copy(base, tmp_path)
    words_file = root / "stimuli/annotations/sound/sound_annotation_words.tsv"
    words = pd.read_csv(words_file, sep="\t")
    # A transcript of a longer cut of the film: most words come after this film's end.
    words.assign(onset=words["onset"] + facts["film_s"] * 0.6,
                 offset=words["offset"] + facts["film_s"] * 0.6).to_csv(
        words_file, sep="\t", index=False)
    cfg = _config(base, tmp_path, dataset={"root": str(root)})
    report = check_data(cfg)
    assert any("start after the film's end" in p and "sound_annotation_words.tsv" in p
               for p in report.problems), report.text()
    # The events job refuses it too (Snakemake does not run check-data), unless turned off.
    with pytest.raises(ValueError, match=r"after the film's end.*events.max_dropped_fraction"):
        write_events(cfg, DS003688_FILM, "language", tmp_path / "language.parquet")
    off = _config(base, tmp_path, dataset={"root": str(root)},
                  events={"max_dropped_fraction": 1.0})
    assert len(write_events(off, DS003688_FILM, "language", tmp_path / "language.parquet")) > 0
    # A recording whose playback rows stop halfway: the later events are not in it.
    words.to_csv(words_file, sep="\t", index=False)
    events_file = root / "sub-01/ses-iemu/ieeg/sub-01_ses-iemu_task-film_run-1_events.tsv"
    events = pd.read_csv(events_file, sep="\t")
    events.iloc[:8].to_csv(events_file, sep="\t", index=False)
    cfg = _config(base, tmp_path, dataset={"root": str(root)})
    report = check_data(cfg)
    assert any(p.startswith("sub-01 trial 1 / language") and "fall outside the playback" in p
               and "dataset.movie_trial_type" in p for p in report.problems), report.text()
    assert not any(p.startswith("sub-30") for p in report.problems)
    events_dir = tmp_path / "movies"
    for alignment in ("language", "vision"):
        write_events(cfg, DS003688_FILM, alignment,
                     events_dir / DS003688_FILM / "events" / f"{alignment}.parquet")
    write_electrodes(cfg, "sub-01", tmp_path / "electrodes.parquet")
    with pytest.raises(ValueError, match=r"sub-01 trial 1 \(chill, language\).*"
                                         r"dataset.movie_trial_type"):
        write_responses(cfg, "sub-01", ["language", "vision"], tmp_path / "electrodes.parquet",
                        events_dir, [tmp_path / "language.h5", tmp_path / "vision.h5"])


def test_data_stage_on_the_replica(replica, tmp_path):
    base, facts = replica
    cfg = _config(base, tmp_path)
    events_dir = tmp_path / "movies"
    for alignment in ("language", "vision"):
        events = write_events(cfg, DS003688_FILM, alignment,
                              events_dir / DS003688_FILM / "events" / f"{alignment}.parquet")
        if alignment == "language":
            assert len(events) == len(facts["words"])
            # A word's context is its sentence so far (the sentences file gives the bounds).
            first = facts["sentences"]["onset"].iloc[1]
            row = events.loc[np.isclose(events["time_s"], first)].iloc[0]
            assert row["text"] == row["word"]
    el = write_electrodes(cfg, "sub-30", tmp_path / "sub-30" / "electrodes.parquet")
    assert el.loc[el["clean"], "name"].tolist() == facts["channels"]["sub-30"]["clinical"]
    outs = [tmp_path / "sub-30" / f"{a}.h5" for a in ("language", "vision")]
    summary = write_responses(cfg, "sub-30", ["language", "vision"],
                              tmp_path / "sub-30" / "electrodes.parquet", events_dir, outs)
    assert summary["language"]["events"] == len(facts["words"])
    responses = read_responses(outs[0])
    assert responses["electrodes"] == facts["channels"]["sub-30"]["clinical"]
    np.testing.assert_array_equal(responses["attrs"]["line_freq"], [50.0])
    assert np.isfinite(responses["responses"]).all()


def test_workflow_plans_on_the_replica_and_names_a_trap_without_a_traceback(replica, tmp_path):
    from workflow_utils import dry_run_jobs, snakemake

    base, _ = replica
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_config(base, tmp_path / "results")))
    run = snakemake(tmp_path, good, "-n", "--quiet", "rules")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = dry_run_jobs(run.stdout) or run.stdout
    assert "responses" in str(jobs)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_config(base, tmp_path / "results",
                                          dataset={"movie_trial_type": "speech"})))
    from workflow_utils import write_plan

    # The plan (which snakemake reads instead of the dataset) names the trap ...
    planned = write_plan(tmp_path, bad)
    out = planned.stdout + planned.stderr
    assert planned.returncode != 0
    assert "is the 'music' row(s) there" in out
    assert f"neuroalign check-data --config {bad}" in out
    assert "Traceback" not in out
    # ... and snakemake, left with the good config's plan, refuses to run the bad one on it.
    run = snakemake(tmp_path, bad, "-n", plan=False)
    out = run.stdout + run.stderr  # snakemake prints its errors to either
    assert run.returncode != 0
    assert "written for another dataset selection (config dataset.movie_trial_type differ)" \
        in out
    assert f"neuroalign plan --config {bad}" in out


def _events_variant(base, tmp_path, edit):
    """A copy of the replica whose sub-01 film events are ``edit(events)``."""
    root = _copy(base, tmp_path)
    path = root / "sub-01/ses-iemu/ieeg/sub-01_ses-iemu_task-film_run-1_events.tsv"
    events = pd.read_csv(path, sep="\t", keep_default_na=False)
    edit(events).to_csv(path, sep="\t", index=False)
    return root


def _speech_only(base, root, **dataset):
    return open_dataset(_config(base, root.parent, dataset={
        "root": str(root), "movie_trial_type": "speech", **dataset}))


def _music(events):
    return events["trial_type"] == "music"


@pytest.mark.parametrize("edit", [
    # music rows overlapping the speech rows by 0.1 s (more than the tolerance)
    lambda ev: ev.assign(onset=np.where(_music(ev), ev["onset"] - 0.1, ev["onset"]),
                         duration=np.where(_music(ev), ev["duration"] + 0.2, ev["duration"])),
    # music rows as block-onset markers of no duration, or of a blank one
    lambda ev: ev.assign(duration=np.where(_music(ev), 0.0, ev["duration"])),
    lambda ev: ev.assign(duration=np.where(_music(ev), "n/a", ev["duration"].astype(str))),
    # one speech block between two music blocks: the first would shift film time 0
    lambda ev: ev[ev["onset"] < 90],
], ids=["overlapping", "markers", "blank-duration", "before-first"])
def test_left_out_blocks_are_refused_however_logged(replica, tmp_path, edit):
    base, _ = replica
    root = _events_variant(base, tmp_path, edit)
    with pytest.raises(ValueError, match=r"is the 'music' row\(s\) there.*movie_trial_type"):
        _speech_only(base, root).trigger_mapping("sub-01", 1)


def test_a_task_marker_lasting_until_the_film_is_not_a_block(replica, tmp_path):
    base, _ = replica
    # As ds003688 sub-39: 'start task' lasts 97.6 s, up to the first music row.
    def start(ev):
        return ev["trial_type"] == "start task"

    root = _events_variant(base, tmp_path, lambda ev: ev.assign(
        onset=np.where(start(ev), ev["onset"].astype(float) - 19.981, ev["onset"]),
        duration=np.where(start(ev), 20.0, ev["duration"])))
    mapping = _speech_only(base, root, movie_trial_type=["music", "speech"]).trigger_mapping(
        "sub-01", 1)
    assert mapping.pauses == []


def test_blank_trial_types_can_be_declared_pauses(replica, tmp_path):
    base, _ = replica
    root = _events_variant(base, tmp_path, lambda ev: ev.assign(
        trial_type=np.where(_music(ev), "n/a", ev["trial_type"])))
    with pytest.raises(ValueError, match=r"is the 'n/a' row\(s\) there"):
        _speech_only(base, root).trigger_mapping("sub-01", 1)
    mapping = _speech_only(base, root, pause_trial_types=["n/a"]).trigger_mapping("sub-01", 1)
    assert len(mapping.pauses) == 5


def test_abutting_rows_leave_no_moment_unmapped(replica, tmp_path):
    base, facts = replica
    # Blocks 3 ms short of the next onset (within the tolerance): every film moment maps.
    root = _events_variant(base, tmp_path, lambda ev: ev.assign(
        duration=np.where(ev["duration"].astype(float) > 1, 29.997, ev["duration"])))
    mapping = open_dataset(_config(base, tmp_path, dataset={"root": str(root)})).trigger_mapping(
        "sub-01", 1)
    film = np.arange(0.0, facts["film_s"] - 0.1, 0.0005)
    samples = mapping.to_samples(film)
    assert (samples >= 0).all()
    np.testing.assert_allclose(samples / mapping.fs, film + facts["first_onset"], atol=1.5 / 256)


def test_sidecars_follow_bids_inheritance(replica, tmp_path):
    base, _ = replica
    root = _copy(base, tmp_path)
    folder = root / "sub-01/ses-iemu/ieeg"
    cfg = _config(base, tmp_path, dataset={"root": str(root)})
    # An events file of another acquisition never applies to this run.
    shutil.copy(folder / "sub-01_ses-iemu_task-film_run-1_events.tsv",
                folder / "sub-01_ses-iemu_task-film_acq-HDgrid_run-1_events.tsv")
    assert "acq-" not in open_dataset(cfg).events_path("sub-01", 1).name
    # The more specific file wins; two that apply equally are refused by name.
    shutil.copy(folder / "sub-01_ses-iemu_task-film_run-1_events.tsv",
                folder / "sub-01_ses-iemu_task-film_acq-clinical_run-1_events.tsv")
    assert "acq-clinical" in open_dataset(cfg).events_path("sub-01", 1).name
    (folder / "sub-01_ses-iemu_task-film_acq-clinical_run-1_events.tsv").unlink()
    shutil.copy(folder / "sub-01_ses-iemu_task-film_run-1_events.tsv",
                folder / "sub-01_ses-iemu_task-film_acq-clinical_events.tsv")
    with pytest.raises(ValueError, match="2 events.tsv files apply to it equally"):
        open_dataset(cfg).events_path("sub-01", 1)


def test_runs_of_different_amplifiers_are_refused_without_an_acquisition(replica, tmp_path):
    base, _ = replica
    root = _copy(base, tmp_path)
    folder = root / "sub-30/ses-iemu/ieeg"
    # As sub-45 of ds003688: the HD grid recorded a second film run days later.
    for path in sorted(folder.glob("*acq-HDgrid_run-1*")):
        path.rename(path.with_name(path.name.replace("run-1", "run-2")))
    shutil.copy(folder / "sub-30_ses-iemu_task-film_run-1_events.tsv",
                folder / "sub-30_ses-iemu_task-film_run-2_events.tsv")
    cfg = _config(base, tmp_path, dataset={"root": str(root), "acquisition": None})
    with pytest.raises(ValueError, match=r"several acquisitions .*their contacts differ.*"
                                         r"dataset.acquisition"):
        open_dataset(cfg).trials("sub-30")
    cfg = _config(base, tmp_path, dataset={"root": str(root), "acquisition": "HDgrid"})
    assert open_dataset(cfg).trials("sub-30") == [2]


def test_words_outside_every_sentence_take_no_context(replica, tmp_path):
    base, facts = replica
    root = _copy(base, tmp_path)
    path = root / "stimuli/annotations/sound/sound_annotation_sentences.tsv"
    sentences = pd.read_csv(path, sep="\t")
    # The second sentence loses its last two words (as two of ds003688's words fall outside).
    words = facts["words"]
    second = words[(words["onset"] >= sentences["onset"].iloc[1])
                   & (words["onset"] < sentences["onset"].iloc[2])]
    sentences.loc[1, "offset"] = second["offset"].iloc[-3]
    sentences.to_csv(path, sep="\t", index=False)
    transcript = open_dataset(_config(base, tmp_path, dataset={"root": str(root)})).transcript(
        DS003688_FILM)
    ids = transcript.set_index(transcript["start"].round(3))["sentence_idx"]
    inside, outside = second["onset"].iloc[-3], second["onset"].iloc[-2:]
    assert ids[outside.iloc[0]] == ids[outside.iloc[1]] != ids[inside]
    assert transcript["sentence_idx"].nunique() == len(sentences) + 1


def test_a_word_without_onset_keeps_its_place_and_sentence(replica, tmp_path):
    base, _ = replica
    root = _copy(base, tmp_path)
    path = root / "stimuli/annotations/sound/sound_annotation_words.tsv"
    words = pd.read_csv(path, sep="\t")
    # A word its forced alignment missed: "n/a" onset and offset, in the middle of the file.
    k = len(words) // 2
    words.loc[k, ["onset", "offset"]] = np.nan
    words.to_csv(path, sep="\t", index=False, na_rep="n/a")
    transcript = open_dataset(_config(base, tmp_path, dataset={"root": str(root)})).transcript(
        DS003688_FILM)
    assert transcript["text"].tolist() == words["item"].tolist()  # not moved to the end
    assert np.isnan(transcript.loc[k, "start"])
    assert transcript.loc[k, "sentence_idx"] == transcript.loc[k - 1, "sentence_idx"]


def test_a_configured_movie_must_match_stim_file(replica, tmp_path):
    base, _ = replica
    root = _events_variant(base, tmp_path, lambda ev: ev.assign(stim_file="stimuli/other.mp4"))
    with pytest.raises(ValueError, match=r"dataset.movie is 'chill' but .* names \['other'\]"):
        open_dataset(_config(base, tmp_path, dataset={"root": str(root)})).movie("sub-01", 1)


@pytest.mark.slow
def test_workflow_runs_end_to_end_on_the_replica(replica, tmp_path):
    from workflow_utils import snakemake

    base, facts = replica
    # One subject keeps it short: sub-30, the ECoG grid recorded beside an HD grid.
    cfg = _config(base, tmp_path / "results", dataset={"subjects": ["sub-30"]})
    # Dutch speech: the multilingual entry, loaded by its real loader from a tiny checkpoint
    # of its layout (the real one cannot be downloaded here).
    from replicas import _DUTCH, write_tiny_multilingual_minilm

    sentences = facts["sentences"]["item"].tolist() + [" ".join(_DUTCH)]
    folder = write_tiny_multilingual_minilm(tmp_path / "multilingual", sentences)
    # Random twins only for the multimodal model (its trained-vs-random criterion): fewer
    # jobs, the same stages.
    cfg["models"] = [{"name": "tiny-efficientnet", "init": ["trained"]},
                     {"name": "multilingual-minilm", "weights": str(folder), "init": ["trained"]},
                     {"name": "tiny-clip.vision"}]
    cfg["stats"].update({"n_permutations": 200, "n_bootstrap": 200})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = snakemake(tmp_path, path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    results = tmp_path / "results"
    for subject in ["sub-30"]:
        for alignment in ("language", "vision"):
            responses = read_responses(results / "subjects" / subject / "responses"
                                       / f"{alignment}.h5")
            assert responses["responses"].shape[0] == (len(facts["words"])
                                                       if alignment == "language" else 55)
        assert (results / "subjects" / subject / "report.html").exists()
    summary = (results / "summary.html").read_text()
    assert 'id="one-alignment"' not in summary
    sites = pd.read_csv(results / "sites.tsv", sep="\t")
    assert set(sites["space"]) <= {"ACPC"}  # carried with its label, never called MNI
