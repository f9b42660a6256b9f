"""Device choice and array casting for the encoding stage's torch math.

The device is chosen once, by :func:`get_device`, and passed down: the math never branches on it.
"""

from __future__ import annotations

import numpy as np
import torch

from neuroalign.utils import _check_option


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device the encoding math runs on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} | torch.device
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.

    Returns
    -------
    device : torch.device
    """
    if isinstance(device, torch.device):
        return device
    _check_option("device", device, ["auto", "cpu", "cuda"])
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("Invalid value for the 'device' parameter: 'cuda' was asked for but torch "
                         "sees no CUDA device. Use 'auto' or 'cpu'.")
    return torch.device(device)


def as_tensor(x, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Cast a NumPy array or tensor to ``dtype`` on ``device`` (no copy when already there)."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), device=device, dtype=dtype)
