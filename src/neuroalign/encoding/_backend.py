"""Device choice and array casting for the encoding stage's torch math.

The device is chosen once, by :func:`neuroalign.utils.get_device`, and passed down: the math never branches on it.
"""

from __future__ import annotations

import numpy as np
import torch

from neuroalign.utils import get_device  # noqa: F401  (re-exported: chosen once, passed down)


def as_tensor(x, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Cast a NumPy array or tensor to ``dtype`` on ``device`` (no copy when already there)."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), device=device, dtype=dtype)
