"""`keep_freed_memory`: the allocator setting every `neuroalign` command starts with."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

# Allocate and fill four 8 MiB blocks, free them, 30 times over (as a network's activations
# are, batch after batch), then report the page faults of that loop.
LOOP = r"""
import json, resource, sys
import numpy as np
from neuroalign.utils import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    blocks = [np.ones(2**20) for _ in range(4)]
    del blocks
print(json.dumps({"applied": applied,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _loop(mode: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "NEUROALIGN_SYSTEM_MALLOC"}
    res = subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True,
                         env={**environ, **env}, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    kept, default = _loop("keep"), _loop("default")
    assert kept["applied"] is True
    # Seen: 2,012 faults kept, 60,892 with glibc's defaults (a block's 2,048 pages faulted in
    # again in most rounds).
    assert kept["faults"] < default["faults"] / 5, (kept, default)


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_the_environment_variable_keeps_the_defaults():
    off, kept = _loop("keep", NEUROALIGN_SYSTEM_MALLOC="1"), _loop("keep")
    assert off["applied"] is False
    assert off["faults"] > 5 * kept["faults"], (off, kept)


def test_every_command_applies_it(monkeypatch, capsys):
    from neuroalign import cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True) or True)
    assert cli.main(["features", "list"]) == 0
    assert calls == [True]
