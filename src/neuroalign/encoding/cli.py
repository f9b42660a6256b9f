"""``neuroalign encoding`` subcommands: ``fit`` (one model) and ``baseline`` (concat / banded)."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``encoding fit`` and ``encoding baseline`` on the main CLI's subparsers."""
    p = subparsers.add_parser("encoding", help="encoding stage: cross-fitted ridge per electrode")
    esub = p.add_subparsers(dest="encoding_command", required=True)
    fit = esub.add_parser("fit", help="fit one model x init to one subject and alignment")
    fit.add_argument("--model", required=True)
    fit.add_argument("--init", required=True, choices=["trained", "random"])
    fit.add_argument("--features-dir", required=True,
                     help="features/{model}/{init} folder (holding {movie}/{alignment}.h5)")
    base = esub.add_parser("baseline", help="linear-integration baseline of unimodal models")
    base.add_argument("--kind", required=True, choices=["concat", "banded"])
    base.add_argument("--models", required=True, nargs="+", help="the unimodal models combined")
    base.add_argument("--encodings", required=True, nargs="+",
                      help="their encoding outputs (same order), for the best layer")
    base.add_argument("--features-dirs", required=True, nargs="+",
                      help="their features/{model}/trained folders (same order)")
    for q in (fit, base):
        q.add_argument("--config", default="config.yaml", help="configuration file")
        q.add_argument("--subject", required=True)
        q.add_argument("--alignment", required=True, choices=["language", "vision"])
        q.add_argument("--responses", required=True, help="responses/{alignment}.h5")
        q.add_argument("--events-dir", required=True,
                       help="folder of {movie}/events/{alignment}.parquet tables")
        q.add_argument("--out", required=True, help="output .h5 (written atomically)")
    fit.set_defaults(func=_run_fit)
    base.set_defaults(func=_run_baseline)
    return p


def _run_fit(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .build import fit_encoding

    config = load_config(args.config)
    entry = next((m for m in config["models"] if m["name"] == args.model), {})
    fit_encoding(config, args.subject, args.model, args.init, args.alignment, args.responses,
                 args.features_dir, args.events_dir, args.out, layers=entry.get("layers"))
    return 0


def _run_baseline(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .build import fit_baseline

    fit_baseline(load_config(args.config), args.subject, args.kind, args.alignment, args.models,
                 args.encodings, args.features_dirs, args.responses, args.events_dir, args.out)
    return 0
