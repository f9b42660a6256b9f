"""``neuroalign features`` subcommands: ``extract`` (one model x init x movie x alignment), ``list``.

The main CLI calls :func:`add_parser`; each command parses its arguments and calls one
package function.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "extract_from_config"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``features extract`` and ``features list`` on the main CLI's subparsers."""
    p = subparsers.add_parser("features", help="features stage: embed events with models")
    fsub = p.add_subparsers(dest="features_command", required=True)
    ex = fsub.add_parser("extract", help="features of one model x init x movie x alignment")
    ex.add_argument("--config", default="config.yaml", help="configuration file")
    ex.add_argument("--model", required=True, help="registry name (see `neuroalign features list`)")
    ex.add_argument("--init", required=True, choices=["trained", "random"])
    ex.add_argument("--movie", required=True)
    ex.add_argument("--alignment", required=True)
    ex.add_argument("--events", required=True, help="the movie's events/{alignment}.parquet")
    ex.add_argument("--out", required=True, help="output .h5 (written atomically)")
    ex.set_defaults(func=_run_extract)
    ls = fsub.add_parser("list", help="print the model registry")
    ls.set_defaults(func=_run_list)
    return p


def extract_from_config(config: dict[str, Any], model: str, init: str, movie: str,
                        alignment: str, events: str, out: str,
                        verbose: bool | str | int | None = None) -> Any:
    """Call :func:`~neuroalign.features.extract.extract_features` with a validated config.

    ``features`` gives pooling, srp_dim, batch_size, device, autocast and allow_download;
    ``seed``, ``movies.root`` and ``dataset.root`` come from the top level; the ``models``
    entry named ``model`` (when present) gives ``weights`` and ``layers``.
    """
    from .extract import extract_features

    feat = config["features"]
    entry = next((m for m in config.get("models", []) if m.get("name") == model), {})
    return extract_features(
        model, init, events, config["movies"]["root"], out, movie=movie, alignment=alignment,
        dataset_root=config["dataset"]["root"], pooling=None if feat["pooling"] == "auto" else feat["pooling"], srp_dim=feat["srp_dim"],
        batch_size=feat["batch_size"], device=feat["device"], autocast=feat["autocast"],
        seed=config["seed"], layers=entry.get("layers"), weights=entry.get("weights"),
        allow_download=feat["allow_download"], verbose=verbose)


def _run_extract(args: argparse.Namespace) -> int:
    from ..config import load_config

    extract_from_config(load_config(args.config), args.model, args.init, args.movie,
                        args.alignment, args.events, args.out,
                        verbose=not getattr(args, "quiet", False))
    return 0


def format_registry() -> str:
    """The registry as an aligned text table (one row per entry)."""
    from .registry import list_models

    rows = [("name", "modality", "inputs", "layers", "kind", "languages", "description")]
    for s in list_models():
        languages = "-" if "text" not in s.inputs else (
            "any" if "*" in s.languages else ",".join(s.languages))
        rows.append((s.name, s.modality, s.inputs, str(len(s.layers)),
                     "control" if s.is_control else "network", languages, s.description))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:6], widths, strict=True))
                     + "  " + r[6] for r in rows)


def _run_list(args: argparse.Namespace) -> int:
    print(format_registry())
    return 0
