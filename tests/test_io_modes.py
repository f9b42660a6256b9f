"""Outputs honour the umask: the atomic writers give the mode ``open()`` would, not 0o600."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuroalign.io import _current_umask, atomic_path, open_h5_atomic, write_json, write_parquet

SRC = Path(__file__).resolve().parents[1] / "src" / "neuroalign"


@pytest.fixture(params=[0o022, 0o002, 0o027, 0o077], ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _writers():
    def text(path):
        with atomic_path(path, suffix=".txt") as tmp:
            tmp.write_text("x\n")

    def h5(path):
        with open_h5_atomic(path) as f:
            f["x"] = np.arange(3)

    return {
        "atomic_path": (text, "out.txt"),
        "write_json": (lambda p: write_json({"a": 1}, p), "out.json"),
        "write_parquet": (lambda p: write_parquet(pd.DataFrame({"a": [1, 2]}), p,
                                                  metadata={"k": "v"}), "out.parquet"),
        "open_h5_atomic": (h5, "out.h5"),
    }


@pytest.mark.parametrize("writer", list(_writers()))
def test_atomic_writers_honour_the_umask(writer, umask, tmp_path):
    write, name = _writers()[writer]
    path = tmp_path / "sub" / name
    write(path)
    assert _mode(path) == 0o666 & ~umask, f"{writer}: mode {_mode(path):o} under umask {umask:03o}"
    # Same mode as open() gives a new file under this umask.
    with open(tmp_path / "reference", "w") as fh:
        fh.write("x")
    assert _mode(path) == _mode(tmp_path / "reference")
    # Overwriting an existing output gives it the same mode again.
    write(path)
    assert _mode(path) == 0o666 & ~umask
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary left


def test_current_umask_reads_without_changing_it(umask):
    assert _current_umask() == umask
    assert os.umask(umask) == umask  # unchanged by the read


def test_every_output_goes_through_atomic_path():
    """Only io.py creates temporaries for outputs: a writer of its own would be 0o600 again."""
    pattern = re.compile(r"\b(mkstemp|NamedTemporaryFile)\b")
    hits = [f"{f.relative_to(SRC)}:{n}" for f in sorted(SRC.rglob("*.py")) if f.name != "io.py"
            for n, line in enumerate(f.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, "temporary files outside neuroalign.io.atomic_path: " + ", ".join(hits)
