"""Each artifact's path and columns are defined once, in ``neuroalign.artifacts``.

This file is the one place outside ``artifacts.py`` that writes the results layout out
literally: the expected paths below pin that the patterns give the paths the workflow
wrote before the layout moved into one module (issue #16 item 1).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuroalign import artifacts
from neuroalign.artifacts import (
    ARTIFACTS,
    read_comparisons,
    read_electrodes,
    read_events,
    read_pooled_sites,
    read_sites,
)
from neuroalign.io import write_parquet

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "neuroalign"
ARTIFACTS_PY = SRC / "artifacts.py"

# Pieces of the results layout that only artifacts.py may spell out.
# (``summary.html.j2`` is the name of a template, not of an output.)
LAYOUT = re.compile(r"subjects/|/encoding/|/responses/|/features/|movies/|/stats/"
                    r"|(?:report|summary)\.html(?![.\w])|sites\.tsv")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _python_literals(path: Path) -> list[tuple[int, str]]:
    """Code string literals of a module (f-string parts included), docstrings left out."""
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstring_nodes(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs]


def _snakemake_literals(path: Path) -> list[tuple[int, str]]:
    """String tokens of a Snakefile or rule file (comments are not tokens)."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.STRING:
            out.append((tok.start[0], tok.string))
        elif tok.type == getattr(tokenize, "FSTRING_MIDDLE", None):  # Python >= 3.12
            out.append((tok.start[0], tok.string))
    return out


# Logs and benchmarks are written outside the results folder and are no artifact of the
# DAG; their rule-local names (``logs/stats/{subject}.log``) may say the stage.
_LOG_STRING = re.compile(r"""^f["']\{LOGS\}/""")


def _layout_literals() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == ARTIFACTS_PY:
            continue
        found += [f"{path.relative_to(REPO)}:{line}: {text!r}"
                  for line, text in _python_literals(path) if LAYOUT.search(text)]
    workflow = [REPO / "Snakefile", *sorted((REPO / "workflow").rglob("*.smk")),
                *sorted((REPO / "workflow").rglob("*.py"))]
    for path in workflow:
        literals = (_python_literals(path) if path.suffix == ".py"
                    else _snakemake_literals(path))
        found += [f"{path.relative_to(REPO)}:{line}: {text}" for line, text in literals
                  if LAYOUT.search(text) and not _LOG_STRING.match(text)]
    return found


def test_results_layout_is_spelled_out_only_in_artifacts():
    found = _layout_literals()
    assert not found, ("results paths written outside neuroalign/artifacts.py (build them from "
                       "neuroalign.artifacts.ARTIFACTS):\n" + "\n".join(found))


def test_the_layout_check_sees_code_strings_but_not_docstrings(tmp_path):
    # The check above must be able to fail: a code literal is found, a docstring is not.
    mod = tmp_path / "m.py"
    mod.write_text('"""Writes ``subjects/{s}/report.html``."""\n'
                   'def f(r):\n    """``results/stats/sites.parquet``"""\n'
                   '    return f"{r}/subjects/{s}/encoding/x.h5"\n')
    hits = [text for _, text in _python_literals(mod) if LAYOUT.search(text)]
    assert sorted(hits) == ["/encoding/x.h5", "/subjects/"]
    smk = tmp_path / "r.smk"
    smk.write_text('# results/subjects/x\nrule a:\n    output:\n'
                   '        f"{RESULTS}/subjects/{{subject}}/report.html",\n'
                   '    log:\n        f"{LOGS}/stats/{{subject}}.log",\n')
    hits = [t for _, t in _snakemake_literals(smk) if LAYOUT.search(t)
            and not _LOG_STRING.match(t)]
    assert len(hits) == 1 and "report.html" in hits[0]


# Folder names of the results layout; joined with ``/`` they rebuild a results path.
PIECES = {"subjects", "encoding", "responses", "features", "movies", "events", "stats", "figures"}
# The simulated *dataset's* movie files (``{dataset}/movies/{movie}.mp4``): an input of the
# workflow, not a result.
DATASET_JOINS = {("src/neuroalign/simulate/_core.py", "movies"),
                 ("src/neuroalign/simulate/validation.py", "movies")}


def _path_joins(path: Path) -> list[tuple[int, str]]:
    """``x / "piece"`` and ``"piece" / x`` of a module, for the pieces in ``PIECES``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            out += [(node.lineno, side.value) for side in (node.left, node.right)
                    if isinstance(side, ast.Constant) and side.value in PIECES]
    return out


def test_results_paths_are_not_joined_from_pieces_outside_artifacts(tmp_path):
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if path != ARTIFACTS_PY:
            found += [f"{rel}:{line}: {piece!r}" for line, piece in _path_joins(path)
                      if (rel, piece) not in DATASET_JOINS]
    assert not found, "results paths joined outside artifacts.py:\n" + "\n".join(found)
    mod = tmp_path / "m.py"
    mod.write_text('def f(out, m):\n    return out / "movies" / m / "events"\n')
    assert sorted(p for _, p in _path_joins(mod)) == ["events", "movies"]


def _assigned_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign))
                   else [])
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    return names


# Column lists of files that are no artifact of the DAG: the raw Brain TreeBank inputs
# (braintreebank.py) and the label columns looked for in a BIDS dataset (bids.py).
INPUT_COLUMN_LISTS = {"TRIGGER_COLUMNS", "TRANSCRIPT_COLUMNS", "_REGION_COLUMNS"}


def test_column_lists_are_assigned_only_in_artifacts():
    defined = {n for n in _assigned_names(ARTIFACTS_PY) if n.endswith(("_COLUMNS", "_DATASETS"))}
    assert {"ELECTRODE_COLUMNS", "EVENT_COLUMNS", "COMPARISON_COLUMNS", "SITES_BASE_COLUMNS",
            "POOLED_BASE_COLUMNS", "SITES_TSV_COLUMNS", "ENCODING_DATASETS",
            "RESPONSES_DATASETS"} <= defined
    elsewhere = []
    for path in sorted(SRC.rglob("*.py")):
        if path == ARTIFACTS_PY:
            continue
        for name in _assigned_names(path):
            if name in defined or name == "ENCODING_OPTIONAL" or (
                    name.endswith(("_COLUMNS", "_DATASETS")) and name not in INPUT_COLUMN_LISTS):
                elsewhere.append(f"{path.relative_to(REPO)}: {name}")
    assert not elsewhere, "column lists assigned outside artifacts.py:\n" + "\n".join(elsewhere)


def test_old_names_re_export_the_same_lists():
    from neuroalign.data import bids, build, events
    from neuroalign.encoding import build as encoding_build
    from neuroalign.features import extract
    from neuroalign.report import summary
    from neuroalign.stats import build as stats_build
    from neuroalign.stats import sites

    assert build.ELECTRODE_COLUMNS is bids.ELECTRODE_COLUMNS is artifacts.ELECTRODE_COLUMNS
    assert events.EVENT_COLUMNS is extract.EVENT_COLUMNS is artifacts.EVENT_COLUMNS
    assert sites.COMPARISON_COLUMNS is artifacts.COMPARISON_COLUMNS
    assert stats_build.SITES_BASE_COLUMNS is artifacts.SITES_BASE_COLUMNS
    assert stats_build.POOLED_BASE_COLUMNS is artifacts.POOLED_BASE_COLUMNS
    assert summary.SITES_TSV_COLUMNS is artifacts.SITES_TSV_COLUMNS
    assert encoding_build.ENCODING_DATASETS is artifacts.ENCODING_DATASETS


# The paths the workflow wrote before issue #16 item 1, for sample wildcards.
EXPECTED = {
    ("resolved_config", ()): "results/.neuroalign/config.json",
    ("plan", ()): "results/.neuroalign/plan.json",
    ("events", (("movie", "ant-man"), ("alignment", "vision"))):
        "results/movies/ant-man/events/vision.parquet",
    ("electrodes", (("subject", "sub_3"),)): "results/subjects/sub_3/electrodes.parquet",
    ("responses", (("subject", "sub-03"), ("alignment", "language"))):
        "results/subjects/sub-03/responses/language.h5",
    ("features", (("model", "clip-vit-b32.vision"), ("init", "random"), ("movie", "m1"),
                  ("alignment", "language"))):
        "results/features/clip-vit-b32.vision/random/m1/language.h5",
    ("encoding", (("subject", "sub_1"), ("model", "sim-vision"), ("init", "trained"),
                  ("alignment", "vision"))):
        "results/subjects/sub_1/encoding/sim-vision/trained/vision.h5",
    ("encoding", (("subject", "sub_1"), ("model", "banded"), ("init", "trained"),
                  ("alignment", "language"))):
        "results/subjects/sub_1/encoding/banded/trained/language.h5",
    ("comparisons", (("subject", "sub_2"),)): "results/subjects/sub_2/stats/comparisons.parquet",
    ("sites", (("subject", "sub_2"),)): "results/subjects/sub_2/stats/sites.parquet",
    ("pooled_sites", ()): "results/stats/sites.parquet",
    ("subject_report", (("subject", "sub_2"),)): "results/subjects/sub_2/report.html",
    ("subject_figure", (("subject", "sub_2"), ("figure", "locations"))):
        "results/subjects/sub_2/figures/locations.png",
    ("summary", ()): "results/summary.html",
    ("sites_tsv", ()): "results/sites.tsv",
    ("summary_figure", (("figure", "summary_regions"),)): "results/figures/summary_regions.png",
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: k[0] + "".join(
    f"-{v}" for _, v in k[1]))
def test_patterns_give_the_paths_of_before(key):
    name, wildcards = key
    art = getattr(ARTIFACTS, name)
    assert art.format("results", **dict(wildcards)) == EXPECTED[key]
    assert art.path("results", **dict(wildcards)) == Path(EXPECTED[key])
    # The Snakemake template, filled by Snakemake's own rule: str.format of the wildcards.
    assert art.template("results").format(**dict(wildcards)) == EXPECTED[key]
    # A job handed the artifact's folder finds the same file below it.
    folder = art.folder_path("results", **{k: v for k, v in wildcards
                                           if "{" + k + "}" in art.folder})
    file_wc = {k: v for k, v in wildcards if "{" + k + "}" in art.file}
    assert art.in_folder(folder, **file_wc) == Path(EXPECTED[key])


def test_every_artifact_is_pinned():
    assert {a.name for a in ARTIFACTS} == {name for name, _ in EXPECTED}


def test_templates_keep_the_wildcards_of_a_rule():
    assert (ARTIFACTS.encoding.template("res", model="{baseline}", init="trained")
            == "res/subjects/{subject}/encoding/{baseline}/trained/{alignment}.h5")
    assert (ARTIFACTS.responses.template("res", alignment="vision")
            == "res/subjects/{subject}/responses/vision.h5")
    assert ARTIFACTS.events.folder_path("res") == "res/movies"
    assert ARTIFACTS.summary.folder_path("res") == "res"


def test_wrong_wildcards_are_refused():
    with pytest.raises(KeyError, match="'subject'"):
        ARTIFACTS.electrodes.format("results")
    with pytest.raises(KeyError, match="modle"):
        ARTIFACTS.encoding.template("results", modle="x")


READERS = [
    (read_electrodes, artifacts.ELECTRODE_COLUMNS, "hemisphere"),
    (read_events, artifacts.EVENT_COLUMNS, "block"),
    (read_sites, artifacts.SITES_BASE_COLUMNS, "class"),
    (read_pooled_sites, ["subject", *artifacts.SITES_BASE_COLUMNS], "subject"),
    (read_comparisons, artifacts.COMPARISON_COLUMNS, "delta_r"),
]


@pytest.mark.parametrize(("reader", "columns", "drop"), READERS,
                         ids=[r[0].__name__ for r in READERS])
def test_readers_name_the_file_and_the_missing_column(tmp_path, reader, columns, drop):
    table = pd.DataFrame({c: [1] for c in columns})
    good = write_parquet(table, tmp_path / "good.parquet")
    assert list(reader(good).columns) == list(columns)
    bad = write_parquet(table.drop(columns=[drop]), tmp_path / "bad.parquet")
    with pytest.raises(ValueError) as err:
        reader(bad)
    assert str(bad) in str(err.value) and repr(drop) in str(err.value)
    with pytest.raises(FileNotFoundError, match="absent.parquet"):
        reader(tmp_path / "absent.parquet")


def test_hdf5_readers_live_in_artifacts_and_name_what_is_missing(tmp_path):
    import h5py

    from neuroalign.data import build
    from neuroalign.encoding import build as encoding_build
    from neuroalign.features import extract

    # The stages re-export the one reader of each HDF5 output; no second copy exists.
    assert build.read_responses is encoding_build.read_responses is artifacts.read_responses
    assert extract.read_features is encoding_build.read_features is artifacts.read_features
    assert extract.dataset_name is artifacts.feature_dataset_name

    features = tmp_path / "features.h5"
    with h5py.File(features, "w") as f:
        f.attrs["layers"] = ["blocks/0", "head"]
        f["blocks%2F0"] = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"features\.h5.*'head'.*blocks/0"):
        artifacts.read_features(features)
    feats, attrs = artifacts.read_features(features, ["blocks/0"])
    assert feats["blocks/0"].shape == (3, 2) and attrs["layers"] == ["blocks/0", "head"]
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        artifacts.read_features(tmp_path / "absent.h5")

    responses = tmp_path / "responses.h5"
    with h5py.File(responses, "w") as f:
        f["responses"] = np.zeros((2, 3, 1), np.float32)
        f["event_id"] = np.arange(2)
        f["electrodes"] = np.array([b"A1", b"A2", b"A3"])
    with pytest.raises(ValueError, match=r"responses\.h5.*'trial'"):
        artifacts.read_responses(responses)
    with h5py.File(responses, "a") as f:
        f["trial"] = np.zeros(2, int)
        del f["electrodes"]
        f["electrodes"] = np.array([b"A1", b"A2"])
    with pytest.raises(ValueError, match=r"shape \(2, 3, 1\) but 2 event ids and 2 electrode"):
        artifacts.read_responses(responses)


def test_electrodes_reader_checks_extra_columns(tmp_path):
    path = write_parquet(pd.DataFrame({c: [1] for c in artifacts.ELECTRODE_COLUMNS}),
                         tmp_path / "electrodes.parquet")
    with pytest.raises(ValueError, match="channel_index"):
        read_electrodes(path, extra=["channel_index"])


def test_electrodes_written_before_the_type_column_still_read(tmp_path):
    old = [c for c in artifacts.ELECTRODE_COLUMNS if c != "type"]
    path = write_parquet(pd.DataFrame({c: [1] for c in old}), tmp_path / "electrodes.parquet")
    table = read_electrodes(path)
    assert list(table.columns) == artifacts.ELECTRODE_COLUMNS
    assert table["type"].tolist() == [""]  # depth contacts: the shaft schemes apply


def test_pair_outputs_sit_between_their_contacts():
    from neuroalign.artifacts import output_electrodes

    table = pd.DataFrame({"name": ["A1", "A2", "B-1", "B-2"], "region": ["r1", "r1", "r2", None],
                          "x": [0.0, 2.0, 5.0, 7.0], "y": [0.0, 0.0, 1.0, 1.0],
                          "z": [1.0, 3.0, 0.0, 0.0], "hemisphere": ["L", "R", "L", "L"]})
    out = output_electrodes(table, ["A1-A2", "A1", "B-1-B-2", "C1"],
                            ["region", "x", "y", "z", "hemisphere"])
    assert out.loc["A1-A2", ["x", "y", "z"]].tolist() == [1.0, 0.0, 2.0]
    assert out.loc["A1-A2", "region"] == "r1" and out.loc["A1-A2", "hemisphere"] == "L / R"
    assert out.loc["A1"].tolist() == ["r1", 0.0, 0.0, 1.0, "L"]
    # Labels with a hyphen of their own: the split is where both halves are contacts.
    assert out.loc["B-1-B-2", "x"] == 6.0 and out.loc["B-1-B-2", "region"] == "r2"
    assert out.loc["C1"].isna().all()
    # No sites to show (the summary of a run without any): still joinable on names.
    empty = output_electrodes(table, [], ["region"])
    assert empty.empty and empty.index.dtype == object
    pd.DataFrame({"electrode": pd.Series([], dtype=object)}).join(empty, on="electrode")


def test_encodings_are_grouped_once_for_stats_and_reports():
    from neuroalign.report import subject
    from neuroalign.stats import build as stats_build

    def enc(model, init, alignment, path):
        return {"attrs": {"model": model, "init": init, "alignment": alignment}, "path": path}

    encs = [enc("m", "trained", "vision", "a.h5"), enc("m", "random", "vision", "b.h5"),
            enc("m", "trained", "language", "c.h5")]
    groups = artifacts.group_encodings(encs)
    assert list(groups) == ["vision", "language"]  # the order given: stats keeps its rows
    assert groups["vision"][("m", "random")]["path"] == "b.h5"
    with pytest.raises(ValueError, match=r"a\.h5 and d\.h5: both are encodings of model 'm'"):
        artifacts.group_encodings([*encs, enc("m", "trained", "vision", "d.h5")])
    # Neither stage keeps a grouping of its own.
    assert not hasattr(subject, "_group")
    assert "group_encodings" in stats_build.load_encodings.__code__.co_names


def test_plan_reader_names_the_file_and_field(tmp_path):
    import json

    path = tmp_path / "plan.json"
    with pytest.raises(FileNotFoundError, match="plan.json: file not found"):
        artifacts.read_plan(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="plan.json: not valid JSON"):
        artifacts.read_plan(path)
    good = {"neuroalign_version": "0.1.0", "dataset": {"root": "/d", "subjects": "all"},
            "subjects": {"sub_2": {"trials": {"0": "m"}}, "sub_10": {"trials": {"3": "n"}}}}
    path.write_text(json.dumps(good))
    plan = artifacts.read_plan(path)
    assert list(plan["subjects"]) == ["sub_2", "sub_10"]  # the order written, not sorted
    assert plan["subjects"]["sub_10"]["trials"] == {3: "n"}
    for broken, field in (({**good, "subjects": []}, "'subjects'"),
                          ({**good, "subjects": {"sub_2": {"trials": {"x": "m"}}}},
                           "'subjects.sub_2.trials' has a trial that is not an integer"),
                          ({**good, "subjects": {"sub_2": {}}}, "'subjects.sub_2.trials' must")):
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=rf"plan.json: field {field}"):
            artifacts.read_plan(path)
    config = {"dataset": {"root": "/d", "subjects": ["sub_2"]}}
    assert artifacts.plan_mismatch(plan, config) == ["subjects"]
    assert artifacts.plan_mismatch(plan, {"dataset": dict(good["dataset"])}) == []
