"""Shared helpers: logging, validation messages in one voice, seeding, lazy package exports."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger("neuroalign")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def set_log_level(verbose: bool | str | int | None = None) -> None:
    """Set the level of the ``neuroalign`` logger.

    Parameters
    ----------
    verbose : bool | str | int | None
        ``True``/``None`` -> INFO, ``False`` -> WARNING, or a level name/number.
    """
    if verbose is None or verbose is True:
        level = logging.INFO
    elif verbose is False:
        level = logging.WARNING
    elif isinstance(verbose, str):
        level = _LEVELS[_check_option("verbose", verbose.lower(), list(_LEVELS))]
    else:
        level = int(verbose)
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               "%H:%M:%S"))
        logger.addHandler(handler)


def _join_allowed(allowed: Iterable[Any]) -> str:
    items = [repr(a) for a in allowed]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (for 'did you mean' hints), or None."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the candidate closest to ``name``, or ``""``: an error's tail."""
    near = closest(name, candidates)
    return f" Did you mean {near!r}?" if near else ""


def _check_option(parameter: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Raise an MNE-style ValueError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value in allowed:
        return value
    hint = did_you_mean(value, [a for a in allowed if isinstance(a, str)]) \
        if isinstance(value, str) else ""
    raise ValueError(
        f"Invalid value for the {parameter!r} parameter. Allowed values are "
        f"{_join_allowed(allowed)}, but got {value!r} instead.{hint}"
    )


def stream_seed(seed: int, *parts: str) -> Any:
    """One random stream per named job or test, stable across runs and independent of run order.

    Parameters
    ----------
    seed : int
        The config's ``seed``.
    *parts : str
        Names of the stream (subject, model, alignment, ...); joined with ``/`` and hashed.

    Returns
    -------
    seed_sequence : numpy.random.SeedSequence
    """
    import hashlib

    import numpy as np

    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return np.random.SeedSequence([int(seed), int.from_bytes(digest[:8], "little")])


def natural_key(label: str) -> tuple:
    """Sort key that orders numbers inside names by value (``"T3bOT2" < "T3bOT12"``)."""
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(label)))


#: Set to 1 to keep the C library's default allocator settings (see `keep_freed_memory`).
SYSTEM_MALLOC_ENV = "NEUROALIGN_SYSTEM_MALLOC"


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory in the process instead of returning it to the kernel.

    Why: torch on CPU (a network's activations, batch after batch) and the filters of the data
    stage allocate and free blocks of tens of MiB. By default glibc serves every block over
    its mmap threshold (32 MiB at most) with a fresh ``mmap`` and hands freed heap back to the
    kernel, so each batch faults its memory in again, page by page: the demo's
    efficientnet-lite0 features of 1,529 words took 99 s, 102 s of CPU in the kernel
    (33 M page faults). Serving large blocks from the heap (``M_MMAP_MAX`` 0) and never
    trimming it (``M_TRIM_THRESHOLD``) took the same job to 38 s, with byte-identical output
    and a peak RSS 5 % higher (measured 2026-12-07 on 2 cores; `benchmarks/bench_malloc.py`).
    The cost: memory freed by a job is not returned until the job exits, so its resident size
    stays at its peak. The `neuroalign` command calls this at start (each workflow job is one
    short process); set ``NEUROALIGN_SYSTEM_MALLOC=1`` to keep glibc's defaults.

    Returns
    -------
    applied : bool
        False where the C library is not glibc (musl, macOS, Windows) or the variable is set.
    """
    import ctypes
    import os
    import platform

    if os.environ.get(SYSTEM_MALLOC_ENV, "") not in ("", "0"):
        return False
    # glibc only: musl's mallopt is a no-op, macOS and Windows have none (and on Windows
    # ctypes.CDLL(None) raises TypeError).
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    # mallopt returns 1 on success. The largest int as trim threshold: the heap is trimmed
    # only when over 2 GiB at its top are free.
    no_mmap = bool(mallopt(m_mmap_max, 0))
    return bool(mallopt(m_trim_threshold, 2**31 - 1)) and no_mmap


def get_device(device: Any = "auto") -> Any:
    """Return the torch device to compute on (chosen once, then passed down).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} | torch.device
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.

    Returns
    -------
    device : torch.device
    """
    import torch

    if isinstance(device, torch.device):
        return device
    _check_option("device", device, ["auto", "cpu", "cuda"])
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("Invalid value for the 'device' parameter: 'cuda' was asked for but torch "
                         "sees no CUDA device. Use 'auto' or 'cpu'.")
    return torch.device(device)


def lazy_exports(package: str, init_file: str) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``__getattr__`` and ``__dir__`` (PEP 562) importing a package's exports on first use.

    The exports are the relative imports written under ``if TYPE_CHECKING:`` in the package's
    ``__init__.py`` (``init_file``), so static tools read the same list the runtime uses.
    A stage package then costs nothing to import until one of its names is used:
    ``neuroalign --help`` imports every stage's command-line module without torch or pandas.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    init_file : str
        The package's ``__file__``.

    Returns
    -------
    __getattr__, __dir__
        To assign at module level in the ``__init__.py``.
    """
    import ast
    from pathlib import Path

    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"), init_file)
    where: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if not (isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module):
                    raise ValueError(f"{init_file}: only 'from .module import name' may stand "
                                     "under 'if TYPE_CHECKING:' (they are the lazy exports)")
                for alias in imp.names:
                    where[alias.asname or alias.name] = imp.module
    if not where:
        raise ValueError(f"{init_file}: no 'from .module import name' under 'if TYPE_CHECKING:'")

    def __getattr__(name: str) -> Any:
        module = sys.modules[package]
        if name in where:
            value = getattr(importlib.import_module(f".{where[name]}", package), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            value = importlib.import_module(f".{name}", package)  # a submodule, as eager
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(module, name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
