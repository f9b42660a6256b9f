"""A language-only dataset as published: a replica of OpenNeuro ds005574 ("Podcast", an audio
story, no events file; tests/replicas.py) read with config/podcast.yaml, end to end."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from replicas import PODCAST, build_podcast, example_config

from neuroalign.data.build import open_dataset, write_events
from neuroalign.data.check import check_data

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mne-bids sidecar notes


@pytest.fixture(scope="module")
def podcast(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds005574") / "ds005574"
    return root, build_podcast(root)


def _config(root, results, **sections):
    """config/podcast.yaml with only its roots changed (and ``sections`` merged in)."""
    return example_config("podcast", {("dataset", "root"): str(root),
                                      ("movies", "root"): str(root / "stimuli"),
                                      ("", "results"): str(results)}, **sections)


def test_example_config_reads_the_published_layout(podcast, tmp_path):
    root, facts = podcast
    cfg = _config(root, tmp_path)
    ds = open_dataset(cfg)
    assert ds.subjects() == ["sub-01", "sub-02"]
    assert ds.trials("sub-01") == [1]
    assert ds.movie("sub-01", 1) == PODCAST
    mapping = ds.trigger_mapping("sub-01", 1)
    # Story time t is sample t * fs: the recording is cropped to the story.
    words = facts["words"]["start"].to_numpy(float)
    np.testing.assert_array_equal(mapping.to_samples(words), np.rint(words * mapping.fs))
    assert mapping.to_samples(np.array([facts["duration_s"] + 1.0]))[0] == -1
    transcript = ds.transcript(PODCAST)
    assert transcript["text"].tolist() == facts["words"]["word"].tolist()
    table = ds.electrode_table("sub-01")
    assert table.loc[table["clean"], "name"].tolist() == facts["channels"]["sub-01"]
    assert table["space"].eq("MNI").all()  # the MNI152NLin2009aSym file, not 'Other'
    assert "no localization" in table.set_index("name").loc["GA1", "reason"]
    depth = table[table["name"].str.fullmatch(r"DAMT\d+")]
    assert depth["type"].eq("ECOG").all() and depth["shaft"].eq("DAMT").all()
    # Each grid is its own group (the label prefix), not the published `group`, which is the
    # electrode kind (G) shared by both grids.
    from neuroalign.data.referencing import reference_plan

    plan = reference_plan(table["name"].tolist(), "laplacian", table["clean"].to_numpy(),
                          kinds=table["type"].tolist(), groups=table["shaft"].tolist())
    assert np.count_nonzero(plan.weights[plan.out_names.index("GB3")]) == 8
    assert np.count_nonzero(plan.weights[plan.out_names.index("GA3")]) == 7  # GA1 is bad
    report = check_data(cfg)
    assert report.ok, report.text()
    assert "of audio (no pictures)" in report.text() and "mains 60 Hz" in report.text()
    events = write_events(cfg, PODCAST, "language", tmp_path / "language.parquet")
    assert len(events) == len(facts["words"])


def test_a_story_without_pictures_refuses_vision(podcast, tmp_path, capsys):
    from neuroalign.cli import main

    root, _ = podcast
    cfg = _config(root, tmp_path, events={"alignments": ["language", "vision"]})
    assert any("audio only, so it has no scene cuts for the vision alignment" in p
               for p in check_data(cfg).problems)
    models = [{"name": "tiny-minilm"}, {"name": "tiny-clip.vision"}]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config(root, tmp_path, models=models)))
    assert main(["check-data", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"audio only, so model\(s\) tiny-clip.vision \(image inputs\) cannot run",
                     out), out


@pytest.mark.slow
def test_workflow_runs_language_only_on_the_replica(podcast, tmp_path):
    from workflow_utils import snakemake

    root, _ = podcast
    cfg = _config(root, tmp_path / "results",
                  models=[{"name": "tiny-minilm", "init": ["trained"]},
                          {"name": "tiny-clip.text"}],
                  stats={"n_permutations": 200, "n_bootstrap": 200})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = snakemake(tmp_path, path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    summary = (tmp_path / "results" / "summary.html").read_text()
    assert 'id="one-alignment"' in summary and "Only the language alignment" in summary
    report = (tmp_path / "results" / "subjects" / "sub-01" / "report.html").read_text()
    assert "the language alignment alone" in report
    assert "vision: scene cuts" not in report
