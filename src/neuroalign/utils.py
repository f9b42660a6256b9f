"""Shared helpers: logging, validation messages in one voice, seeding."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
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


def _check_option(parameter: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Raise an MNE-style ValueError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value in allowed:
        return value
    hint = ""
    if isinstance(value, str):
        near = closest(value, [a for a in allowed if isinstance(a, str)])
        if near is not None:
            hint = f" Did you mean {near!r}?"
    raise ValueError(
        f"Invalid value for the {parameter!r} parameter. Allowed values are "
        f"{_join_allowed(allowed)}, but got {value!r} instead.{hint}"
    )


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
