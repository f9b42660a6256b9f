"""``neuroalign stats run`` (one subject's encodings -> comparisons, sites) and ``stats pool``."""

from __future__ import annotations

import argparse

from ..artifacts import ARTIFACTS

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``stats run`` and ``stats pool`` on the main CLI's subparsers."""
    p = subparsers.add_parser("stats", help="stats stage: paired comparisons and sites")
    ssub = p.add_subparsers(dest="stats_command", required=True)
    run = ssub.add_parser("run", help="comparisons and site classes of one subject")
    run.add_argument("--config", default="config.yaml", help="configuration file")
    run.add_argument("--subject", required=True)
    run.add_argument("--encodings", required=True, nargs="+",
                     help="every encoding/{model}/{init}/{alignment}.h5 of the subject")
    run.add_argument("--electrodes", required=True, help="the subject's electrodes.parquet")
    run.add_argument("--out-comparisons", required=True,
                     help="stats/comparisons.parquet (written atomically)")
    run.add_argument("--out-sites", required=True, help="stats/sites.parquet (written atomically)")
    run.set_defaults(func=_run)
    pool = ssub.add_parser("pool", help="final classes from BH pooled over all subjects")
    pool.add_argument("--config", default="config.yaml", help="configuration file")
    pool.add_argument("--sites", required=True, nargs="+",
                      help="every subject's stats/sites.parquet")
    pool.add_argument("--out", required=True,
                      help=f"the pooled sites table, e.g. {ARTIFACTS.pooled_sites.format('results')}")
    pool.set_defaults(func=_pool)
    return p


def _run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .build import run_stats

    run_stats(load_config(args.config), args.subject, args.encodings, args.electrodes,
              args.out_comparisons, args.out_sites)
    return 0


def _pool(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .build import run_pool

    run_pool(load_config(args.config), args.sites, args.out)
    return 0
