"""SLIP towers (Mu et al. 2022): SLIP-Combo, SLIP-CLIP and SLIP-SimCLR ViT-B/16, and tiny configs.

The published checkpoints (github.com/facebookresearch/SLIP: ``slip_base_25ep.pt``,
``clip_base_25ep.pt``, ``simclr_base_25ep.pt``, YFCC15M, 25 epochs) are read by our own
loader, never by unpickling code: ``torch.load(weights_only=True)`` with only
``argparse.Namespace`` (the ``args`` entry) allow-listed. The file is a dict with
``state_dict`` (keys prefixed ``module.``), ``optimizer``, ``scaler``, ``epoch``,
``best_acc1`` and ``args``. The state dict follows SLIP's ``models.py``:

- ``visual.*``: timm ``vit_base_patch16_224`` with ``num_classes=0`` (all three);
- ``token_embedding``, ``positional_embedding``, ``transformer.resblocks.*`` (CLIP text
  transformer, QuickGELU, width 512, 12 layers, 8 heads, context 77, vocab 49408),
  ``ln_final``, ``text_projection``, ``image_projection``, ``logit_scale`` (SLIP and CLIP);
- ``image_mlp.*``: the SimCLR head, 3 linear layers with BatchNorm (SLIP and SimCLR).

The whole layout is rebuilt (architecture from the spec, SimCLR head sizes from the
checkpoint's tensors) and checked strictly: missing, unexpected or mis-shaped keys are an
error naming them. The vision tower is then the timm ViT, the text tower open_clip's
``TextTransformer`` with QuickGELU (the same keys as SLIP's). ``args.model`` (``SLIP_VITB16``,
``CLIP_VITB16``, ``SIMCLR_VITB16``) must match the entry, so a wrong file is not read silently.

Weights are looked for, in order: the model entry's ``weights`` (a file, or a folder holding
the file), ``$NEUROALIGN_WEIGHTS/slip/{file}``, ``~/.cache/neuroalign/slip/{file}``.

Named layers. Vision: ``patch_embed`` (patch tokens, no CLS: ``cls`` pooling reads the
top-left patch, ``mean`` all patches), ``blocks.{i}``, ``norm`` (its CLS token is SLIP's image
feature; ``image_projection`` is a linear map of it and the SimCLR ``image_mlp`` a training
head, so neither is a layer). Text: ``token_embedding``, ``transformer.resblocks.{i}``,
``ln_final``, all ``(B, 77, 512)``. Pooling: CLS for the vision tower; for the text tower the
CLIP sentence vector is the EOT token after ``ln_final``, which extraction's ``cls``/``mean``
cannot address, and token 0 (SOT) is the same for every text under the causal mask, so the
text towers default to ``mean`` over the real tokens SOT..EOT (padding masked).

Inputs: frames resized (shorter side 224, bilinear, antialiased), centre-cropped and
normalised with ImageNet mean/std (SLIP's eval transform); texts with open_clip's offline
CLIP BPE tokenizer, keeping the end of texts longer than the context.

``modality``: SLIP-Combo and SLIP-CLIP towers are ``multimodal`` (trained with language
supervision, ``extra['language_supervised']``); SLIP-SimCLR's is ``vision``. A random twin
keeps the spec's modality; it carries no multimodal claim, so the caller decides.

Random twin (family ``slip``): the same architecture under ``torch.manual_seed(seed)`` with
the libraries' own init: timm's ``init_weights`` for the ViT (truncated-normal weights,
zero biases, normal CLS/position embeddings), open_clip's ``init_parameters`` for the text
transformer (normal embeddings, width/depth-scaled attention and MLP weights, as SLIP's
``initialize_parameters``); deterministic given the seed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from ._base import (
    RANDOM_INIT,
    ImageTransform,
    Loaded,
    ModelSpec,
    WeightsNotFoundError,
    seeded_build,
    weights_digest,
)
from ._clip import ClipTokenTransform

__all__ = ["SPECS", "load_slip_tower", "read_slip_checkpoint", "slip_weight_paths",
           "build_vision", "build_text", "SLIP_URL"]

SLIP_URL = "https://dl.fbaipublicfiles.com/slip/{file}"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Seed of the tiny models' stand-in "trained" weights (tiny models have no training).
TINY_REFERENCE_SEED = 20240721
#: checkpoint file and ``args.model`` prefix of each SLIP training objective
FILES = {"slip": "slip_base_25ep.pt", "clip": "clip_base_25ep.pt", "simclr": "simclr_base_25ep.pt"}
_ARGS_PREFIX = {"slip": "SLIP", "clip": "CLIP", "simclr": "SIMCLR"}

#: architecture: timm ViT overrides of vit_base_patch16_224, CLIP text transformer, embed dim
BASE = {"vit": {}, "text": {"context_length": 77, "vocab_size": 49408, "width": 512,
                            "heads": 8, "layers": 12}, "embed_dim": 512, "depth": 12,
        "image_size": 224}
TINY = {"vit": {"img_size": 64, "embed_dim": 32, "depth": 2, "num_heads": 2},
        "text": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 2}, "embed_dim": 16, "depth": 2, "image_size": 64}
_SSL_DEFAULTS = (4096, 256)  # SLIP main.py's --ssl-mlp-dim / --ssl-emb-dim


def build_vision(arch: dict[str, Any]) -> Any:
    """timm ``vit_base_patch16_224``, ``num_classes=0``, no download, ``arch['vit']`` overrides."""
    import timm

    return timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0,
                             **arch["vit"])


@functools.cache
def _text_tower_class() -> type:
    from open_clip.transformer import TextTransformer

    class ClipTextTower(TextTransformer):
        """open_clip's ``TextTransformer`` fed the tokenizer's batch (the mask is for pooling)."""

        def forward(self, input_ids: Any, attention_mask: Any = None) -> Any:
            return super().forward(input_ids)

    return ClipTextTower


def build_text(arch: dict[str, Any]) -> Any:
    """CLIP text transformer with QuickGELU, EOT (argmax) pooling and a linear projection."""
    from open_clip.transformer import QuickGELU

    t = arch["text"]
    return _text_tower_class()(context_length=t["context_length"], vocab_size=t["vocab_size"],
                               width=t["width"], heads=t["heads"], layers=t["layers"],
                               output_dim=arch["embed_dim"], act_layer=QuickGELU)


def _ssl_mlp(in_dim: int, mlp_dim: int, out_dim: int) -> Any:
    """SLIP's SimCLR head (``SyncBatchNorm`` there; same keys as ``BatchNorm1d``)."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(OrderedDict([
        ("layer1", nn.Linear(in_dim, mlp_dim)), ("bn1", nn.BatchNorm1d(mlp_dim)),
        ("relu1", nn.ReLU()), ("layer2", nn.Linear(mlp_dim, mlp_dim)),
        ("bn2", nn.BatchNorm1d(mlp_dim)), ("relu2", nn.ReLU()),
        ("layer3", nn.Linear(mlp_dim, out_dim))]))


def _layout(kind: str, arch: dict[str, Any], ssl_dims: tuple[int, int]) -> tuple[Any, Any, Any]:
    """(full SLIP-layout module, vision tower, text tower or None) sharing parameters."""
    import torch
    from torch import nn

    visual = build_vision(arch)
    root = nn.Module()
    root.visual = visual
    text = None
    if kind in ("slip", "clip"):
        text = build_text(arch)
        for name in ("token_embedding", "transformer", "ln_final"):
            root.add_module(name, getattr(text, name))
        root.positional_embedding = text.positional_embedding
        root.text_projection = text.text_projection
        root.image_projection = nn.Parameter(torch.empty(visual.embed_dim, arch["embed_dim"]))
        root.logit_scale = nn.Parameter(torch.empty(()))
    if kind in ("slip", "simclr"):
        root.image_mlp = _ssl_mlp(visual.embed_dim, *ssl_dims)
    return root, visual, text


def slip_weight_paths(file: str, weights: str | None) -> list[Path]:
    """Where a SLIP checkpoint is looked for, in order (see the module docstring)."""
    if weights is not None:
        path = Path(weights)
        return [path / file] if path.is_dir() else [path]
    paths = []
    if os.environ.get("NEUROALIGN_WEIGHTS"):
        paths.append(Path(os.environ["NEUROALIGN_WEIGHTS"]) / "slip" / file)
    paths.append(Path.home() / ".cache" / "neuroalign" / "slip" / file)
    return paths


def _find(name: str, file: str, weights: str | None) -> Path:
    paths = slip_weight_paths(file, weights)
    for path in paths:
        if path.is_file():
            return path
    raise WeightsNotFoundError(
        f"model {name!r}: trained weights {file} not found (looked for: "
        f"{', '.join(str(p) for p in paths)}). Download {SLIP_URL.format(file=file)} (SLIP "
        "release, github.com/facebookresearch/SLIP) into $NEUROALIGN_WEIGHTS/slip/ or "
        "~/.cache/neuroalign/slip/, or set models[].weights to the file's path")


def read_slip_checkpoint(path: str | os.PathLike, name: str) -> tuple[dict[str, Any], Any]:
    """(state dict without the ``module.`` prefix, ``args`` Namespace or None) of a SLIP file.

    Read with ``weights_only=True``, allow-listing only ``argparse.Namespace``.
    """
    import argparse
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a readable SLIP checkpoint for model {name!r} "
                         f"(torch.load with weights_only=True failed: {err})") from err
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a SLIP checkpoint for model {name!r}: expected a dict "
                         f"with a 'state_dict' entry, got {type(ckpt).__name__}"
                         + (f" with keys {sorted(ckpt)[:8]}" if isinstance(ckpt, dict) else ""))
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return state, ckpt.get("args")


def load_slip_tower(path: str | os.PathLike, kind: str, tower: str, arch: dict[str, Any],
                    name: str) -> Any:
    """Read a SLIP-layout checkpoint strictly and return one tower in eval mode.

    Parameters
    ----------
    path : path-like
        The checkpoint file (the published one or a test's tiny one).
    kind : {'slip', 'clip', 'simclr'}
        Training objective, i.e. which keys the file must hold.
    tower : {'vision', 'text'}
    arch : dict
        ``vit`` (timm overrides), ``text`` (width, heads, layers, context, vocab), ``embed_dim``.
    name : str
        Registry name, for error messages.
    """
    state, args = read_slip_checkpoint(path, name)
    trained_as = getattr(args, "model", None)
    if isinstance(trained_as, str) and not trained_as.upper().startswith(_ARGS_PREFIX[kind] + "_"):
        raise ValueError(f"{path}: checkpoint was trained as {trained_as!r} (args.model) but "
                         f"model {name!r} expects a {_ARGS_PREFIX[kind]}_* checkpoint "
                         f"({FILES[kind]})")
    if "image_mlp.layer1.weight" in state and "image_mlp.layer3.weight" in state:
        ssl_dims = (state["image_mlp.layer1.weight"].shape[0],
                    state["image_mlp.layer3.weight"].shape[0])
    else:
        ssl_dims = (getattr(args, "ssl_mlp_dim", _SSL_DEFAULTS[0]),
                    getattr(args, "ssl_emb_dim", _SSL_DEFAULTS[1]))
    root, visual, text = _layout(kind, arch, ssl_dims)
    expected = root.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k}: {tuple(state[k].shape)} in the file, {tuple(v.shape)} expected"
              for k, v in expected.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{path}: checkpoint does not match model {name!r} ({_ARGS_PREFIX[kind]} layout): "
            f"{len(missing)} missing key(s) {missing[:8]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:8]}, "
            f"{len(shapes)} mis-shaped key(s) {shapes[:4]}")
    root.load_state_dict(state, strict=True)
    return (visual if tower == "vision" else text).eval()


def _load(init: str, seed: int, weights: str | None, allow_download: bool, *, name: str,
          kind: str, tower: str, arch: dict[str, Any], tiny: bool) -> Loaded:
    # no download path: the SLIP release is a plain URL, fetched by the user (see _find)
    build = functools.partial(build_vision if tower == "vision" else build_text, arch)
    if init == "random":
        return Loaded(seeded_build(seed, build).eval(), RANDOM_INIT,
                      f"{'tiny ' if tiny else ''}SLIP {tower} architecture, seed {seed}")
    if tiny and weights is None:
        return Loaded(seeded_build(TINY_REFERENCE_SEED, build).eval(), _id(None, name=name,
                      kind=kind, tiny=tiny),
                      f"tiny SLIP {tower} tower, fixed reference seed {TINY_REFERENCE_SEED} "
                      "(no training)")
    path = _find(name, FILES[kind], weights)
    return Loaded(load_slip_tower(path, kind, tower, arch, name), weights_digest([path]),
                  str(path))


def _id(weights: str | None, *, name: str, kind: str, tiny: bool) -> str:
    if tiny and weights is None:
        return f"reference-init-seed-{TINY_REFERENCE_SEED}"
    return weights_digest([_find(name, FILES[kind], weights)])


def _preprocess(weights: str | None, *, tower: str, arch: dict[str, Any]) -> Any:
    if tower == "vision":
        return ImageTransform(arch["image_size"], IMAGENET_MEAN, IMAGENET_STD)
    return ClipTokenTransform(arch["text"]["context_length"])


_RANDOM_DOC = ("same architecture under torch.manual_seed(seed): timm init_weights for the ViT "
               "(truncated-normal weights, zero biases), open_clip init_parameters for the text "
               "transformer (normal embeddings, width/depth-scaled attention and MLP weights)")
_TITLES = {"slip": "SLIP-Combo (CLIP + SimCLR losses)", "clip": "SLIP-CLIP (CLIP loss only)",
           "simclr": "SLIP-SimCLR (image self-supervision, no language)"}


def _spec(name: str, kind: str, tower: str, tiny: bool = False) -> ModelSpec:
    arch = TINY if tiny else BASE
    n = arch["depth"] if tower == "vision" else arch["text"]["layers"]
    if tower == "vision":
        layers = ("patch_embed",) + tuple(f"blocks.{i}" for i in range(n)) + ("norm",)
    else:
        layers = ("token_embedding",) + tuple(f"transformer.resblocks.{i}" for i in range(n)) + (
            "ln_final",)
    language = kind != "simclr"
    if tiny:
        what = (f"tiny SLIP {tower} tower (width 32, 2 layers, SLIP-Combo layout) for tests; "
                f"'trained' = fixed reference seed {TINY_REFERENCE_SEED} or a SLIP-layout file")
    else:
        what = f"{_TITLES[kind]} ViT-B/16, YFCC15M 25 ep, {tower} tower ({FILES[kind]})"
    return ModelSpec(
        name=name, family="slip", modality="multimodal" if language else "vision",
        inputs="image" if tower == "vision" else "text",
        loader=functools.partial(_load, name=name, kind=kind, tower=tower, arch=arch, tiny=tiny),
        preprocess=functools.partial(_preprocess, tower=tower, arch=arch),
        layers=layers, default_pooling="cls" if tower == "vision" else "mean",
        trained_id=functools.partial(_id, name=name, kind=kind, tiny=tiny),
        description=what, random_init=_RANDOM_DOC,
        extra={"kind": kind, "tower": tower, "file": FILES[kind], "language_supervised": language,
               "url": SLIP_URL.format(file=FILES[kind])})


SPECS = [
    _spec("slip-combo.vision", "slip", "vision"), _spec("slip-combo.text", "slip", "text"),
    _spec("slip-clip.vision", "clip", "vision"), _spec("slip-clip.text", "clip", "text"),
    _spec("slip-simclr.vision", "simclr", "vision"),
    _spec("tiny-slip.vision", "slip", "vision", tiny=True),
    _spec("tiny-slip.text", "slip", "text", tiny=True),
]
