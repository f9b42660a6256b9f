"""Unimodal vision towers via timm: BEiT and ConvNeXt (ImageNet-trained), plus tiny configs.

Weights: the default is the timm model's default pretrained tag, whose weights timm hosts on
the Hugging Face hub (``timm/beit_base_patch16_224.in22k_ft_in22k_in1k``,
``timm/convnext_base.fb_in22k_ft_in1k``), looked up in the local hub cache only
(``model.safetensors`` or ``pytorch_model.bin``); ``models[].weights`` overrides it with a
local file (``.safetensors`` or a torch state dict read with ``weights_only=True``, optionally
nested under ``state_dict`` / ``model``). The model is built with ``timm.create_model(name,
pretrained=False)``; the state dict goes through the model's own ``checkpoint_filter_fn``
(so original BEiT / Facebook ConvNeXt checkpoints convert) and is then loaded strictly:
missing or unexpected keys are an error naming them. Nothing downloads unless
``allow_download`` is true. Never a random fallback.

Preprocessing: timm's pretrained data config (``timm.data.resolve_data_config``: input size,
``crop_pct``, interpolation, mean/std), applied as tensors to the decoded frames: resize the
shorter side to ``floor(size / crop_pct)``, centre-crop ``size``, normalise — the eval
transform ``timm.data.create_transform`` builds, without PIL.

Named layers: BEiT ``blocks.{i}`` (tokens ``(B, 1 + n_patches, D)``) and ``fc_norm`` (the
LayerNorm of the mean patch token the classifier reads, ``(B, D)``); default pooling ``mean``,
as BEiT's head averages tokens. ConvNeXt ``stem``, ``stages.{i}`` (maps ``(B, C, H, W)``,
always averaged over space) and ``head.norm`` (LayerNorm of the globally pooled last stage).

Random twin (families ``beit``, ``convnext``): ``timm.create_model(name, pretrained=False)``
under ``torch.manual_seed(seed)``, i.e. timm's own ``init_weights`` (trunc-normal(0.02)
linear / conv weights, zero biases, unit LayerNorm; BEiT also rescales each block's output
projections by depth and sets layer-scale gammas to ``init_values``); deterministic given the
seed. No weights or network access needed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._base import (
    RANDOM_INIT,
    Loaded,
    ModelSpec,
    WeightsNotFoundError,
    seeded_build,
    weights_digest,
)

__all__ = ["SPECS", "TimmTransform", "load_timm_state_dict"]

#: Seed of the tiny models' stand-in "trained" weights (tiny models have no training).
TINY_REFERENCE_SEED = 20240721
_CACHE_FILES = ("model.safetensors", "pytorch_model.bin")


class TimmTransform:
    """Frames -> timm eval input: shorter side to ``floor(size / crop_pct)``, centre crop, normalise.

    Parameters
    ----------
    data_config : dict
        ``timm.data.resolve_data_config`` output: ``input_size``, ``crop_pct``,
        ``interpolation``, ``mean``, ``std``.
    """

    def __init__(self, data_config: dict[str, Any]) -> None:
        self.size = int(data_config["input_size"][-1])
        self.crop_pct = float(data_config.get("crop_pct") or 1.0)
        self.interpolation = {"bicubic": "bicubic", "bilinear": "bilinear"}.get(
            data_config.get("interpolation"), "bilinear")
        self.mean = tuple(float(m) for m in data_config["mean"])
        self.std = tuple(float(s) for s in data_config["std"])

    def __call__(self, frames: Sequence[Any]) -> Any:
        """Map ``n`` RGB frames ``(H, W, 3) uint8`` to a float32 tensor ``(n, 3, size, size)``."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        scale_size = math.floor(self.size / self.crop_pct)
        out = []
        for frame in frames:
            x = torch.from_numpy(np.array(frame, np.uint8)).permute(2, 0, 1)[None].float() / 255.0
            h, w = x.shape[-2:]
            # torchvision Resize(int): the shorter side becomes scale_size, aspect kept
            nh, nw = ((scale_size, int(scale_size * w / h)) if h <= w
                      else (int(scale_size * h / w), scale_size))
            x = F.interpolate(x, size=(nh, nw), mode=self.interpolation, align_corners=False,
                              antialias=True).clamp(0.0, 1.0)
            top, left = int(round((nh - self.size) / 2.0)), int(round((nw - self.size) / 2.0))
            out.append(x[..., top:top + self.size, left:left + self.size])
        x = torch.cat(out)  # (n, 3, size, size)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return (f"TimmTransform(size={self.size}, crop_pct={self.crop_pct}, "
                f"interpolation={self.interpolation!r}, mean={self.mean}, std={self.std})")


def _hub_id(timm_name: str) -> str:
    from timm.models import get_pretrained_cfg

    return get_pretrained_cfg(timm_name).hf_hub_id


def _weights_file(name: str, timm_name: str, weights: str | None,
                  allow_download: bool = False) -> Path:
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise WeightsNotFoundError(f"model {name!r}: weight file {path} not found "
                                       "(models[].weights must be a local state-dict file)")
        return path
    from huggingface_hub import constants, try_to_load_from_cache

    repo_id = _hub_id(timm_name)
    for fname in _CACHE_FILES:
        hit = try_to_load_from_cache(repo_id, fname)
        if isinstance(hit, str):
            return Path(hit)
    if allow_download:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, _CACHE_FILES[0]))
    entry = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    raise WeightsNotFoundError(
        f"model {name!r}: trained weights not found: looked for {' or '.join(_CACHE_FILES)} "
        f"in the Hugging Face cache entry {entry} (timm {timm_name!r} -> repo {repo_id}). To "
        f"provide them, on a machine with internet run `huggingface-cli download {repo_id}` "
        f"and copy {entry.name} into this machine's Hugging Face cache ($HF_HUB_CACHE), or "
        "set models[].weights to a local .safetensors/.pth state dict, or set "
        "allow_download: true")


def load_timm_state_dict(model: Any, path: str | Path, name: str) -> None:
    """Load ``path`` into the timm ``model`` through its ``checkpoint_filter_fn``, strictly."""
    import torch

    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict (got {type(state).__name__}) for {name!r}")
    filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:  # converts original (non-timm) checkpoints; timm's pass through
        state = filter_fn(state, model)
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"{path}: checkpoint does not match model {name!r}: {len(missing)} missing key(s) "
            f"{missing[:8]}, {len(unexpected)} unexpected key(s) {unexpected[:8]}")
    model.load_state_dict(state, strict=True)


def _build(timm_name: str, overrides: dict[str, Any]) -> Any:
    import timm

    return timm.create_model(timm_name, pretrained=False, **overrides)


def _loader(name: str, timm_name: str, overrides: dict[str, Any], tiny: bool) -> Any:
    def load(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
        if init == "random":
            model = seeded_build(seed, lambda: _build(timm_name, overrides))
            return Loaded(model.eval(), RANDOM_INIT,
                          f"timm.create_model({timm_name!r}{', tiny' if tiny else ''}), seed {seed}")
        if tiny and weights is None:
            model = seeded_build(TINY_REFERENCE_SEED, lambda: _build(timm_name, overrides))
            return Loaded(model.eval(), f"reference-init-seed-{TINY_REFERENCE_SEED}",
                          f"tiny {timm_name}, fixed reference seed {TINY_REFERENCE_SEED} "
                          "(no training)")
        path = _weights_file(name, timm_name, weights, allow_download)
        model = _build(timm_name, overrides)
        load_timm_state_dict(model, path, name)
        return Loaded(model.eval(), weights_digest([path]), str(path))

    return load


def _trained_id(name: str, timm_name: str, tiny: bool) -> Any:
    def trained_id(weights: str | None) -> str:
        if tiny and weights is None:
            return f"reference-init-seed-{TINY_REFERENCE_SEED}"
        return weights_digest([_weights_file(name, timm_name, weights)])

    return trained_id


def _preprocess(timm_name: str, size: int | None) -> Any:
    def preprocess(weights: str | None) -> TimmTransform:
        from timm.data import resolve_data_config
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(timm_name).to_dict()
        if size is not None:  # tiny: the same recipe at the tiny input size
            cfg["input_size"] = (3, size, size)
        return TimmTransform(resolve_data_config(pretrained_cfg=cfg))

    return preprocess


_RANDOM_DOC = {
    "beit": ("timm.create_model(name, pretrained=False) under torch.manual_seed(seed): timm "
             "init_weights (trunc-normal(0.02) linear weights, zero biases, unit LayerNorm, "
             "depth-rescaled output projections, layer-scale gammas = init_values)"),
    "convnext": ("timm.create_model(name, pretrained=False) under torch.manual_seed(seed): timm "
                 "_init_weights (trunc-normal(0.02) conv/linear weights, zero biases, unit "
                 "LayerNorm, layer-scale gammas = ls_init_value)"),
}
_TINY = {
    "beit": {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2,
             "num_classes": 10},
    "convnext": {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64), "num_classes": 10},
}
_TINY_SIZE = {"beit": 32, "convnext": 64}


def _beit_layers(depth: int) -> tuple[str, ...]:
    return tuple(f"blocks.{i}" for i in range(depth)) + ("fc_norm",)


def _convnext_layers(n_stages: int = 4) -> tuple[str, ...]:
    return ("stem",) + tuple(f"stages.{i}" for i in range(n_stages)) + ("head.norm",)


def _spec(name: str, family: str, timm_name: str, layers: tuple[str, ...], pooling: str,
          description: str, tiny: bool) -> ModelSpec:
    overrides = _TINY[family] if tiny else {}
    return ModelSpec(
        name=name, family=family, modality="vision", inputs="image",
        loader=_loader(name, timm_name, overrides, tiny),
        preprocess=_preprocess(timm_name, _TINY_SIZE[family] if tiny else None),
        layers=layers, default_pooling=pooling, trained_id=_trained_id(name, timm_name, tiny),
        description=description, random_init=_RANDOM_DOC[family],
        extra={"timm_name": timm_name, "overrides": overrides})


_TINY_TRAINED = f"'trained' = fixed reference seed {TINY_REFERENCE_SEED} or a state-dict file"

SPECS = [
    _spec("beit", "beit", "beit_base_patch16_224", _beit_layers(12), "mean",
          "BEiT-B/16 (timm beit_base_patch16_224, in22k ft in1k)", tiny=False),
    _spec("convnext", "convnext", "convnext_base", _convnext_layers(), "mean",
          "ConvNeXt-B (timm convnext_base, fb in22k ft in1k)", tiny=False),
    _spec("tiny-beit", "beit", "beit_base_patch16_224", _beit_layers(2), "mean",
          f"tiny BEiT (2 blocks, width 32, 32 px) for tests; {_TINY_TRAINED}", tiny=True),
    _spec("tiny-convnext", "convnext", "convnext_base", _convnext_layers(), "mean",
          f"tiny ConvNeXt (depths 1,1,1,1, widths 8-64, 64 px) for tests; {_TINY_TRAINED}",
          tiny=True),
]
