"""The ``neuroalign`` command line: one subcommand per pipeline step.

Rules in ``workflow/rules/*.smk`` call these commands; each parses its arguments
and calls one package function.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .artifacts import ARTIFACTS
from .utils import keep_freed_memory, logger, set_log_level


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write a simulated Brain TreeBank dataset with ground truth")
    p.add_argument("--out", required=True, help="output folder (dataset root)")
    p.add_argument("--preset", default="demo", choices=["tiny", "demo", "paper"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latents", default="content", choices=["content", "random"],
                   help="content: latents from trained EfficientNet-Lite0/MiniLM features of the "
                        "movie; random: content-free latents (fast)")
    p.add_argument("--source", default="neuroprobe", choices=["neuroprobe", "synthetic"],
                   help="electrode layout and word timing: the real Brain TreeBank's (PyPI "
                        "package neuroprobe) or synthetic")
    p.add_argument("--snr", type=float, default=None, help="override the preset's SNR")
    p.add_argument("--n-subjects", type=int, default=None, help="override the preset's subjects")
    p.add_argument("--duration", type=float, default=None,
                   help="override the preset's movie duration in seconds")
    p.add_argument("--additive-frac", type=float, default=0.0,
                   help="fraction of electrodes also planted as additive vision+language "
                        "(a linear mix that must not be called a multimodal site)")
    p.add_argument("--null-frac", type=float, default=None,
                   help="fraction of electrodes left null (the rest planted in the preset's "
                        "class proportions); 1 plants nothing")
    p.add_argument("--drift-sd", type=float, default=None,
                   help="SD of the slow high-gamma envelope gain, in units of its mean "
                        "(default: the preset's, = its snr); 0 switches drift off")
    p.add_argument("--spike-frac", type=float, default=None,
                   help="fraction of electrodes with interictal-like spikes (default: the "
                        "preset's, 0.15); 0 switches spikes off")
    p.add_argument("--no-scenes", dest="scenes", action="store_false", default=None,
                   help="independent shots instead of shots nested in scenes of 1-3 min")
    p.set_defaults(func=_run_simulate)


def _run_simulate(args: argparse.Namespace) -> int:
    from .simulate import simulate_dataset

    simulate_dataset(args.out, preset=args.preset, seed=args.seed, latents=args.latents,
                     source=args.source, snr=args.snr, n_subjects=args.n_subjects,
                     duration_s=args.duration, additive_frac=args.additive_frac,
                     null_frac=args.null_frac, drift_sd=args.drift_sd,
                     spike_frac=args.spike_frac, scenes=args.scenes)
    return 0


def _add_score_sites(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score-sites",
                       help="compare the integration sites with a simulation's planted truth")
    p.add_argument("sites", help=f"the workflow's {ARTIFACTS.sites_tsv.format('results')}")
    p.add_argument("--truth", required=True, help="the simulation's ground_truth.json")
    p.set_defaults(func=_run_score_sites)


def _run_score_sites(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import pandas as pd

    from .simulate.validation import sites_against_truth

    truth_path, sites_path = Path(args.truth), Path(args.sites)
    try:
        truth = json.loads(truth_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{truth_path}: not valid JSON ({err})") from None
    subjects = [k for k in truth if k.startswith("sub")]
    if not subjects:
        raise ValueError(f"{truth_path}: no subject in this ground truth")
    for subject in subjects:
        if not isinstance(truth[subject].get("electrodes"), dict):
            raise ValueError(f"{truth_path}: subject {subject!r} has no 'electrodes' mapping")
    sites = pd.read_csv(sites_path, sep="\t")
    try:
        table = sites_against_truth(sites, truth)
    except ValueError as err:
        raise ValueError(f"{sites_path}: {err}") from None
    described = {"found": "planted multimodal: found",
                 "missed": "planted multimodal: MISSED",
                 "leakage": "not planted; next to planted {next_to} (re-reference leakage)",
                 "false": "not planted: FALSE site"}
    print(f"Integration sites against the planted truth ({truth_path}):")
    if table.empty:
        print("  (no planted multimodal electrode and no site)")
    width = max([len(e) for e in table["electrode"]] + [9])
    for row in table.itertuples(index=False):
        print(f"  {row.subject:<8} {row.electrode:<{width}} {row.region:<22} "
              f"{row.called:<26} {described[row.verdict].format(next_to=row.next_to)}")
    per_subject = ", ".join(
        f"{s} {int((g.verdict == 'found').sum())}/{int(g.verdict.isin(['found', 'missed']).sum())}"
        for s, g in table.groupby("subject"))
    n_found = int((table["verdict"] == "found").sum())
    n_planted = int(table["verdict"].isin(["found", "missed"]).sum())
    print(f"Planted multimodal electrodes found: {n_found} of {n_planted} ({per_subject}); "
          f"leakage sites: {int((table['verdict'] == 'leakage').sum())}; "
          f"false sites: {int((table['verdict'] == 'false').sum())}.")
    return 0


def _add_to_bids(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("to-bids", help="convert a Brain TreeBank-layout dataset to BIDS-iEEG")
    p.add_argument("--src", required=True, help="root of the Brain TreeBank-layout dataset")
    p.add_argument("--out", required=True, help="BIDS root to create")
    p.add_argument("--movies", default=None,
                   help="folder of the movie files, copied to stimuli/ (default: not copied)")
    p.add_argument("--subjects", nargs="+", default=None, help="default: all")
    p.add_argument("--line-freq", type=float, default=60.0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_run_to_bids)


def _run_to_bids(args: argparse.Namespace) -> int:
    from .data.to_bids import braintreebank_to_bids

    braintreebank_to_bids(args.src, args.out, movies_root=args.movies, subjects=args.subjects,
                          line_freq=args.line_freq, overwrite=args.overwrite)
    return 0


def _config(args: argparse.Namespace) -> dict:
    from .config import load_config

    return load_config(args.config)


def _add_check_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-data", help="validate the dataset a config points to")
    p.add_argument("--config", default="config.yaml", help="configuration file (YAML or JSON)")
    p.add_argument("--signal", action="store_true",
                   help="also read every channel to find NaN and flat ones (slow)")
    p.set_defaults(func=_run_check_data)


def _run_check_data(args: argparse.Namespace) -> int:
    from .data.check import check_data
    from .features.registry import get_model, language_problems

    config = _config(args)
    image_models = [m["name"] for m in config["models"] if "image" in get_model(m["name"]).inputs]
    report = check_data(config, signal=args.signal, image_models=image_models)
    report.problems += language_problems([m["name"] for m in config["models"]],
                                         config["dataset"]["language"])
    print(report.text())
    plan = ARTIFACTS.plan.path(config["results"])
    if not report.ok:
        if plan.is_file():  # the workflow must not run on a plan the dataset no longer passes
            plan.unlink()
            print(f"removed the earlier plan {plan}: the workflow runs again once check-data "
                  "passes")
        return 1
    from .data.build import write_plan

    # The dataset passed: record what the workflow will run on (Snakemake reads the plan
    # when it parses instead of opening the dataset).
    write_plan(config, plan)
    print(f"plan written: {plan} (snakemake reads it)")
    return 0


def _add_plan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan", help="write the run's plan (subjects, trials, movies) that the workflow reads",
        description="Open the dataset the config names and write the subjects, trials and "
                    "movies a run covers to results/.neuroalign/plan.json. Snakemake reads "
                    "it when it parses the workflow instead of opening the dataset; "
                    "check-data writes it too when the dataset passes. Run it again after "
                    "changing the config's dataset section or adding recordings.")
    p.add_argument("--config", default="config.yaml", help="configuration file (YAML or JSON)")
    p.add_argument("--out", default=None,
                   help="plan file (default: .neuroalign/plan.json under the config's results)")
    p.set_defaults(func=_run_plan)


def _run_plan(args: argparse.Namespace) -> int:
    from .data.build import write_plan

    config = _config(args)
    try:
        write_plan(config, args.out)
    except (FileNotFoundError, ValueError) as err:
        # A dataset the config cannot read: its message, not a traceback.
        print(f"neuroalign plan: {err}\n`neuroalign check-data --config {args.config}` lists "
              "every problem found.", file=sys.stderr)
        return 1
    return 0


def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="data stage: events, electrodes, responses")
    dsub = p.add_subparsers(dest="data_command", required=True)
    ev = dsub.add_parser("events", help="events table of one movie and alignment")
    ev.add_argument("--movie", required=True)
    ev.add_argument("--alignment", required=True, choices=["language", "vision"])
    el = dsub.add_parser("electrodes", help="electrode table of one subject")
    el.add_argument("--subject", required=True)
    rs = dsub.add_parser("responses", help="windowed responses of one subject, every alignment")
    rs.add_argument("--subject", required=True)
    rs.add_argument("--alignment", required=True, nargs="+", choices=["language", "vision"])
    rs.add_argument("--electrodes", required=True, help="the subject's electrodes.parquet")
    rs.add_argument("--events-dir", required=True,
                    help="folder of {movie}/events/{alignment}.parquet tables")
    for q in (ev, el, rs):
        q.add_argument("--config", default="config.yaml", help="configuration file")
    for q in (ev, el):
        q.add_argument("--out", required=True, help="output file (written atomically)")
    rs.add_argument("--out", required=True, nargs="+",
                    help="one output file per --alignment, same order (written atomically)")
    ev.set_defaults(func=_run_events)
    el.set_defaults(func=_run_electrodes)
    rs.set_defaults(func=_run_responses)


def _run_events(args: argparse.Namespace) -> int:
    from .data.build import write_events

    write_events(_config(args), args.movie, args.alignment, args.out)
    return 0


def _run_electrodes(args: argparse.Namespace) -> int:
    from .data.build import write_electrodes

    write_electrodes(_config(args), args.subject, args.out)
    return 0


def _run_responses(args: argparse.Namespace) -> int:
    from .data.build import write_responses

    write_responses(_config(args), args.subject, args.alignment, args.electrodes,
                    args.events_dir, args.out, verbose=not args.quiet)
    return 0


def _add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print a config with every default filled in")
    p.add_argument("--config", default="config.yaml")
    p.set_defaults(func=_run_config)


def _run_config(args: argparse.Namespace) -> int:
    import yaml

    print(yaml.safe_dump(_config(args), sort_keys=False), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuroalign", description=__doc__)
    parser.add_argument("--version", action="version", version=f"neuroalign {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_score_sites(sub)
    _add_to_bids(sub)
    _add_check_data(sub)
    _add_plan(sub)
    _add_data(sub)
    from .encoding.cli import add_parser as add_encoding
    from .features.cli import add_parser as add_features
    from .report.cli import add_parser as add_report
    from .stats.cli import add_parser as add_stats

    add_features(sub)
    add_encoding(sub)
    add_stats(sub)
    add_report(sub)
    _add_config(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_log_level(False if args.quiet else True)
    keep_freed_memory()  # each command is one short batch job (utils.keep_freed_memory)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, OSError, ImportError) as err:
        logger.error("%s", err)
        print(f"neuroalign: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
