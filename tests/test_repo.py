"""Repository hygiene that CI must enforce: lint and the one-way stage layering."""

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


def test_stage_layers_respected():
    res = subprocess.run([_tool("lint-imports")], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "KEPT" in res.stdout
