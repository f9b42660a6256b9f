"""Repository hygiene that CI must enforce: lint, the one-way stage layering, a self-contained clone."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def test_ruff_clean():
    res = subprocess.run([_tool("ruff"), "check", "src", "tests", "benchmarks"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def _contracts() -> list[dict]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([_tool("lint-imports"), "--no-cache", "--no-logo",
                           str(REPO / "pyproject.toml")],
                          cwd=cwd, env=env, capture_output=True, text=True)


def test_stage_layers_respected(tmp_path):
    res = _lint_imports(REPO / "src", tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    n = len(_contracts())
    assert f"Contracts: {n} kept, 0 broken." in res.stdout, res.stdout


def test_import_contracts_are_not_optional():
    """A layer in parentheses is optional: a renamed stage would pass silently."""
    contracts = _contracts()
    layers = [c for c in contracts if c["type"] == "layers"]
    assert layers, "no layers contract"
    for contract in layers:
        for layer in contract["layers"]:
            assert not layer.startswith("("), f"optional layer {layer} in {contract['name']!r}"
            module = REPO / "src" / Path(*layer.split("."))
            assert module.is_dir() or module.with_suffix(".py").is_file(), layer
    forbidden = [c for c in contracts if c["type"] == "forbidden"]
    sources = {m for c in forbidden for m in c["source_modules"]}
    assert {f"neuroalign.{s}" for s in ("data", "encoding", "stats", "report")} <= sources


def _copy_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(REPO / "src" / "neuroalign", src / "neuroalign",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return src


def test_import_contracts_catch_violations(tmp_path):
    """The contracts bite: stats importing torch, and data importing the report, are broken."""
    src = _copy_package(tmp_path)
    with open(src / "neuroalign" / "stats" / "comparisons.py", "a") as fh:
        fh.write("\n\ndef _violation():\n    import torch\n\n    return torch\n")
    with open(src / "neuroalign" / "data" / "labels.py", "a") as fh:
        fh.write("\n\ndef _violation():\n    from ..report import figures\n\n    return figures\n")
    res = _lint_imports(src, tmp_path)
    assert res.returncode != 0
    assert "neuroalign.stats is not allowed to import torch" in res.stdout, res.stdout
    assert "neuroalign.data is not allowed to import neuroalign.report" in res.stdout, res.stdout
    assert "neuroalign.data.labels -> neuroalign.report.figures" in res.stdout
    assert "Stages flow one way: data -> features -> encoding -> stats -> report BROKEN" \
        in res.stdout


def test_import_contracts_fail_on_a_renamed_stage(tmp_path):
    src = _copy_package(tmp_path)
    (src / "neuroalign" / "stats").rename(src / "neuroalign" / "statistics")
    res = _lint_imports(src, tmp_path)
    assert res.returncode != 0, res.stdout
    assert "Missing layer 'neuroalign.stats'" in res.stdout + res.stderr, res.stdout + res.stderr


# Files a user's clone runs: nothing in them may read outside the clone.
# The pattern finds the CI's sibling folder of the clone named by a relative path or from a
# parent path; it is built from pieces so that this file does not match itself.
_OUTSIDE_CLONE = re.compile(r"\.\./" + "shared" + r"|parents?\b[^\n]*/\s*[\"']" + "shared" + r"[\"']"
                            + r"|[\"']" + "shared" + r"[\"']\s*/\s*[\"']data")
_CLONE_FILES = ["src", "tests", "workflow", "benchmarks", "Snakefile", "Makefile", ".ci"]


def _text_files(entries):
    for entry in entries:
        path = REPO / entry
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in {
                    ".edf", ".eeg", ".h5", ".parquet", ".png", ".pyc"}:
                yield f


def test_nothing_reads_outside_the_clone():
    """The sample recordings are in tests/data; a reference to the CI's sibling folder
    (dot-dot-slash shared, or the parent folder's "shared") would make a user's clone fail."""
    pattern = _OUTSIDE_CLONE
    hits = [f"{f.relative_to(REPO)}:{n}: {line.strip()}"
            for f in _text_files(_CLONE_FILES)
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1)
            if pattern.search(line)]
    assert not hits, "reads outside the clone:\n" + "\n".join(hits)


def test_outside_clone_pattern_catches_the_old_fixture():
    """The grep above would have caught what tests/conftest.py used to do."""
    pattern = _OUTSIDE_CLONE
    assert pattern.search('SHARED_DATA = REPO.parent / "' + 'shared" / ' + '"data"')
    assert pattern.search("REPO.parents[1] / " + "'shared'")
    assert pattern.search("see ../" + "shared/data/README.md")
    assert not pattern.search('SAMPLE_DATA = REPO / "tests" / "data"')


def test_sample_data_ships_with_its_licences():
    """Every folder of tests/data has its upstream licence and is described in the README."""
    data = REPO / "tests" / "data"
    readme = (data / "README.md").read_text()
    folders = sorted(p for p in data.iterdir() if p.is_dir())
    assert folders, "tests/data holds no recording"
    for folder in folders:
        licences = list(folder.glob("LICENSE*"))
        assert licences, f"{folder.relative_to(REPO)} has no LICENSE file"
        assert f"`{folder.name}/`" in readme, f"tests/data/README.md does not describe {folder.name}"
    size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
    assert size < 8 * 2**20, f"tests/data is {size / 2**20:.1f} MiB: copy only the files tests read"


_CITATION = re.compile(r"DESIGN\.md((?:[ ,]*(?:and )?§\d+(?:\.\d+)?(?:[–-]\d+)?)+)")


def test_design_citations_point_to_the_repository_document():
    """Code, rules, tests and the README cite docs/DESIGN.md §n: the file is in the clone, and
    every cited section exists (numbered headings ``## n.`` / ``### n.m``)."""
    design = REPO / "docs" / "DESIGN.md"
    assert design.is_file(), "docs/DESIGN.md, the design document the code cites, is missing"
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", design.read_text(), re.M))
    assert {"4", "6", "6.3"} <= sections, sorted(sections)
    bad, cited = [], 0
    for f in _text_files(["src/neuroalign", "workflow", "tests", "README.md", "data", "benchmarks"]):
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            for m in _CITATION.finditer(line):
                if line[max(0, m.start() - 5):m.start()] != "docs/":
                    bad.append(f"{f.relative_to(REPO)}:{n}: cites a DESIGN.md outside docs/")
                for first, last in re.findall(r"§(\d+(?:\.\d+)?)(?:[–-](\d+))?", m.group(1)):
                    cited += 1
                    wanted = [first] if not last else [str(k) for k in
                                                      range(int(first), int(last) + 1)]
                    bad += [f"{f.relative_to(REPO)}:{n}: §{w} is not a section of docs/DESIGN.md"
                            for w in wanted if w not in sections]
    assert cited > 20, f"only {cited} citations found: the pattern no longer matches"
    assert not bad, "\n".join(bad)
