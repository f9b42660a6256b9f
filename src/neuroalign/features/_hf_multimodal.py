"""Cross-attention multimodal towers via transformers: BLIP (ITM) and FLAVA, plus tiny configs.

Each event feeds the frame *and* its text (``inputs='image+text'``); the named layers are the
fused encoder's blocks, where text and image meet:

- ``blip`` (``Salesforce/blip-itm-base-coco``, ``BlipForImageTextRetrieval``): the ViT-B/16
  vision tower runs on the frame; the ITM text encoder (BERT with cross-attention to the image
  tokens in every block) runs on the text. Layers ``text_encoder.encoder.layer.{i}``: text
  tokens ``(B, T, 768)`` after block ``i``; CLS pooling is what the ITM head reads. Inputs as in
  transformers' documented ``BlipProcessor`` usage (the processor's ``[CLS]`` first token).
- ``flava`` (``facebook/flava-full``, ``FlavaModel``): image and text encoders, then the
  multimodal encoder over ``[CLS_mm] + projected image tokens + projected text tokens``.
  Layers ``multimodal_model.encoder.layer.{i}`` and the final ``multimodal_model.layernorm``:
  ``(B, 1 + n_patches + 1 + T, 768)``; CLS pooling = the multimodal CLS token. Mean pooling
  averages every position, text padding included (the text mask does not cover the image
  positions), so prefer CLS. The pretraining heads of the checkpoint (``mim_head``,
  ``mlm_head``, ``itm_head``, ``mmm_*_head``, ``image_codebook``) are not part of
  ``FlavaModel``; they are the only checkpoint keys allowed to go unused.

Preprocessing: the checkpoint's own image processor (``BlipImageProcessor`` /
``FlavaImageProcessor``: resize to the configured height x width, centre crop for FLAVA,
OpenAI-CLIP mean/std) and tokenizer, both read from the same local folder / cache entry as the
weights. Tiny configs use the same processor classes at their small size and borrow the
MiniLM tokenizer (real runs never do).

Weights, strict loading and random twins: as :mod:`._hf_text` (``_init_weights`` of the
model class from the same ``config.json``, seeded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._base import ModelSpec, set_offline
from ._hf_text import (
    TINY_MAX_LENGTH,
    TINY_REFERENCE_SEED,
    HFEntry,
    HFTextTransform,
    _is_file,
    hf_folder,
    hf_loader,
    hf_trained_id,
    tokenizer_for,
)

__all__ = ["SPECS", "ImageTextTransform"]

_TINY_IMAGE = 32
_TINY_VISION = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                "intermediate_size": 64, "image_size": _TINY_IMAGE, "patch_size": 8}
_TINY_TEXT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 64, "max_position_embeddings": TINY_MAX_LENGTH}


class ImageTextTransform:
    """(frames, texts) -> ``{'pixel_values': (n, 3, S, S), 'input_ids': (n, T), 'attention_mask'}``.

    Parameters
    ----------
    image_processor : transformers image processor
        The checkpoint's own (resize, crop, rescale, normalise).
    text : HFTextTransform
        The checkpoint's tokenizer.
    """

    def __init__(self, image_processor: Any, text: HFTextTransform) -> None:
        self.image_processor = image_processor
        self.text = text

    def __call__(self, frames: Sequence[Any], texts: list[str]) -> dict[str, Any]:
        import numpy as np

        frames = [np.ascontiguousarray(f) for f in frames]  # (H, W, 3) uint8 each
        pixels = self.image_processor(images=frames, return_tensors="pt")["pixel_values"]
        return {"pixel_values": pixels.float(), **self.text(texts)}

    def __repr__(self) -> str:
        return f"ImageTextTransform({type(self.image_processor).__name__}, {self.text!r})"


def _tiny_blip() -> Any:
    from transformers import BlipConfig

    # text vocab 30524 = BERT's 30522 + BLIP's [DEC]/[ENC]; MiniLM ids fit
    return BlipConfig(text_config=dict(_TINY_TEXT, vocab_size=30524),
                      vision_config=_TINY_VISION, projection_dim=16)


def _tiny_flava() -> Any:
    from transformers import FlavaConfig

    return FlavaConfig(image_config=_TINY_VISION, text_config=dict(_TINY_TEXT, vocab_size=30522),
                       multimodal_config={k: _TINY_VISION[k] for k in (
                           "hidden_size", "num_hidden_layers", "num_attention_heads",
                           "intermediate_size")},
                       hidden_size=32, projection_dim=16)


BLIP = HFEntry("blip", "BlipForImageTextRetrieval", repo_id="Salesforce/blip-itm-base-coco")
FLAVA = HFEntry("flava", "FlavaModel", repo_id="facebook/flava-full",
                unused_prefixes=("mim_head.", "mlm_head.", "itm_head.", "mmm_image_head.",
                                 "mmm_text_head.", "image_codebook."))
TINY_BLIP = HFEntry("tiny-blip", BLIP.model_class, tiny_config=_tiny_blip)
TINY_FLAVA = HFEntry("tiny-flava", FLAVA.model_class, tiny_config=_tiny_flava,
                     unused_prefixes=FLAVA.unused_prefixes)

_PROCESSORS = {"BlipForImageTextRetrieval": "BlipImageProcessor", "FlavaModel": "FlavaImageProcessor"}


def _image_processor(entry: HFEntry, weights: str | None) -> Any:
    import transformers

    cls = getattr(transformers, _PROCESSORS[entry.model_class])
    if entry.tiny_config is not None and (weights is None or _is_file(weights) or not (
            Path(weights) / "preprocessor_config.json").is_file()):
        side = {"height": _TINY_IMAGE, "width": _TINY_IMAGE}
        return cls(size=side, crop_size=side) if "Flava" in cls.__name__ else cls(size=side)
    folder = hf_folder(entry.name, entry.repo_id, weights)
    return cls.from_pretrained(folder, local_files_only=True)


def _preprocess(entry: HFEntry, max_length: int) -> Callable[[str | None], ImageTextTransform]:
    def preprocess(weights: str | None) -> ImageTextTransform:
        set_offline(False)  # lookups only; the loader has already fetched anything allowed
        return ImageTextTransform(_image_processor(entry, weights),
                                  HFTextTransform(tokenizer_for(entry, weights), max_length))

    return preprocess


_RANDOM_DOC = ("{cls}(config.json of the same checkpoint) under torch.manual_seed(seed); "
               "transformers' _init_weights for every sub-model (normal/trunc-normal weights, "
               "zero biases, unit LayerNorm)")
_TINY_DOC = (f"'trained' = fixed reference seed {TINY_REFERENCE_SEED}, a state-dict file or a "
             "save_pretrained folder; MiniLM tokenizer")


def _spec(entry: HFEntry, family: str, layers: tuple[str, ...], max_length: int,
          description: str) -> ModelSpec:
    return ModelSpec(
        name=entry.name, family=family, modality="multimodal", inputs="image+text",
        loader=hf_loader(entry), preprocess=_preprocess(entry, max_length), layers=layers,
        default_pooling="cls", trained_id=hf_trained_id(entry), description=description,
        random_init=_RANDOM_DOC.format(cls=entry.model_class),
        extra={"repo_id": entry.repo_id, "max_length": max_length})


def _blip_layers(n: int) -> tuple[str, ...]:
    return tuple(f"text_encoder.encoder.layer.{i}" for i in range(n))


def _flava_layers(n: int) -> tuple[str, ...]:
    return tuple(f"multimodal_model.encoder.layer.{i}" for i in range(n)) + (
        "multimodal_model.layernorm",)


SPECS = [
    _spec(BLIP, "blip", _blip_layers(12), 128,
          "BLIP ITM (HF Salesforce/blip-itm-base-coco): text encoder cross-attending to ViT-B/16"),
    _spec(FLAVA, "flava", _flava_layers(6), 77,
          "FLAVA (HF facebook/flava-full): multimodal encoder over image and text embeddings"),
    _spec(TINY_BLIP, "blip", _blip_layers(2), TINY_MAX_LENGTH,
          f"tiny BLIP ITM (2+2 layers, width 32, 32 px) for tests; {_TINY_DOC}"),
    _spec(TINY_FLAVA, "flava", _flava_layers(2), TINY_MAX_LENGTH,
          f"tiny FLAVA (2 layers per encoder, width 32, 32 px) for tests; {_TINY_DOC}"),
]
