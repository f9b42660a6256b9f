"""The command line answers ``--help`` without importing the heavy libraries.

``neuroalign --help`` took 5-9 s when every stage package imported torch and pandas on import;
the stage packages now export their names lazily (``neuroalign.utils.lazy_exports``).
No wall-clock assertion: what is checked is which modules the process imported.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "pandas", "mne", "mne_bids", "snakemake", "h5py", "pyarrow", "matplotlib",
         "sklearn", "scipy", "transformers", "nilearn"]
LAZY_PACKAGES = ["neuroalign.data", "neuroalign.encoding", "neuroalign.features",
                 "neuroalign.report", "neuroalign.stats"]

# Runs the CLI as `python -m neuroalign ARGS` does, then reports the imported top-level modules.
_PROBE = """
import json, runpy, sys
sys.argv = ["neuroalign", *json.loads(sys.argv[1])]
try:
    runpy.run_module("neuroalign", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
print("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
print("EXIT " + json.dumps(code))
"""


def _run(args: list[str]) -> tuple[str, set[str]]:
    res = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)],
                         capture_output=True, text=True, timeout=300)
    assert "MODULES " in res.stdout, res.stdout + res.stderr
    text, _, tail = res.stdout.rpartition("\nMODULES ")
    modules, _, exit_line = tail.partition("\n")
    assert exit_line.strip() == "EXIT 0", res.stdout[-2000:] + res.stderr[-2000:]
    return text, set(json.loads(modules))


@pytest.mark.parametrize("args", [["--help"], ["features", "extract", "--help"],
                                  ["encoding", "fit", "--help"], ["stats", "run", "--help"],
                                  ["report", "summary", "--help"], ["simulate", "--help"]],
                         ids=" ".join)
def test_help_imports_no_heavy_library(args):
    text, modules = _run(args)
    assert "usage: neuroalign" in text
    heavy = sorted(set(HEAVY) & modules)
    assert not heavy, f"`neuroalign {' '.join(args)}` imported {heavy}"


def test_help_lists_every_stage_command():
    """The lazy path still registers every subcommand (the stages' parsers are built)."""
    text, _ = _run(["--help"])
    for command in ["simulate", "score-sites", "to-bids", "check-data", "plan", "data",
                    "features", "encoding", "stats", "report", "config"]:
        assert command in text, command


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_exports_resolve(package):
    """Every name in ``__all__`` is one of the lazy exports (the imports under
    ``if TYPE_CHECKING:``) and resolves to the object of its submodule."""
    import ast
    from pathlib import Path

    mod = importlib.import_module(package)
    tree = ast.parse(Path(mod.__file__).read_text())
    exports = {alias.asname or alias.name: node.module
               for block in tree.body if isinstance(block, ast.If)
               for node in block.body if isinstance(node, ast.ImportFrom)
               for alias in node.names}
    assert sorted(exports) == sorted(mod.__all__)
    for name, module in exports.items():
        sub = importlib.import_module(f"{package}.{module}")
        assert getattr(mod, name) is getattr(sub, name), f"{package}.{name}"
        assert name in dir(mod)
    with pytest.raises(AttributeError, match="no attribute 'not_an_export'"):
        mod.not_an_export  # noqa: B018


def test_importing_a_stage_package_imports_none_of_its_modules():
    code = ("import sys, neuroalign.encoding, neuroalign.stats, neuroalign.features, "
            "neuroalign.report; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{HEAVY!r}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout
