"""Run the whole chain on a simulated dataset with the ``sim-*`` controls as the models.

The controls carry exactly the simulator's latents (docs/DESIGN.md §5), so what the statistics
call a site can be scored against ``ground_truth.json``: the calibration tests and the power
curve (``benchmarks/power_curve.py``) use this. Everything runs in-process through the same
package functions the workflow's rules call.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import ARTIFACTS, output_contacts
from ..config import validate_config
from ..data.build import write_electrodes, write_events, write_responses
from ..encoding.build import fit_baseline, fit_encoding
from ..features.extract import extract_features
from ..stats import run_stats
from ..utils import natural_key
from ._core import simulate_dataset

__all__ = ["CONTROLS", "run_control_chain", "score_sites", "sites_against_truth"]

CONTROLS = ("sim-vision", "sim-language", "sim-multimodal")
_UNIMODAL = ["sim-vision", "sim-language"]


def run_control_chain(root: str | os.PathLike, *, seed: int = 0, duration_s: float = 150.0,
                      snr: float | None = None, additive_frac: float = 0.0,
                      config: dict[str, Any] | None = None,
                      alignments: tuple[str, ...] = ("language", "vision"),
                      structure: dict[str, Any] | None = None, preset: str = "tiny",
                      latents: str = "random") -> dict[str, Any]:
    """Simulate one subject (the first of ``preset``) and run data, features, encoding and
    stats on it.

    Parameters
    ----------
    root : path-like
        Work folder: ``ds/`` (the dataset) and ``out/``, the results folder, laid out as
        the workflow's (``neuroalign.artifacts.ARTIFACTS``).
    seed : int
        Seed of the simulation and of the controls' random twins.
    duration_s : float
        Movie length.
    snr : float or None
        Modulation depth of planted electrodes (None: the preset's; 0: a global null).
    additive_frac : float
        Fraction of electrodes planted as additive ``vision+language``.
    config : dict or None
        Config overrides (e.g. ``{"events": {"block_s": 10}}``); dataset paths are set here.
    alignments : tuple of str
    structure : dict or None
        Keyword arguments of ``simulate_dataset`` for the realistic structure
        (``drift_sd``, ``spike_frac``, ``scenes``); None keeps the preset's.
    preset : {"tiny", "demo", "paper"}
        The simulation preset (its electrodes, classes, default SNR and structure).
    latents : {"random", "content"}
        The simulator's content latents (``simulate_dataset``); ``random`` is faster.

    Returns
    -------
    run : dict
        ``config``, ``truth`` (the subject's ground truth), ``encodings`` (list of paths),
        ``electrodes``, ``comparisons`` and ``sites`` (parquet paths).
    """
    root = Path(root)
    ds, out = root / "ds", root / "out"
    simulate_dataset(ds, preset=preset, seed=seed, latents=latents, snr=snr, n_subjects=1,
                     duration_s=duration_s, additive_frac=additive_frac, **(structure or {}))
    cfg = validate_config({**(config or {}), "dataset": {"root": str(ds)},
                           "movies": {"root": str(ds / "movies"),
                                      "scene_cuts": str(ds / "scene_cuts")},
                           "results": str(out), "seed": seed})
    truth = json.loads((ds / "ground_truth.json").read_text())
    subject, movie = "sub_1", next(iter(truth["latents"]))
    A = ARTIFACTS
    events_dir = A.events.folder_path(out)
    for al in alignments:
        write_events(cfg, movie, al, A.events.path(out, movie=movie, alignment=al))
    electrodes = A.electrodes.path(out, subject=subject)
    write_electrodes(cfg, subject, electrodes)
    write_responses(cfg, subject, list(alignments), electrodes, events_dir,
                    [A.responses.path(out, subject=subject, alignment=al) for al in alignments])

    def encoding(model: str, init: str, al: str) -> Path:
        return A.encoding.path(out, subject=subject, model=model, init=init, alignment=al)

    encodings = []
    for al in alignments:
        responses = A.responses.path(out, subject=subject, alignment=al)
        events = A.events.path(out, movie=movie, alignment=al)
        for model in CONTROLS:
            for init in ("trained", "random"):
                extract_features(model, init, events, ds / "movies",
                                 A.features.path(out, model=model, init=init, movie=movie,
                                                 alignment=al),
                                 dataset_root=ds, seed=seed, verbose=False)
                encodings.append(encoding(model, init, al))
                fit_encoding(cfg, subject, model, init, al, responses,
                             A.features.folder_path(out, model=model, init=init), events_dir,
                             encodings[-1])
        for kind in cfg["sites"]["linear_baselines"]:
            encodings.append(encoding(kind, "trained", al))
            fit_baseline(cfg, subject, kind, al, _UNIMODAL,
                         [encoding(m, "trained", al) for m in _UNIMODAL],
                         [A.features.folder_path(out, model=m, init="trained")
                          for m in _UNIMODAL], responses, events_dir, encodings[-1])
    comparisons = A.comparisons.path(out, subject=subject)
    sites = A.sites.path(out, subject=subject)
    run_stats(cfg, subject, encodings, electrodes, comparisons, sites)
    return {"config": cfg, "truth": truth[subject], "encodings": encodings,
            "electrodes": electrodes, "comparisons": comparisons, "sites": sites}


def _planted_kind(output: str, truth: dict[str, Any]) -> str:
    """What was planted in an output: a pair carries its contacts' signals (multimodal first)."""
    kinds = [truth["electrodes"].get(c, "null") for c in output_contacts(output, truth["electrodes"])]
    for kind in ("multimodal", "vision+language", "vision", "language"):
        if kind in kinds:
            return kind
    return kinds[0]


def _next_to_planted(output: str, truth: dict[str, Any]) -> list[str]:
    """The planted same-shaft neighbours of an output's contacts (``adjacent_to_planted``)."""
    adjacent = truth.get("adjacent_to_planted", {})
    return [n for c in output_contacts(output, truth["electrodes"]) for n in adjacent.get(c, [])]


def score_sites(sites: pd.DataFrame, truth: dict[str, Any]) -> dict[str, float]:
    """Recall and false-discovery proportion of the site classes against the ground truth.

    A null contact next to a planted one carries its high gamma through the Laplacian
    (``adjacent_to_planted``): calling it is not counted as a false discovery.

    Parameters
    ----------
    sites : DataFrame
        ``stats/sites.parquet``.
    truth : dict
        One subject's ground truth (``electrodes``, ``adjacent_to_planted``).

    Returns
    -------
    scores : dict
        ``multimodal_recall`` (both alignments), ``multimodal_recall_{alignment}``,
        ``multimodal_fdp``, ``n_multimodal_called``, ``vision_recall``, ``language_recall``.
    """
    table = sites.set_index("electrode")
    # A pair output "A-B" (bipolar, an isolated clean pair) carries its contacts' signals:
    # the false-discovery proportion is over outputs, recall over planted contacts (a
    # contact found through any output holding it, once, though bipolar puts it in two).
    kind = table.index.map(lambda e: _planted_kind(e, truth))
    adjacent = np.array([bool(_next_to_planted(e, truth)) for e in table.index], bool)
    called = (table["class"] == "multimodal").to_numpy()
    false = called & (kind != "multimodal") & ~adjacent
    holders: dict[str, list[int]] = {}
    for i, output in enumerate(table.index):
        for contact in output_contacts(output, truth["electrodes"]):
            holders.setdefault(contact, []).append(i)

    def recall(kind_of_contact: str, hit: np.ndarray) -> float:
        found = [hit[holders[c]].any() for c, k in truth["electrodes"].items()
                 if k == kind_of_contact and c in holders]
        return float(np.mean(found)) if found else float("nan")

    scores = {"multimodal_recall": recall("multimodal", called),
              "multimodal_fdp": float(false.sum() / max(called.sum(), 1)),
              "n_multimodal_called": int(called.sum())}
    for col in table.columns:
        if col.endswith("_class") and col != "class":
            al = col[: -len("_class")]
            scores[f"multimodal_recall_{al}"] = recall(
                "multimodal", (table[col] == "multimodal").to_numpy())
    for k in ("vision", "language"):
        scores[f"{k}_recall"] = recall(k, (table["class"] == k).to_numpy())
    return scores


def sites_against_truth(sites: pd.DataFrame, truth: dict[str, Any]) -> pd.DataFrame:
    """Each integration site and each planted multimodal electrode, with what the truth says.

    Parameters
    ----------
    sites : DataFrame
        The workflow's ``results/sites.tsv`` (``subject``, ``electrode``, ``class``, and
        ``region`` when known), every subject.
    truth : dict
        The simulation's ``ground_truth.json``.

    Returns
    -------
    DataFrame
        One row per electrode that is a site (class ``multimodal``) or a planted
        multimodal contact, in subject and electrode order: ``subject``, ``electrode``,
        ``region``, ``called`` (its class in ``sites.tsv``; ``"not responsive"`` when absent),
        ``planted`` (its class in the truth), ``next_to`` (planted same-shaft neighbours,
        comma-separated) and ``verdict``: ``found`` (planted multimodal, called), ``missed``
        (planted multimodal, not called), ``leakage`` (a null called next to a planted
        contact: local re-referencing carries its neighbour's signal) or ``false``
        (called anywhere else).
    """
    missing = {"subject", "electrode", "class"} - set(sites.columns)
    if missing:
        raise ValueError(f"the sites table lacks the column(s) {sorted(missing)}")
    rows = []
    for subject in sorted(k for k in truth if k.startswith("sub")):
        mine_truth = truth[subject]
        planted = mine_truth["electrodes"]
        mine = sites[sites["subject"].astype(str) == subject].set_index("electrode")
        called = set(mine.index[mine["class"] == "multimodal"])
        # A planted contact inside an output pair "A-B" is listed under that pair: under a
        # called one if any holds it (bipolar puts a contact in two), else the first.
        holders: dict[str, list[str]] = {}
        for e in mine.index:
            for c in output_contacts(e, planted):
                holders.setdefault(c, []).append(e)
        planted_outputs = {next((e for e in holders.get(c, []) if e in called),
                                holders.get(c, [c])[0])
                           for c, k in planted.items() if k == "multimodal"}
        for electrode in sorted(called | planted_outputs, key=natural_key):
            kind = _planted_kind(electrode, mine_truth)
            if kind == "multimodal":
                verdict = "found" if electrode in called else "missed"
            else:
                verdict = "leakage" if _next_to_planted(electrode, mine_truth) else "false"
            known = electrode in mine.index
            rows.append({
                "subject": subject, "electrode": electrode,
                "region": str(mine.at[electrode, "region"]) if known and "region" in mine else "",
                "called": str(mine.at[electrode, "class"]) if known else "not responsive",
                "planted": kind, "next_to": ",".join(_next_to_planted(electrode, mine_truth)),
                "verdict": verdict})
    return pd.DataFrame(rows, columns=["subject", "electrode", "region", "called", "planted",
                                       "next_to", "verdict"])
