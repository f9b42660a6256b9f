"""The building blocks of the model registry: a spec per network tower and what a loader returns.

Kept apart from :mod:`.registry` so the family modules (``_bert``, ``_efficientnet``,
``controls``) can import these types without importing the registry that collects them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import sha256_file

__all__ = ["ModelSpec", "Loaded", "INITS", "MODALITIES", "INPUTS", "RANDOM_INIT", "weights_digest",
           "set_offline", "WeightsNotFoundError", "ImageTransform", "load_state_dict_checked",
           "seeded_build"]

INITS = ("trained", "random")
MODALITIES = ("vision", "language", "multimodal")
INPUTS = ("image", "text", "image+text")

#: ``weights_sha256`` of every seeded random twin (DESIGN §5): no weight file is read.
RANDOM_INIT = "random-init"


class WeightsNotFoundError(FileNotFoundError):
    """Trained weights are not on this machine; the message says where they were looked for."""


@dataclass(frozen=True)
class Loaded:
    """What a :attr:`ModelSpec.loader` returns.

    Attributes
    ----------
    model : torch.nn.Module | object
        The network in eval mode, or a control object with ``features(events)``.
    weights_sha256 : str
        sha256 of the weight file(s) actually read (see :func:`weights_digest`),
        ``"random-init"`` for a seeded twin, or a documented tag for reference inits.
    source : str
        Human-readable origin of the weights, recorded in the output attrs.
    """

    model: Any
    weights_sha256: str
    source: str


@dataclass(frozen=True)
class ModelSpec:
    """One network tower (or validation control) of the registry.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"minilm"``.
    family : str
        Architecture family; the random-twin recipe is documented per family.
    modality : {'vision', 'language', 'multimodal'}
        What the tower represents (a random twin does not carry a ``multimodal`` claim).
    inputs : {'image', 'text', 'image+text'}
        What each event feeds it: the frame, the event's ``text``, or both.
    loader : callable
        ``loader(init, seed, weights, allow_download) -> Loaded``. ``weights`` is an
        optional local path overriding the default lookup (for controls: the
        dataset's ``ground_truth.json``). Never falls back to random weights.
    preprocess : callable or None
        ``preprocess(weights) -> transform``; the transform maps a list of RGB frames
        ``(H, W, 3) uint8`` to a float tensor ``(B, 3, S, S)``, or a list of strings to
        the tokenizer's dict of tensors. None for controls.
    layers : tuple of str
        Ordered named layers: module paths for ``get_submodule`` (``encoder.layer.5``,
        ``_blocks.3``), or ``("latent",)`` for controls.
    default_pooling : {'cls', 'mean'}
        Token pooling used when the caller asks for none.
    is_control : bool
        True for the simulator's ground-truth feature spaces (not networks).
    trained_id : callable
        ``trained_id(weights) -> str``: the ``weights_sha256`` the trained loader will
        report, computed without building the model so the cache can be checked first;
        raises :class:`WeightsNotFoundError` when the weights are absent.
    description : str
        One line for ``neuroalign features list``.
    random_init : str
        How the ``init: random`` twin is built (documented per family).
    extra : dict
        Family-specific settings (e.g. an open_clip architecture and pretrained tag).
    languages : tuple of str
        ISO 639-1 codes of the languages its text input was trained on (``("*",)``: any,
        for multilingual towers and controls); checked against ``dataset.language``.
    """

    name: str
    family: str
    modality: str
    inputs: str
    loader: Callable[[str, int, str | None, bool], Loaded]
    preprocess: Callable[[str | None], Callable[[Any], Any]] | None
    layers: tuple[str, ...]
    default_pooling: str = "cls"
    is_control: bool = False
    trained_id: Callable[[str | None], str] | None = None
    description: str = ""
    random_init: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    languages: tuple[str, ...] = ("en",)

    def reads(self, language: str) -> bool:
        """Whether its input covers ``language`` (always, for image-only towers)."""
        return "text" not in self.inputs or "*" in self.languages or language in self.languages

    def __post_init__(self) -> None:
        # Registry entries are code, so a wrong literal is a programming error.
        assert self.modality in MODALITIES, self.modality
        assert self.inputs in INPUTS, self.inputs
        assert self.default_pooling in ("cls", "mean"), self.default_pooling
        assert len(self.layers) == len(set(self.layers)), "duplicate layer names"


def weights_digest(files: Sequence[str | os.PathLike]) -> str:
    """sha256 identifying a set of weight files.

    One file: its own sha256 (comparable with ``sha256sum``). Several: the sha256 of
    the sorted ``"<name> <sha256>"`` lines, so a change in any file changes the digest.
    """
    files = [Path(f) for f in files]
    if len(files) == 1:
        return sha256_file(files[0])
    lines = sorted(f"{f.name} {sha256_file(f)}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def set_offline(allow_download: bool) -> None:
    """Forbid Hugging Face hub access unless the config says ``allow_download: true``."""
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"


class ImageTransform:
    """Frames -> normalised image batch: resize the shorter side to ``size``, centre-crop, normalise.

    Parameters
    ----------
    size : int
        Side of the square input the network expects.
    mean, std : tuple of 3 floats
        Per-channel normalisation of RGB values in [0, 1].
    """

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        self.size = int(size)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __call__(self, frames: Sequence[Any]) -> Any:
        """Map ``n`` RGB frames ``(H, W, 3) uint8`` to a float32 tensor ``(n, 3, size, size)``."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        out = []
        for frame in frames:
            x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255.0
            h, w = x.shape[-2:]
            scale = self.size / min(h, w)
            nh, nw = max(self.size, round(h * scale)), max(self.size, round(w * scale))
            # antialias so that downscaling large movie frames does not alias fine texture
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
            top, left = (nh - self.size) // 2, (nw - self.size) // 2
            out.append(x[..., top:top + self.size, left:left + self.size])
        x = torch.cat(out)  # (n, 3, size, size)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"ImageTransform(size={self.size}, mean={self.mean}, std={self.std})"


def load_state_dict_checked(module: Any, path: str | os.PathLike, model_name: str) -> None:
    """Load a checkpoint into ``module`` strictly, naming missing and unexpected keys.

    ``path`` is a ``.safetensors`` file or a torch checkpoint read with
    ``weights_only=True`` (a bare state dict, or a dict holding one under ``state_dict``).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"model {model_name!r}: weight file {path} not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict (got {type(state).__name__}) for {model_name!r}")
    expected = set(module.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"{path}: checkpoint does not match model {model_name!r}: "
            f"{len(missing)} missing key(s) {missing[:8]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:8]}")
    module.load_state_dict(state, strict=True)


def seeded_build(seed: int, build: Callable[[], Any]) -> Any:
    """Call ``build()`` under ``torch.manual_seed(seed)`` without disturbing the global RNG."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
