"""The stats stage's job: one subject's encoding outputs -> comparisons and sites tables.

``run_stats`` reads every encoding output of a subject (all models, inits, alignments),
checks that the outputs compared within an alignment come from the same responses, events
and blocks, computes responsive bins, the paired block-swap comparisons and the site classes,
and writes ``stats/comparisons.parquet`` and ``stats/sites.parquet`` (docs/DESIGN.md §4, §6), with
per-subject BH q and classes. ``run_pool`` (``neuroalign stats pool``) stacks every subject's
sites table, applies BH to each claim's p across all electrodes of all subjects and assigns
the final classes from those pooled q (``results/stats/sites.parquet``), which the reports
show.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..artifacts import (
    POOLED_BASE_COLUMNS,
    SITES_BASE_COLUMNS,
    group_encodings,
    output_electrodes,
    read_encoding,
    read_sites,
)
from ..config import config_hash
from ..io import read_parquet_checked, read_parquet_metadata, relative_to_results, write_parquet
from ..utils import logger
from .comparisons import bh_fdr, check_blocks, responsive_bins
from .sites import (
    assign_classes,
    claim_columns,
    classify_alignment,
    combine_alignments,
    compare_alignment,
    model_roles,
    q_column,
)

__all__ = ["load_encodings", "check_compatible", "compute_stats", "run_stats", "pool_sites",
           "run_pool", "sites_alignments", "SITES_BASE_COLUMNS", "POOLED_BASE_COLUMNS"]


def load_encodings(paths: list[str | os.PathLike]) -> dict[str, dict[tuple[str, str], dict]]:
    """Read encoding outputs, grouped by alignment and keyed by (model, init).

    Each output dict gains ``path``. Two files for the same alignment, model and init are
    refused.
    """
    encodings = []
    for path in paths:
        enc = read_encoding(path)
        enc["path"] = str(path)
        encodings.append(enc)
    return group_encodings(encodings)


def _differ(ref: dict, enc: dict) -> str | None:
    ra, ea = ref["attrs"], enc["attrs"]
    for k in ("subject", "config_hash", "responses_config_hash"):
        if k in ra and k in ea and str(ra[k]) != str(ea[k]):
            return f"attribute {k!r} differs ({ra[k]!r} vs {ea[k]!r})"
    if ref["electrodes"] != enc["electrodes"]:
        return "the electrodes differ"
    for k in ("event_id", "trial", "movie", "block_trial"):
        if ref[k].shape != enc[k].shape or not np.array_equal(ref[k], enc[k]):
            return f"'{k}' differs (different event sets or blocks)"
    a, b = ref["blockstats"], enc["blockstats"]
    if a.shape != b.shape:
        return f"blockstats shapes differ {a.shape} vs {b.shape} (different blocks or bins)"
    if not np.array_equal(a[:, 0], b[:, 0]):
        return "the events per block differ (different block structure)"
    if not np.allclose(a[:, 1:3], b[:, 1:3], rtol=1e-9, atol=1e-9):
        return "the responses' block sums differ (different responses)"
    return None


def check_compatible(group: dict[Any, dict]) -> None:
    """Refuse encodings of one alignment that are not on the same responses, events and blocks.

    Raises ValueError naming both files and what differs.
    """
    encs = list(group.values())
    for enc in encs[1:]:
        why = _differ(encs[0], enc)
        if why:
            raise ValueError(f"{encs[0]['path']} and {enc['path']} cannot be compared: {why}. "
                             "Encoding outputs from different configs, responses or event sets "
                             "were mixed; rerun the encoding stage with one config.")


def compute_stats(config: dict[str, Any], subject: str,
                  encodings: dict[str, dict[tuple[str, str], dict]]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Comparisons and per-alignment site evidence from loaded encodings.

    Parameters
    ----------
    config : dict
        Validated configuration (``stats``, ``sites``, ``seed``).
    subject : str
    encodings : dict
        ``load_encodings`` output.

    Returns
    -------
    comparisons : DataFrame
        ``COMPARISON_COLUMNS``.
    sites : DataFrame
        ``electrode, class`` and the per-alignment evidence columns (no coordinates).
    """
    st = config["stats"]
    n_perm, fdr_q, min_bins = int(st["n_permutations"]), float(st["fdr_q"]), int(st["min_bins"])
    frames, tables, model_p, resp_p = [], {}, {}, {}
    for alignment in sorted(encodings):
        group = encodings[alignment]
        check_compatible(group)
        first = next(iter(group.values()))
        check_blocks(first["blockstats"].shape[0], n_perm, first["path"])
        trained = {m: e for (m, init), e in group.items() if init == "trained"}
        random = {m: e for (m, init), e in group.items() if init == "random"}
        roles = model_roles(config.get("sites", {}), trained)
        for m in roles["multimodal"]:
            if m not in random:
                raise ValueError(f"Multimodal model {m!r} has no random twin for alignment "
                                 f"{alignment!r}; a site needs it. Random twins run: "
                                 f"{sorted(random)}.")
        responsive = responsive_bins(trained, fdr_q, min_bins)
        comp = compare_alignment(trained, random, roles, alignment, n_permutations=n_perm,
                                 fdr_q=fdr_q, min_bins=min_bins, seed=int(config["seed"]),
                                 subject=subject)
        frames.append(comp)
        tables[alignment], model_p[alignment], resp_p[alignment] = classify_alignment(
            comp, trained, random, roles, responsive, alignment)
    comparisons = pd.concat(frames, ignore_index=True)
    aligns = list(tables)
    shapes = {a: model_p[a].shape[0] for a in aligns}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"Subject {subject!r}: the alignments have different numbers of "
                         f"multimodal models ({shapes}); a site needs the same models in every "
                         "alignment (sites.multimodal_models).")
    sites = pd.concat([combine_alignments(model_p, tables, resp_p), *tables.values()], axis=1)
    for col in claim_columns(aligns):
        sites[q_column(col, "subject_q")] = bh_fdr(sites[col].to_numpy(np.float64))
    sites = pd.concat([assign_classes(sites, aligns, fdr_q, kind="subject_q"), sites], axis=1)
    _warn_resolution(subject, len(roles["multimodal"]), n_perm, len(sites), fdr_q)
    return comparisons, sites.rename_axis("electrode").reset_index()


def _warn_resolution(subject: str, n_multimodal: int, n_perm: int, n_electrodes: int,
                     fdr_q: float) -> None:
    """Say when the swap p's resolution, after Bonferroni over models, starves the BH step."""
    if not n_multimodal:
        return
    floor = min(1.0, n_multimodal / (n_perm + 1))  # smallest site p
    need = math.ceil(floor * n_electrodes / fdr_q - 1e-9)
    if need > 1:
        logger.warning(
            "stats %s: with %d multimodal models and %d permutations the smallest site p is "
            "%.2g, so BH at q = %g over %d electrodes (more once pooled over subjects) calls a "
            "site only where at least %d electrodes reach that floor; stats.n_permutations >= "
            "%d lets a single site through.", subject, n_multimodal, n_perm, floor, fdr_q,
            n_electrodes, need, math.ceil(n_multimodal * n_electrodes / fdr_q))


def run_stats(config: dict[str, Any], subject: str, encodings: list[str | os.PathLike],
              electrodes: str | os.PathLike, out_comparisons: str | os.PathLike,
              out_sites: str | os.PathLike) -> dict[str, Any]:
    """The stats job of one subject: write ``comparisons.parquet`` and ``sites.parquet``.

    Parameters
    ----------
    config : dict
        Validated configuration.
    subject : str
    encodings : list of path-like
        Every ``encoding/{model}/{init}/{alignment}.h5`` of the subject.
    electrodes : path-like
        The subject's ``electrodes.parquet`` (for region and coordinates).
    out_comparisons, out_sites : path-like
        Outputs (written atomically).

    Returns
    -------
    summary : dict
        Counts of sites per class.
    """
    loaded = load_encodings(encodings)
    comparisons, sites = compute_stats(config, subject, loaded)
    table = read_parquet_checked(electrodes, ["name", "region", "x", "y", "z"])
    sites = sites.join(output_electrodes(table, sites["electrode"], ["region", "x", "y", "z"]),
                       on="electrode")
    sites = sites[SITES_BASE_COLUMNS + [c for c in sites.columns if c not in SITES_BASE_COLUMNS]]
    meta = {"subject": subject, "neuroalign_version": __version__, "seed": config["seed"],
            "config_hash": config_hash(config, ["stats", "sites", "seed"]),
            "encodings": sorted(relative_to_results(p, config["results"]) for p in encodings)}
    write_parquet(comparisons, out_comparisons, metadata=meta)
    write_parquet(sites, out_sites, metadata=meta)
    counts = sites["class"].value_counts().to_dict()
    logger.info("stats %s: sites %s -> %s", subject, counts, out_sites)
    return {"classes": counts, "n_tests": len(comparisons)}


def sites_alignments(sites: pd.DataFrame) -> list[str]:
    """The alignments of a sites table, from its ``{a}_p_multimodal`` columns."""
    return sorted(c[: -len("_p_multimodal")] for c in sites.columns
                  if c.endswith("_p_multimodal"))


def pool_sites(per_subject: dict[str, pd.DataFrame], fdr_q: float = 0.05) -> pd.DataFrame:
    """Stack the subjects' sites tables and classify from BH q pooled over all electrodes.

    For every claim p column (``claim_columns``) BH runs once across every electrode of
    every subject; ``class`` and ``{a}_class`` are then assigned from those q
    (``assign_classes``). The per-subject classes stay as ``subject_class`` and
    ``{a}_subject_class``, the per-subject q as ``subject_q_*`` columns.

    Parameters
    ----------
    per_subject : dict of str to DataFrame
        Subject -> its ``stats/sites.parquet`` table (same alignments in all).
    fdr_q : float

    Returns
    -------
    pooled : DataFrame
        ``POOLED_BASE_COLUMNS``, the pooled ``q_*`` / ``{a}_q_*`` columns, then the rest of
        the per-subject columns; one row per subject x electrode.
    """
    if not per_subject:
        raise ValueError("pool_sites needs at least one subject's sites table.")
    frames, aligns = [], None
    for subject, table in per_subject.items():
        a = sites_alignments(table)
        if aligns is None:
            aligns = a
        elif a != aligns:
            raise ValueError(f"Subject {subject!r} has alignments {a}, another subject "
                             f"{aligns}; pool sites tables of one config.")
        missing = [c for c in claim_columns(a) + SITES_BASE_COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"The sites table of subject {subject!r} lacks the columns "
                             f"{missing}; rerun its stats job with this neuroalign version.")
        t = table.copy()
        t = t.rename(columns={"class": "subject_class",
                              **{f"{al}_class": f"{al}_subject_class" for al in a}})
        t.insert(0, "subject", str(subject))
        frames.append(t)
    pooled = pd.concat(frames, ignore_index=True)
    qcols = []
    for col in claim_columns(aligns):
        qcols.append(q_column(col))
        pooled[qcols[-1]] = bh_fdr(pooled[col].to_numpy(np.float64))
    pooled = pd.concat([pooled, assign_classes(pooled, aligns, fdr_q, kind="q")], axis=1)
    lead = POOLED_BASE_COLUMNS + [f"{a}_class" for a in aligns] + qcols
    return pooled[lead + [c for c in pooled.columns if c not in lead]]


def run_pool(config: dict[str, Any], sites: list[str | os.PathLike],
             out: str | os.PathLike) -> dict[str, Any]:
    """The pooled stats job: every subject's ``stats/sites.parquet`` -> ``stats/sites.parquet``.

    Parameters
    ----------
    config : dict
        Validated configuration (``stats.fdr_q``).
    sites : list of path-like
        Each subject's sites table (its subject is read from the file's metadata).
    out : path-like
        The pooled table (written atomically).

    Returns
    -------
    summary : dict
        ``classes``: counts of the pooled classes; ``n_electrodes``.
    """
    per_subject: dict[str, pd.DataFrame] = {}
    for path in sites:
        meta = read_parquet_metadata(path)
        if "subject" not in meta:
            raise ValueError(f"{path}: no 'subject' in its metadata; is it a stats/sites.parquet "
                             "written by `neuroalign stats run`?")
        subject = str(meta["subject"])
        if subject in per_subject:
            raise ValueError(f"{path}: subject {subject!r} given twice to the pool job.")
        per_subject[subject] = read_sites(path)
    pooled = pool_sites(per_subject, float(config["stats"]["fdr_q"]))
    meta = {"neuroalign_version": __version__, "seed": config["seed"],
            "config_hash": config_hash(config, ["stats", "sites", "seed"]),
            "subjects": sorted(per_subject),
            "sites": sorted(relative_to_results(p, config["results"]) for p in sites)}
    write_parquet(pooled, out, metadata=meta)
    counts = pooled["class"].value_counts().to_dict()
    logger.info("stats pool: %d subjects, %d electrodes, classes %s -> %s", len(per_subject),
                len(pooled), counts, out)
    return {"classes": counts, "n_electrodes": len(pooled)}
