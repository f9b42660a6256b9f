"""Load and validate a neuroalign configuration against the packaged JSON schema.

The same schema (``workflow/schemas/config.schema.yaml`` links to it) is used by
Snakemake's ``validate`` and by the CLI, so both accept and reject the same files.
Defaults are filled from the schema, so a config naming only ``dataset`` is valid.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .utils import closest, did_you_mean

__all__ = ["load_config", "validate_config", "config_schema", "config_hash", "ConfigError",
           "role_models", "linear_baselines", "write_resolved_config"]


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the key and what is allowed."""


def config_schema() -> dict[str, Any]:
    """Return the configuration JSON schema as a dict."""
    text = resources.files("neuroalign").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _fill_defaults(instance: Any, schema: dict[str, Any]) -> Any:
    """Recursively fill ``default`` values of object properties (and array items)."""
    if isinstance(instance, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                instance[key] = _fill_defaults(instance[key], sub)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        instance = [_fill_defaults(item, schema["items"]) for item in instance]
    return instance


def _describe(error: jsonschema.ValidationError, schema: dict[str, Any], source: str) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        sub = error.schema
        allowed = sorted(sub.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        parts = []
        for key in unknown:
            near = closest(key, allowed)
            hint = f" (did you mean {near!r}?)" if near else ""
            parts.append(f"unknown key {key!r} in {where}{hint}")
        return f"{source}: " + "; ".join(parts) + f". Allowed keys: {', '.join(allowed)}."
    if error.validator == "enum":
        hint = did_you_mean(str(error.instance), [str(v) for v in error.validator_value])
        return (f"{source}: invalid value {error.instance!r} for {where!r}. Allowed values are "
                f"{', '.join(repr(v) for v in error.validator_value)}.{hint}")
    return f"{source}: invalid value {error.instance!r} for {where!r}: {error.message}"


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate ``config`` and return a copy with every default filled in.

    Parameters
    ----------
    config : dict
        The configuration as loaded from YAML.
    source : str
        Name of the file it came from, used in error messages.

    Returns
    -------
    config : dict
        Validated configuration with defaults.

    Raises
    ------
    ConfigError
        Naming the key, the bad value and what is allowed.
    """
    schema = config_schema()
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping of keys, got "
                          f"{type(config).__name__}")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(errors[0], schema, source))
    filled = _fill_defaults(copy.deepcopy(config), schema)
    p = filled["preprocessing"]
    if p["tmax"] < p["tmin"]:
        raise ConfigError(f"{source}: preprocessing.tmax ({p['tmax']}) must be >= "
                          f"preprocessing.tmin ({p['tmin']})")
    low, high = p["high_gamma"]
    if not low < high:
        raise ConfigError(f"{source}: preprocessing.high_gamma must be [low, high] with low < "
                          f"high, got {p['high_gamma']}")
    return filled


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML config file, validate it and fill defaults (see :func:`validate_config`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: configuration file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    return validate_config(raw, source=str(path))


#: Keys that choose which outputs a run makes, not how any one is computed: left out of
#: ``config_hash``, so that adding a subject to a study leaves the provenance (and bytes) of
#: the other subjects' outputs as they were.
SELECTION_KEYS = (("dataset", "subjects"),)


def config_hash(config: dict[str, Any], sections: list[str] | None = None) -> str:
    """Short sha256 of (a subset of) a config, for provenance attributes.

    ``SELECTION_KEYS`` (the subject list) are not hashed: they select outputs, and a
    subject's outputs do not depend on which other subjects a run selects.
    """
    part = dict(config) if sections is None else {k: config.get(k) for k in sections}
    for section, key in SELECTION_KEYS:
        if isinstance(part.get(section), dict) and key in part[section]:
            part[section] = {k: v for k, v in part[section].items() if k != key}
    text = json.dumps(part, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def linear_baselines(sites: dict[str, Any], vision: list[str], language: list[str]) -> list[str]:
    """The linear-integration baselines that run: ``sites.linear_baselines`` when there are
    both vision and language models to combine, else none (a language-only study has no
    vision features to mix in). The one rule for stats and workflow."""
    return list(sites.get("linear_baselines", ["concat", "banded"])) if vision and language \
        else []


def role_models(sites: dict[str, Any], modality_of: dict[str, str], role: str) -> list[str]:
    """The models that play ``role`` in the site claim: the one rule for stats and workflow.

    Parameters
    ----------
    sites : dict
        The config's ``sites`` section; a non-empty ``{role}_models`` list is taken as is.
    modality_of : dict of str to str
        Model -> modality, for the trained models that ran (or will run), in the order the
        caller wants them listed. An empty list in the config means every model whose
        modality is ``role`` (validation controls included).
    role : {"vision", "language", "multimodal"}
    """
    from .utils import _check_option

    _check_option("role", role, ("vision", "language", "multimodal"))
    listed = list(sites.get(f"{role}_models") or [])
    return listed or [m for m, modality in modality_of.items() if modality == role]


def write_resolved_config(config: dict[str, Any], out: str | os.PathLike) -> bool:
    """Write the resolved config the jobs read (the workflow does it when a run starts).

    Written only when its text changes, so a rerun leaves the file and its timestamp as
    they were; returns whether it was written.
    """
    from .io import atomic_path

    out = Path(out)
    text = json.dumps(config, indent=1, sort_keys=True)
    if out.is_file() and out.read_text() == text:
        return False
    with atomic_path(out, suffix=".json") as tmp:
        tmp.write_text(text)
    return True
