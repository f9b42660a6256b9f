"""``neuroalign report subject`` and ``neuroalign report summary``."""

from __future__ import annotations

import argparse

from ..artifacts import ARTIFACTS

# The help quotes the artifacts' paths, below the default results folder.
_POOLED = f"the pooled stats table ({ARTIFACTS.pooled_sites.format('results')}): its classes"

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report subject`` and ``report summary`` on the main CLI's subparsers."""
    p = subparsers.add_parser("report", help=f"report stage: HTML reports and {ARTIFACTS.sites_tsv.file}")
    rsub = p.add_subparsers(dest="report_command", required=True)
    sj = rsub.add_parser("subject", help="self-contained HTML report of one subject")
    sj.add_argument("--subject", required=True)
    sj.add_argument("--encodings", required=True, nargs="+",
                    help="every encoding/{model}/{init}/{alignment}.h5 of the subject")
    sj.add_argument("--electrodes", required=True, help="the subject's electrodes.parquet")
    sj.add_argument("--comparisons", required=True, help="stats/comparisons.parquet")
    sj.add_argument("--sites", required=True, help="stats/sites.parquet")
    sj.add_argument("--pooled", default=None,
                    help=_POOLED)
    sj.add_argument("--events", nargs="+", default=None,
                    help="the subject's events tables (events per movie in the data summary)")
    sj.add_argument("--figures-dir", default=None, help="also write the figures as PNG here")
    sj.add_argument("--n-top", type=int, default=6,
                    help="electrodes shown in the r-over-time and layer figures")
    sj.add_argument("--out", required=True, help=f"{ARTIFACTS.subject_report.file} (written atomically)")
    sm = rsub.add_parser("summary", help=f"{ARTIFACTS.summary.file} and {ARTIFACTS.sites_tsv.file} across subjects")
    sm.add_argument("--sites", required=True, nargs="+",
                    help="every subject's stats/sites.parquet")
    sm.add_argument("--pooled", default=None,
                    help=_POOLED)
    sm.add_argument("--electrodes", required=True, nargs="+",
                    help="every subject's electrodes.parquet, in the order of --sites")
    sm.add_argument("--subjects", nargs="+", default=None,
                    help="subject of each --sites table (default: from each table's metadata)")
    sm.add_argument("--figures-dir", default=None, help="also write the figures as PNG here")
    sm.add_argument("--out-html", required=True, help=f"{ARTIFACTS.summary.file} (written atomically)")
    sm.add_argument("--out-tsv", required=True, help=f"{ARTIFACTS.sites_tsv.file} (written atomically)")
    for q in (sj, sm):
        q.add_argument("--config", default="config.yaml", help="configuration file")
    sj.set_defaults(func=_run_subject)
    sm.set_defaults(func=_run_summary)
    return p


def _run_subject(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .subject import render_subject_report

    render_subject_report(load_config(args.config), args.subject, args.encodings,
                          args.electrodes, args.comparisons, args.sites, args.out,
                          figures_dir=args.figures_dir, events=args.events,
                          n_top=args.n_top, pooled=args.pooled)
    return 0


def _run_summary(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .summary import render_summary

    render_summary(load_config(args.config), args.sites, args.electrodes, args.out_html,
                   args.out_tsv, subjects=args.subjects, figures_dir=args.figures_dir,
                   pooled=args.pooled)
    return 0
