"""Which comparisons to run, running them for one alignment, and classifying the sites.

Model names in the tables: a trained fit is named by its model (``sim-vision``), a random
twin by ``{model}/random``, the baselines by ``concat`` / ``banded``.

Comparisons (DESIGN.md §6), one-sided ``A > B`` on the mean Δr over each responsive
electrode's responsive bins, BH-FDR per (alignment, comparison, model_a) across electrodes:

``trained-vs-random``            every model with a random twin vs that twin
``multimodal-vs-best-vision``    each multimodal model vs, per electrode, the vision model
                                 with the highest mean r over its responsive bins
``multimodal-vs-best-language``  the same with the language models
``multimodal-vs-concat``         each multimodal model vs each configured linear baseline
``multimodal-vs-banded``
``slip-combo-vs-slip-simclr``    ``slip-combo.vision`` vs ``slip-simclr.vision`` when both ran
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..utils import logger
from .comparisons import bh_fdr, electrode_swap_test, mean_r_over_bins, stats_seed

__all__ = ["model_roles", "compare_alignment", "classify_alignment", "combine_alignments",
           "COMPARISON_COLUMNS", "CRITERIA"]

COMPARISON_COLUMNS = ["alignment", "comparison", "model_a", "model_b", "electrode", "n_bins",
                      "delta_r", "p", "q", "significant"]
# Criterion -> comparison a multimodal model must win for a site (baselines added per config).
CRITERIA = {"random": "trained-vs-random", "vision": "multimodal-vs-best-vision",
            "language": "multimodal-vs-best-language"}
SLIP_PAIR = ("slip-combo.vision", "slip-simclr.vision")


def _twin(model: str) -> str:
    return f"{model}/random"


def model_roles(sites: dict[str, Any], trained: dict[str, dict]) -> dict[str, list[str]]:
    """Vision, language and multimodal models and the linear baselines of one alignment.

    Parameters
    ----------
    sites : dict
        The config's ``sites`` section. Empty model lists are derived from each trained
        encoding's ``modality`` attribute (``vision``, ``language``, ``multimodal``).
    trained : dict of str to dict
        Model -> trained encoding output.

    Returns
    -------
    roles : dict
        ``vision``, ``language``, ``multimodal``, ``baselines``: lists of model names.
    """
    ran = sorted(trained)
    roles: dict[str, list[str]] = {}
    for kind in ("vision", "language", "multimodal"):
        listed = list(sites.get(f"{kind}_models") or [])
        if not listed:
            listed = [m for m in ran if str(trained[m]["attrs"].get("modality", "")) == kind]
        roles[kind] = listed
    roles["baselines"] = list(sites.get("linear_baselines", ["concat", "banded"]))
    needed = [m for kind in ("vision", "language", "multimodal") for m in roles[kind]]
    if roles["multimodal"]:
        needed += roles["baselines"]
    for m in needed:
        if m not in trained:
            raise ValueError(f"The sites configuration names model {m!r}, which was not run "
                             f"(no trained encoding output); models run: {ran}.")
    return roles


def _rows(alignment, comparison, model_a, model_b, names, n_bins, delta, p, mask) -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    b = model_b[idx] if isinstance(model_b, np.ndarray) else [model_b] * idx.size
    return pd.DataFrame({"alignment": alignment, "comparison": comparison, "model_a": model_a,
                         "model_b": b, "electrode": [names[i] for i in idx],
                         "n_bins": n_bins[idx].astype(np.int64), "delta_r": delta[idx],
                         "p": p[idx]})


def compare_alignment(trained: dict[str, dict], random: dict[str, dict], roles: dict,
                      responsive: dict, alignment: str, *, n_permutations: int = 1000,
                      fdr_q: float = 0.05, seed: int = 0, subject: str = "") -> pd.DataFrame:
    """Every configured paired comparison of one subject and alignment.

    Parameters
    ----------
    trained, random : dict of str to dict
        Model -> encoding output of its trained fit / its random twin (baselines in ``trained``).
    roles : dict
        From ``model_roles``.
    responsive : dict
        From ``responsive_bins``; only responsive electrodes are tested, over their
        responsive bins.
    alignment : str
    n_permutations : int
    fdr_q : float
    seed : int
    subject : str
        Only seeds the swap matrices.

    Returns
    -------
    comparisons : DataFrame
        ``COMPARISON_COLUMNS``; one row per comparison x model_a x responsive electrode.
    """
    names = responsive["names"]
    bins = responsive["bins"] & responsive["electrodes"][:, None]
    n_bins = bins.sum(axis=1)
    tested = responsive["electrodes"]

    def sums(enc):
        return enc["blockstats"]

    def test(comparison, model_a, sums_a, sums_b, mask, *key):
        # One swap matrix per (comparison, model_a, key): shared by all electrodes.
        rng = np.random.default_rng(stats_seed(seed, subject, alignment, comparison, model_a,
                                               *key))
        return electrode_swap_test(sums_a, sums_b, bins & mask[:, None], n_permutations, rng)

    frames = []
    for m in sorted(trained):
        if m in random:
            d, p = test("trained-vs-random", m, sums(trained[m]), sums(random[m]), tested)
            frames.append(_rows(alignment, "trained-vs-random", m, _twin(m), names, n_bins, d,
                                p, tested))
    for m in roles["multimodal"]:
        for kind in ("vision", "language"):
            pool = [u for u in roles[kind] if u != m]
            if not pool:
                continue
            comparison = f"multimodal-vs-best-{kind}"
            mean_r = np.stack([mean_r_over_bins(trained[u]["r"], bins) for u in pool])
            best = np.asarray(pool, dtype=object)[np.argmax(mean_r, axis=0)]
            d, p = np.full(len(names), np.nan), np.full(len(names), np.nan)
            for u in pool:  # same seed for every competitor: one swap matrix per comparison
                mask = tested & (best == u)
                if mask.any():
                    du, pu = test(comparison, m, sums(trained[m]), sums(trained[u]), mask)
                    d[mask], p[mask] = du[mask], pu[mask]
            frames.append(_rows(alignment, comparison, m, best, names, n_bins, d, p, tested))
        for base in roles["baselines"]:
            comparison = f"multimodal-vs-{base}"
            d, p = test(comparison, m, sums(trained[m]), sums(trained[base]), tested)
            frames.append(_rows(alignment, comparison, m, base, names, n_bins, d, p, tested))
    if all(s in trained for s in SLIP_PAIR):
        a, b = SLIP_PAIR
        d, p = test("slip-combo-vs-slip-simclr", a, sums(trained[a]), sums(trained[b]), tested)
        frames.append(_rows(alignment, "slip-combo-vs-slip-simclr", a, b, names, n_bins, d, p,
                            tested))
    if not frames:
        return pd.DataFrame({c: [] for c in COMPARISON_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["q"] = np.nan
    for _, idx in out.groupby(["comparison", "model_a"], sort=False).groups.items():
        out.loc[idx, "q"] = bh_fdr(out.loc[idx, "p"].to_numpy())
    out["significant"] = (out["q"] < fdr_q) & (out["delta_r"] > 0)
    logger.info("stats %s %s: %d responsive electrodes, %d tests, %d significant", subject,
                alignment, int(tested.sum()), len(out), int(out["significant"].sum()))
    return out[COMPARISON_COLUMNS]


def classify_alignment(comparisons: pd.DataFrame, trained: dict[str, dict], roles: dict,
                       responsive: dict, alignment: str, fdr_q: float = 0.05) -> pd.DataFrame:
    """Per-electrode class and evidence in one alignment.

    ``multimodal``: some multimodal model beats its random twin, the best vision model, the
    best language model and every configured linear baseline (q < ``fdr_q``, Δr > 0 each);
    a missing comparison (e.g. no language model) fails its criterion. Otherwise, for a
    responsive electrode, ``vision`` / ``language`` when the unimodal model with the highest
    mean r over its responsive bins is of that modality and beats its random twin (when it
    has one; q < ``fdr_q``), else ``responsive``; ``none`` when not responsive.

    Returns
    -------
    table : DataFrame
        Indexed by electrode; columns prefixed ``{alignment}_``: ``class``, ``n_bins``,
        ``model`` (multimodal model reported: the best passing one, else the best by mean r),
        ``mean_r``, per criterion ``vs_{criterion}_model``, ``_delta_r``, ``_q``,
        ``best_unimodal``, ``best_unimodal_r``, ``residual_autocorr`` (max over the
        responsive bins of the reported model's lag-1 residual block correlation).
    """
    names = responsive["names"]
    bins = responsive["bins"] & responsive["electrodes"][:, None]
    resp = responsive["electrodes"]
    criteria = dict(CRITERIA)
    criteria.update({b: f"multimodal-vs-{b}" for b in roles["baselines"]})
    sig = comparisons.set_index(["comparison", "model_a", "electrode"]).sort_index()

    def lookup(comparison, model_a, electrode):
        key = (comparison, model_a, electrode)
        if key in sig.index:
            row = sig.loc[key]
            return row["model_b"], float(row["delta_r"]), float(row["q"]), bool(row["significant"])
        return "", np.nan, np.nan, False

    multi = roles["multimodal"]
    multi_r = {m: mean_r_over_bins(trained[m]["r"], bins) for m in multi}
    uni = [m for m in roles["vision"] + roles["language"] if m in trained]
    uni_r = {m: mean_r_over_bins(trained[m]["r"], bins) for m in uni}
    rows = []
    for e, name in enumerate(names):
        row: dict[str, Any] = {"n_bins": int(bins[e].sum())}
        best_model, best_key, evidence, passed = "", -np.inf, {}, False
        for m in multi:
            ev = {c: lookup(comp, m, name) for c, comp in criteria.items()}
            ok = resp[e] and all(v[3] for v in ev.values())
            key = (ok, np.nan_to_num(multi_r[m][e], nan=-np.inf))
            if not evidence or key > best_key:
                best_model, best_key, evidence, passed = m, key, ev, ok
        row["model"] = best_model
        row["mean_r"] = float(multi_r[best_model][e]) if best_model else np.nan
        for c in criteria:
            mb, d, q, _ = evidence.get(c, ("", np.nan, np.nan, False))
            row[f"vs_{c}_model"], row[f"vs_{c}_delta_r"], row[f"vs_{c}_q"] = mb, d, q
        best_uni = max(uni, key=lambda u: np.nan_to_num(uni_r[u][e], nan=-np.inf), default="")
        row["best_unimodal"] = best_uni
        row["best_unimodal_r"] = float(uni_r[best_uni][e]) if best_uni else np.nan
        shown = best_model or best_uni
        if shown and bins[e].any():
            row["residual_autocorr"] = float(np.nanmax(trained[shown]["residual_autocorr"][e][bins[e]]))
        else:
            row["residual_autocorr"] = np.nan
        if not resp[e]:
            cls = "none"
        elif passed:
            cls = "multimodal"
        elif best_uni:
            _, _, _, beats = lookup("trained-vs-random", best_uni, name)
            has_twin = ("trained-vs-random", best_uni, name) in sig.index
            kind = "vision" if best_uni in roles["vision"] else "language"
            cls = kind if (beats or not has_twin) else "responsive"
        else:
            cls = "responsive"
        row["class"] = cls
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(names, name="electrode"))
    return table.add_prefix(f"{alignment}_")


def combine_alignments(per_alignment: dict[str, pd.DataFrame]) -> pd.Series:
    """Class across alignments: ``multimodal`` only when multimodal in every alignment.

    Multimodal in some alignments only gives ``multimodal-{alignment}-only`` (one alignment)
    or ``multimodal-partial``; otherwise ``vision`` / ``language`` when the alignments that
    call the electrode unimodal agree (on disagreement, the one whose best unimodal mean r
    is highest wins), else ``responsive`` when responsive in any alignment, else ``none``.

    Parameters
    ----------
    per_alignment : dict of str to DataFrame
        Alignment -> ``classify_alignment`` output (same electrodes).

    Returns
    -------
    cls : Series of str, indexed by electrode
    """
    aligns = list(per_alignment)
    table = pd.concat(per_alignment.values(), axis=1)
    out = []
    for _, row in table.iterrows():
        classes = {a: row[f"{a}_class"] for a in aligns}
        multi = [a for a in aligns if classes[a] == "multimodal"]
        if multi and len(multi) == len(aligns) and len(aligns) > 1:
            out.append("multimodal")
            continue
        if multi:
            out.append(f"multimodal-{multi[0]}-only" if len(multi) == 1 else "multimodal-partial")
            continue
        uni = [a for a in aligns if classes[a] in ("vision", "language")]
        if uni:
            best = max(uni, key=lambda a: np.nan_to_num(row[f"{a}_best_unimodal_r"], nan=-1))
            out.append(classes[best])
        elif any(classes[a] == "responsive" for a in aligns):
            out.append("responsive")
        else:
            out.append("none")
    return pd.Series(out, index=table.index, name="class")
