"""The stats stage's job: one subject's encoding outputs -> comparisons and sites tables.

``run_stats`` reads every encoding output of a subject (all models, inits, alignments),
checks that the outputs compared within an alignment come from the same responses, events
and blocks, computes responsive bins, the paired block-swap comparisons and the site classes,
and writes ``stats/comparisons.parquet`` and ``stats/sites.parquet`` (DESIGN.md §4, §6).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..config import config_hash
from ..encoding.build import read_encoding
from ..io import read_parquet_checked, relative_to_results, write_parquet
from ..utils import logger
from .comparisons import check_blocks, responsive_bins
from .sites import classify_alignment, combine_alignments, compare_alignment, model_roles

__all__ = ["load_encodings", "check_compatible", "compute_stats", "run_stats",
           "SITES_BASE_COLUMNS"]

SITES_BASE_COLUMNS = ["electrode", "region", "x", "y", "z", "class"]


def load_encodings(paths: list[str | os.PathLike]) -> dict[str, dict[tuple[str, str], dict]]:
    """Read encoding outputs, grouped by alignment and keyed by (model, init).

    Each output dict gains ``path``. Two files for the same alignment, model and init are
    refused.
    """
    out: dict[str, dict[tuple[str, str], dict]] = {}
    for path in paths:
        enc = read_encoding(path)
        enc["path"] = str(path)
        a = enc["attrs"]
        key = (str(a["model"]), str(a["init"]))
        group = out.setdefault(str(a["alignment"]), {})
        if key in group:
            raise ValueError(f"{group[key]['path']} and {path}: both are encodings of model "
                             f"{key[0]!r} ({key[1]}) for alignment {a['alignment']!r}.")
        group[key] = enc
    return out


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
    n_perm, fdr_q = int(st["n_permutations"]), float(st["fdr_q"])
    frames, per_alignment = [], {}
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
        responsive = responsive_bins(trained, fdr_q, int(st["min_bins"]))
        comp = compare_alignment(trained, random, roles, responsive, alignment,
                                 n_permutations=n_perm, fdr_q=fdr_q, seed=int(config["seed"]),
                                 subject=subject)
        frames.append(comp)
        per_alignment[alignment] = classify_alignment(comp, trained, roles, responsive,
                                                      alignment, fdr_q)
    comparisons = pd.concat(frames, ignore_index=True)
    evidence = pd.concat(per_alignment.values(), axis=1)
    cls = combine_alignments(per_alignment)
    sites = pd.concat([cls, evidence], axis=1).rename_axis("electrode").reset_index()
    return comparisons, sites


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
    coords = table.set_index("name")[["region", "x", "y", "z"]]
    sites = sites.join(coords, on="electrode")
    sites = sites[SITES_BASE_COLUMNS + [c for c in sites.columns if c not in SITES_BASE_COLUMNS]]
    meta = {"subject": subject, "neuroalign_version": __version__, "seed": config["seed"],
            "config_hash": config_hash(config, ["stats", "sites", "seed"]),
            "encodings": sorted(relative_to_results(p, config["results"]) for p in encodings)}
    write_parquet(comparisons, out_comparisons, metadata=meta)
    write_parquet(sites, out_sites, metadata=meta)
    counts = sites["class"].value_counts().to_dict()
    logger.info("stats %s: sites %s -> %s", subject, counts, out_sites)
    return {"classes": counts, "n_tests": len(comparisons)}
