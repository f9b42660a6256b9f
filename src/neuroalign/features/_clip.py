"""OpenAI CLIP towers through open_clip (``clip.vision``, ``clip.text``) and tiny test configs.

Weights: architecture and pretrained tag default to ``ViT-B-16`` / ``openai`` and are
overridden by the model entry's ``weights`` (see :func:`parse_clip_weights`):

- ``"ARCH/TAG"`` (e.g. ``"ViT-B-16/openai"``, ``"ViT-B-16/laion2b_s34b_b88k"``): an open_clip
  architecture and pretrained tag, read from the local caches only: the Hugging Face hub cache
  (``$HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``) entry the tag names, else open_clip's
  URL cache (``~/.cache/clip/<file>``);
- a path to an open_clip state dict (``.safetensors``, ``.bin``, ``.pt``) for the default
  architecture (QuickGELU when the default tag was trained with it, as ``openai`` was);
- ``"ARCH=PATH"``: a local state dict for another architecture (name a ``-quickgelu`` variant
  for weights trained with QuickGELU).

Nothing downloads unless ``allow_download`` (then open_clip fetches the tag itself). The model
is built by ``open_clip.create_model(arch, pretrained=<local file>)`` (strict, ``weights_only``).

Towers: the whole CLIP model is kept (its submodule paths are the named layers) and its
``forward`` is swapped for ``encode_image`` (vision) or ``encode_text`` (text). Vision layers
``visual.transformer.resblocks.{i}``, ``visual.ln_post`` (tokens ``(B, 1+N, D)``, CLS first);
text layers ``token_embedding``, ``transformer.resblocks.{i}``, ``ln_final`` (``(B, T, D)``).
The layer lists are ViT-B-16's; name others in ``models[].layers`` for deeper architectures.

Text pooling: CLIP's own sentence vector is the EOT token after ``ln_final``; extraction
offers ``cls`` and ``mean`` only. Token 0 (SOT) of a causal text tower sees only itself, so
``cls`` gives the same vector for every text: the text towers default to ``mean``, the mean
over the real tokens SOT..EOT (padding masked). Texts longer than the context keep their
*end* (the word at the event's onset is the last one), not open_clip's head truncation.

Random twin (family ``open-clip``): ``open_clip.create_model(arch, pretrained=None)`` under
``torch.manual_seed(seed)``: open_clip's ``init_parameters`` (normal token/positional
embeddings and attention/MLP weights scaled by width and depth, default init elsewhere),
deterministic given the seed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from ._base import (
    RANDOM_INIT,
    Loaded,
    ModelSpec,
    WeightsNotFoundError,
    seeded_build,
    set_offline,
    weights_digest,
)

__all__ = ["SPECS", "ClipTokenTransform", "ClipImageTransform", "parse_clip_weights",
           "CLIP_LAYERS_VISION", "CLIP_LAYERS_TEXT"]

#: Seed of the tiny models' stand-in "trained" weights (tiny models have no training).
TINY_REFERENCE_SEED = 20240721
DEFAULT_ARCH, DEFAULT_TAG = "ViT-B-16", "openai"
_CKPT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

#: tiny open_clip CLIP: same classes as ViT-B-16, widths small enough for CPU tests
TINY_CLIP = {"embed_dim": 16,
             "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 16,
                            "head_width": 16},
             "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                          "layers": 2}}

CLIP_LAYERS_VISION = tuple(f"visual.transformer.resblocks.{i}" for i in range(12)) + (
    "visual.ln_post",)
CLIP_LAYERS_TEXT = ("token_embedding",) + tuple(
    f"transformer.resblocks.{i}" for i in range(12)) + ("ln_final",)


# --- inputs ------------------------------------------------------------------------------

class ClipTokenTransform:
    """Texts -> CLIP BPE batch ``{'input_ids', 'attention_mask'}``, each ``(n, context_length)``.

    open_clip's offline ``SimpleTokenizer`` (it ships its BPE vocabulary). Each row is
    ``[SOT] + last (context_length - 2) BPE tokens + [EOT]``, zero-padded; the mask marks
    SOT..EOT. Keeping the end of long texts keeps the word at the event's onset.
    """

    def __init__(self, context_length: int = 77) -> None:
        self.context_length = int(context_length)

    @functools.cached_property
    def tokenizer(self) -> Any:
        from open_clip.tokenizer import SimpleTokenizer

        return SimpleTokenizer(context_length=self.context_length)

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        import torch

        tok, ctx = self.tokenizer, self.context_length
        ids = torch.zeros(len(texts), ctx, dtype=torch.long)
        mask = torch.zeros(len(texts), ctx, dtype=torch.long)
        for i, text in enumerate(texts):
            body = tok.encode(str(text))[-(ctx - 2):] if ctx > 2 else []
            seq = [tok.sot_token_id, *body, tok.eot_token_id]
            ids[i, :len(seq)] = torch.tensor(seq)
            mask[i, :len(seq)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def __repr__(self) -> str:
        return f"ClipTokenTransform(context_length={self.context_length})"


class ClipImageTransform:
    """Frames -> open_clip's eval transform (resize, centre crop, normalise), ``(n, 3, S, S)``."""

    def __init__(self, size: int, mean: Any = OPENAI_MEAN, std: Any = OPENAI_STD,
                 interpolation: str = "bicubic", resize_mode: str = "shortest") -> None:
        self.size, self.mean, self.std = int(size), tuple(mean), tuple(std)
        self.interpolation, self.resize_mode = interpolation, resize_mode

    @functools.cached_property
    def transform(self) -> Any:
        import open_clip

        return open_clip.image_transform(self.size, is_train=False, mean=self.mean, std=self.std,
                                         resize_mode=self.resize_mode,
                                         interpolation=self.interpolation)

    def __call__(self, frames: list[Any]) -> Any:
        import torch
        from PIL import Image

        return torch.stack([self.transform(Image.fromarray(f).convert("RGB")) for f in frames])

    def __repr__(self) -> str:
        return (f"ClipImageTransform(size={self.size}, mean={self.mean}, std={self.std}, "
                f"interpolation={self.interpolation!r})")


# --- weights -----------------------------------------------------------------------------

def parse_clip_weights(weights: str | None, arch: str = DEFAULT_ARCH,
                       tag: str = DEFAULT_TAG) -> tuple[str, str | None, Path | None]:
    """``weights`` -> (architecture, pretrained tag or None, local file or None).

    None -> the defaults; ``ARCH=PATH`` or a path -> a local file; ``ARCH/TAG`` -> a tag.
    """
    if weights is None:
        return arch, tag, None
    weights = str(weights)
    if "=" in weights:
        arch, path = weights.split("=", 1)
        return arch, None, Path(path)
    head, _, tail = weights.partition("/")
    if tail and "/" not in tail and not Path(weights).exists() \
            and not weights.endswith(_CKPT_SUFFIXES):
        return head, tail, None
    return arch, None, Path(weights)


def _tag_cfg(arch: str, tag: str) -> dict[str, Any]:
    import open_clip

    if open_clip.get_model_config(arch) is None:
        raise ValueError(f"Unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        raise ValueError(f"open_clip has no pretrained tag {tag!r} for {arch!r}; known tags: "
                         f"{open_clip.list_pretrained_tags_by_model(arch)}")
    return cfg


def _cache_candidates(cfg: dict[str, Any]) -> list[tuple[str, Any]]:
    """(description, resolver) of each local place open_clip would read the tag's file from."""
    from open_clip.pretrained import HF_WEIGHTS_NAME, _get_safe_alternatives

    out: list[tuple[str, Any]] = []
    if cfg.get("hf_hub"):
        # open_clip's convention: 'org/repo/' (default file name) or 'org/repo/file'
        repo, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        for name in [*_get_safe_alternatives(filename), filename]:
            def find(repo=repo, name=name) -> str | None:
                from huggingface_hub import try_to_load_from_cache

                hit = try_to_load_from_cache(repo, name)
                return hit if isinstance(hit, str) else None
            out.append((f"Hugging Face cache entry {repo}/{name}", find))
    if cfg.get("url"):
        target = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(cfg["url"])
        out.append((str(target), lambda t=target: str(t) if t.is_file() else None))
    return out


def _clip_file(name: str, weights: str | None, arch: str, tag: str) -> tuple[str, Path | None]:
    """(architecture, local weight file) for ``weights``; WeightsNotFoundError when absent."""
    arch, tag_, path = parse_clip_weights(weights, arch, tag)
    if path is not None:
        if not path.is_file():
            raise WeightsNotFoundError(f"model {name!r}: weight file {path} not found")
        return arch, path
    looked = []
    for where, find in _cache_candidates(_tag_cfg(arch, tag_)):
        hit = find()
        if hit:
            return arch, Path(hit)
        looked.append(where)
    raise WeightsNotFoundError(
        f"model {name!r}: open_clip weights {arch}/{tag_} are not in the local caches (looked "
        f"for: {'; '.join(looked)}). Provide them by running once, on a machine with internet, "
        f"`python -c \"import open_clip; open_clip.create_model('{arch}', pretrained='{tag_}')\"` "
        "and copying the Hugging Face cache (~/.cache/huggingface/hub) to this machine, by "
        "setting models[].weights to a local open_clip state-dict file, or by setting "
        "features.allow_download: true")


def _quick_gelu(arch: str, weights: str | None, tag: str) -> bool:
    """QuickGELU when the weights' tag (or, for a bare path, the default tag) was trained so."""
    import open_clip

    arch_, tag_, path = parse_clip_weights(weights, arch, tag)
    if path is not None and weights is not None and "=" in str(weights):
        return False  # ARCH=PATH: the architecture name says it (``-quickgelu``)
    cfg = open_clip.get_pretrained_cfg(arch_, tag_ or tag) or {}
    return bool(cfg.get("quick_gelu", False))


# --- towers ------------------------------------------------------------------------------

def _image_forward(self: Any, pixel_values: Any) -> Any:
    return self.encode_image(pixel_values)


def _text_forward(self: Any, input_ids: Any, attention_mask: Any = None) -> Any:
    # the causal mask already keeps padding out of the real tokens; attention_mask is for pooling
    return self.encode_text(input_ids)


@functools.cache
def _tower_class(base: type, tower: str) -> type:
    forward = _image_forward if tower == "vision" else _text_forward
    return type(f"{base.__name__}{tower.title()}Tower", (base,), {"forward": forward})


def as_tower(model: Any, tower: str) -> Any:
    """Give an open_clip CLIP model the ``forward`` of one tower; module paths are unchanged."""
    model.__class__ = _tower_class(type(model), tower)
    return model.eval()


def _create(arch: str, pretrained: str | None, quick_gelu: bool, model_kwargs: dict) -> Any:
    import logging

    import open_clip

    root = logging.getLogger()
    level = root.level
    if pretrained is None:  # open_clip warns on the root logger that a random init is random
        root.setLevel(logging.ERROR)
    try:
        return open_clip.create_model(arch, pretrained=pretrained, force_quick_gelu=quick_gelu,
                                      weights_only=True, **model_kwargs)
    finally:
        root.setLevel(level)


def _load_clip(init: str, seed: int, weights: str | None, allow_download: bool, *, name: str,
               tower: str, arch: str, tag: str, model_kwargs: dict, tiny: bool) -> Loaded:
    set_offline(allow_download)
    if tiny and weights is not None and "=" not in str(weights):
        weights = f"{arch}={weights}"  # tiny configs take only local files
    arch_, tag_, _ = parse_clip_weights(weights, arch, tag)
    qg = True if tiny else _quick_gelu(arch, weights, tag)
    if init == "random":
        model = seeded_build(seed, lambda: _create(arch_, None, qg, model_kwargs))
        return Loaded(as_tower(model, tower), RANDOM_INIT,
                      f"open_clip {arch_}{' (tiny)' if tiny else ''}, seed {seed}")
    if tiny and weights is None:
        model = seeded_build(TINY_REFERENCE_SEED, lambda: _create(arch_, None, qg, model_kwargs))
        return Loaded(as_tower(model, tower), f"reference-init-seed-{TINY_REFERENCE_SEED}",
                      f"tiny open_clip CLIP, fixed reference seed {TINY_REFERENCE_SEED} "
                      "(no training)")
    try:
        arch_, path = _clip_file(name, weights, arch, tag)
    except WeightsNotFoundError:
        if not allow_download or tag_ is None:
            raise
        model = _create(arch_, tag_, qg, model_kwargs)  # open_clip downloads into its caches
        arch_, path = _clip_file(name, weights, arch, tag)
        return Loaded(as_tower(model, tower), weights_digest([path]), str(path))
    try:
        model = _create(arch_, str(path), qg, model_kwargs)
    except RuntimeError as err:  # open_clip's strict load_state_dict names the keys
        raise ValueError(f"{path}: checkpoint does not match model {name!r} "
                         f"(open_clip {arch_}): {err}") from err
    return Loaded(as_tower(model, tower), weights_digest([path]), f"open_clip {arch_}: {path}")


def _clip_id(weights: str | None, *, name: str, arch: str, tag: str, tiny: bool) -> str:
    if tiny and weights is None:
        return f"reference-init-seed-{TINY_REFERENCE_SEED}"
    if tiny and "=" not in str(weights):
        weights = f"{arch}={weights}"
    return weights_digest([_clip_file(name, weights, arch, tag)[1]])


def _clip_preprocess(weights: str | None, *, tower: str, arch: str, tag: str,
                     model_kwargs: dict, tiny: bool) -> Any:
    import open_clip

    arch, tag_, _ = parse_clip_weights(None if tiny else weights, arch, tag)
    cfg = model_kwargs if tiny else (open_clip.get_model_config(arch)
                                     or open_clip.get_model_config(DEFAULT_ARCH))
    if tower == "text":
        return ClipTokenTransform(cfg["text_cfg"].get("context_length", 77))
    pcfg = open_clip.get_pretrained_cfg(arch, tag_ or tag) or {}
    return ClipImageTransform(cfg["vision_cfg"]["image_size"], pcfg.get("mean", OPENAI_MEAN),
                              pcfg.get("std", OPENAI_STD), pcfg.get("interpolation", "bicubic"),
                              pcfg.get("resize_mode", "shortest"))


_RANDOM_DOC = ("open_clip.create_model(arch, pretrained=None) under torch.manual_seed(seed); "
               "open_clip's init_parameters (normal embeddings, width/depth-scaled attention and "
               "MLP weights)")


def _spec(name: str, tower: str, tiny: bool) -> ModelSpec:
    kw = {"name": name, "tower": tower, "arch": DEFAULT_ARCH, "tag": DEFAULT_TAG, "tiny": tiny}
    model_kwargs = dict(TINY_CLIP) if tiny else {}
    n = 2 if tiny else 12
    if tower == "vision":
        layers = tuple(f"visual.transformer.resblocks.{i}" for i in range(n)) + ("visual.ln_post",)
    else:
        layers = ("token_embedding",) + tuple(f"transformer.resblocks.{i}" for i in range(n)) + (
            "ln_final",)
    what = ("tiny open_clip CLIP (width 32, 2 layers) for tests; 'trained' = fixed reference "
            f"seed {TINY_REFERENCE_SEED} or a state-dict file" if tiny else
            "CLIP ViT-B-16 (OpenAI) via open_clip; weights: 'ARCH/TAG', a file, or 'ARCH=FILE'")
    return ModelSpec(
        name=name, family="open-clip", modality="multimodal",
        inputs="image" if tower == "vision" else "text",
        loader=functools.partial(_load_clip, model_kwargs=model_kwargs, **kw),
        preprocess=functools.partial(_clip_preprocess, tower=tower, arch=DEFAULT_ARCH,
                                     tag=DEFAULT_TAG, model_kwargs=model_kwargs, tiny=tiny),
        layers=layers, default_pooling="cls" if tower == "vision" else "mean",
        trained_id=functools.partial(_clip_id, name=name, arch=DEFAULT_ARCH, tag=DEFAULT_TAG,
                                     tiny=tiny),
        description=f"{what} ({tower} tower)", random_init=_RANDOM_DOC,
        extra={"arch": DEFAULT_ARCH, "pretrained": DEFAULT_TAG, "tower": tower,
               "language_supervised": True, **({"model_kwargs": model_kwargs} if tiny else {})})


SPECS = [_spec("clip.vision", "vision", False), _spec("clip.text", "text", False),
         _spec("tiny-clip.vision", "vision", True), _spec("tiny-clip.text", "text", True)]
