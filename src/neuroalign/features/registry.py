"""The model registry: one :class:`ModelSpec` per network tower or validation control.

Families live in their own modules (``_bert``, ``_efficientnet``, ``controls``); each
exports ``SPECS``. A new family (SLIP, CLIP, BEiT, ConvNeXt, SBERT, SimCSE, BLIP, FLAVA)
slots in by writing a module with a loader returning :class:`Loaded`, a preprocess factory,
its named layers and ``trained_id``, and adding its ``SPECS`` to ``_FAMILIES`` below.
Nothing heavy (torch, transformers) is imported until a model is loaded.
"""

from __future__ import annotations

from ..utils import _check_option, did_you_mean
from . import _bert, _clip, _efficientnet, _hf_multimodal, _hf_text, _slip, _timm_vision, controls
from ._base import INITS, RANDOM_INIT, Loaded, ModelSpec, WeightsNotFoundError

__all__ = ["ModelSpec", "Loaded", "REGISTRY", "get_model", "list_models", "load_model",
           "language_problems",
           "weights_id", "WeightsNotFoundError"]

_FAMILIES = (_bert.SPECS, _efficientnet.SPECS, controls.SPECS)
_FAMILIES += (_timm_vision.SPECS,)  # BEiT, ConvNeXt
_FAMILIES += (_hf_text.SPECS,)  # SBERT, SimCSE
_FAMILIES += (_hf_multimodal.SPECS,)  # BLIP, FLAVA
_FAMILIES += (_slip.SPECS,)  # SLIP-Combo, SLIP-CLIP, SLIP-SimCLR (+ tiny)
_FAMILIES += (_clip.SPECS,)  # open_clip CLIP (+ tiny)

REGISTRY: dict[str, ModelSpec] = {}
for _specs in _FAMILIES:
    for _spec in _specs:
        assert _spec.name not in REGISTRY, f"duplicate registry name {_spec.name!r}"
        REGISTRY[_spec.name] = _spec


def get_model(name: str) -> ModelSpec:
    """Return the registry entry ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message suggests the closest registered name.
    """
    if name in REGISTRY:
        return REGISTRY[name]
    hint = did_you_mean(name, REGISTRY)
    raise ValueError(f"Unknown model {name!r}.{hint} Registered models: {', '.join(REGISTRY)}.")


def list_models() -> list[ModelSpec]:
    """Every registry entry, in registration order."""
    return list(REGISTRY.values())


def language_problems(names: list[str], language: str) -> list[str]:
    """Why configured models cannot read a dataset's language (empty when all can).

    Parameters
    ----------
    names : list of str
        Registry names of the configured models.
    language : str
        ``dataset.language`` (ISO 639-1, e.g. ``'nl'``).

    Returns
    -------
    problems : list of str
        One message per text-reading model trained on other languages only, naming a
        multilingual entry to use instead.
    """
    wrong = [n for n in names if not get_model(n).reads(language)]
    if not wrong:
        return []
    multi = [s.name for s in REGISTRY.values() if "*" in s.languages and not s.is_control
             and "text" in s.inputs]
    return [f"model {n!r} reads {', '.join(get_model(n).languages)} text only, but "
            f"dataset.language is {language!r}: its features of the transcript would mean "
            f"little. Use a multilingual text model ({', '.join(multi)}) or remove it from "
            "config models" for n in wrong]


def weights_id(spec: ModelSpec, init: str, weights: str | None = None) -> str:
    """The ``weights_sha256`` a load of ``spec`` with ``init`` will report, without loading.

    ``"random-init"`` for a network's random twin; otherwise the sha256 of the weight
    file(s) (for controls, of ``ground_truth.json``, for both inits).
    """
    _check_option("init", init, INITS)
    if init == "random" and not spec.is_control:
        return RANDOM_INIT
    assert spec.trained_id is not None, spec.name
    return spec.trained_id(weights)


def load_model(spec: ModelSpec | str, init: str, seed: int = 0, weights: str | None = None,
               allow_download: bool = False) -> Loaded:
    """Build ``spec`` with trained weights or as its seeded random twin.

    Parameters
    ----------
    spec : ModelSpec | str
        Registry entry or name.
    init : {'trained', 'random'}
        ``trained`` never falls back to random weights: absent weights raise
        :class:`WeightsNotFoundError` naming where they were looked for.
    seed : int
        Seed of the random twin (and of controls' noise).
    weights : str | None
        Local weights path overriding the default lookup.
    allow_download : bool
        Permit network access (off by default; HF_HUB_OFFLINE is set otherwise).
    """
    if isinstance(spec, str):
        spec = get_model(spec)
    _check_option("init", init, INITS)
    return spec.loader(init, int(seed), None if weights is None else str(weights),
                       bool(allow_download))
