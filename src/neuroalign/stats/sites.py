"""Which comparisons to run, running them for one alignment, and the claims on each electrode.

Model names in the tables: a trained fit is named by its model (``sim-vision``), a random
twin by ``{model}/random``, the baselines by ``concat`` / ``banded``.

Comparisons (docs/DESIGN.md §6), one-sided ``A > B`` on the mean Δr over the bins that
``pair_selection`` chose for that pair (a statistic of A + B that no block swap changes):

``trained-vs-random``           every model with a random twin vs that twin
``multimodal-vs-vision``        each multimodal model vs each vision model
``multimodal-vs-language``      each multimodal model vs each language model
``multimodal-vs-concat``        each multimodal model vs each configured linear baseline
``multimodal-vs-banded``
``slip-combo-vs-slip-simclr``   ``slip-combo.vision`` vs ``slip-simclr.vision`` when both ran

Claims, one p per electrode each (``claim_p``): a multimodal model passes in an alignment
when it beats its random twin, every vision model, every language model and every baseline
(intersection-union: the largest of those p); ``{a}_p_multimodal`` combines the multimodal
models by Bonferroni, ``p_site`` does the same with each model's largest p over alignments;
``{a}_p_vision`` / ``{a}_p_language``: some model of that modality beats its random twin
(Bonferroni over the models; ``p_vision`` also over alignments); ``{a}_p_responsive`` /
``p_responsive``: some trained model's r > 0 in some bin (Simes). ``assign_classes`` turns
BH q-values of these into classes; the stats job uses per-subject q, the pool job
(``pool_sites``) pooled q across subjects, which the reports show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import COMPARISON_COLUMNS
from ..config import linear_baselines, role_models
from ..utils import logger
from .comparisons import (
    bh_fdr,
    bonferroni,
    electrode_swap_test,
    intersection_union,
    mean_r_over_bins,
    pair_selection,
    simes,
    stats_seed,
)

__all__ = ["model_roles", "compare_alignment", "classify_alignment", "combine_alignments",
           "assign_classes", "claim_columns", "q_column", "COMPARISON_COLUMNS", "CRITERIA",
           "CLAIMS", "ALIGNMENT_CLAIMS"]

# Criterion -> comparison a multimodal model must win against every competitor (baselines
# added per config).
CRITERIA = {"random": "trained-vs-random", "vision": "multimodal-vs-vision",
            "language": "multimodal-vs-language"}
SLIP_PAIR = ("slip-combo.vision", "slip-simclr.vision")
# Electrode-level claims: across alignments, and within each alignment.
CLAIMS = ["site", "vision", "language", "responsive"]
ALIGNMENT_CLAIMS = ["multimodal", "vision", "language", "responsive"]


def claim_columns(alignments: list[str]) -> list[str]:
    """The p columns of the sites table: ``p_{claim}`` then ``{a}_p_{claim}`` per alignment."""
    return [f"p_{c}" for c in CLAIMS] + [f"{a}_p_{c}" for a in alignments
                                         for c in ALIGNMENT_CLAIMS]


def q_column(p_column: str, kind: str = "q") -> str:
    """Name of the q column of a claim's p column: ``p_site`` -> ``q_site``,
    ``vision_p_multimodal`` -> ``vision_q_multimodal`` (``kind`` ``subject_q`` for the
    per-subject BH)."""
    head, sep, claim = p_column.rpartition("p_")
    if not sep:
        raise ValueError(f"{p_column!r} is not a claim p column (p_<claim> or <a>_p_<claim>).")
    return f"{head}{kind}_{claim}"


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
    modality_of = {m: str(trained[m]["attrs"].get("modality", "")) for m in ran}
    for kind in ("vision", "language", "multimodal"):
        roles[kind] = role_models(sites, modality_of, kind)
    roles["baselines"] = linear_baselines(sites, roles["vision"], roles["language"])
    needed = [m for kind in ("vision", "language", "multimodal") for m in roles[kind]]
    if roles["multimodal"]:
        needed += roles["baselines"]
    for m in needed:
        if m not in trained:
            raise ValueError(f"The sites configuration names model {m!r}, which was not run "
                             f"(no trained encoding output); models run: {ran}.")
    return roles


def compare_alignment(trained: dict[str, dict], random: dict[str, dict], roles: dict,
                      alignment: str, *, n_permutations: int = 1000, fdr_q: float = 0.05,
                      min_bins: int = 10, seed: int = 0, subject: str = "") -> pd.DataFrame:
    """Every configured paired comparison of one subject and alignment.

    Each pair (A, B) is tested on its own selection (``pair_selection`` of A's and B's block
    sums: invariant to the swaps of its test, so the test is exact given the selection), by
    the block-swap test of the mean Δr over each selected electrode's selected bins.

    Parameters
    ----------
    trained, random : dict of str to dict
        Model -> encoding output of its trained fit / its random twin (baselines in ``trained``).
    roles : dict
        From ``model_roles``.
    alignment : str
    n_permutations : int
    fdr_q : float
        BH level of the selection and of the per-subject ``q`` / ``significant`` columns.
    min_bins : int
        Selected bins an electrode needs to be tested.
    seed : int
    subject : str
        Only seeds the swap matrices.

    Returns
    -------
    comparisons : DataFrame
        ``COMPARISON_COLUMNS``; one row per comparison x model_a x model_b x electrode that
        pair's selection kept (``n_bins``: its selected bins). ``q``: BH over the electrodes
        of that (comparison, model_a, model_b) in this subject (secondary).
    """
    names = list(next(iter(trained.values()))["electrodes"])
    frames = []

    def test(comparison, model_a, model_b, enc_a, enc_b):
        sel = pair_selection(enc_a["blockstats"], enc_b["blockstats"], fdr_q, min_bins)
        # One swap matrix per (comparison, model_a, model_b): shared by all electrodes.
        rng = np.random.default_rng(stats_seed(seed, subject, alignment, comparison, model_a,
                                               model_b))
        d, p = electrode_swap_test(enc_a["blockstats"], enc_b["blockstats"], sel["bins"],
                                   n_permutations, rng)
        idx = np.flatnonzero(sel["electrodes"])
        frames.append(pd.DataFrame({
            "alignment": alignment, "comparison": comparison, "model_a": model_a,
            "model_b": model_b, "electrode": [names[i] for i in idx],
            "n_bins": sel["n_bins"][idx].astype(np.int64), "delta_r": d[idx], "p": p[idx]}))

    for m in sorted(trained):
        if m in random:
            test("trained-vs-random", m, _twin(m), trained[m], random[m])
    for m in roles["multimodal"]:
        for kind in ("vision", "language"):
            for u in roles[kind]:
                if u != m:
                    test(CRITERIA[kind], m, u, trained[m], trained[u])
        for base in roles["baselines"]:
            test(f"multimodal-vs-{base}", m, base, trained[m], trained[base])
    if all(s in trained for s in SLIP_PAIR):
        test("slip-combo-vs-slip-simclr", *SLIP_PAIR, trained[SLIP_PAIR[0]],
             trained[SLIP_PAIR[1]])
    if not frames:
        return pd.DataFrame({c: [] for c in COMPARISON_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["q"] = np.nan
    for _, idx in out.groupby(["comparison", "model_a", "model_b"], sort=False).groups.items():
        out.loc[idx, "q"] = bh_fdr(out.loc[idx, "p"].to_numpy())
    out["significant"] = (out["q"] < fdr_q) & (out["delta_r"] > 0)
    logger.info("stats %s %s: %d tests on selected electrodes, %d significant (per-subject q)",
                subject, alignment, len(out), int(out["significant"].sum()))
    return out[COMPARISON_COLUMNS]


def _p_matrix(comparisons: pd.DataFrame, names: list[str]):
    """(comparison, model_a, model_b) -> (p, delta_r, q) arrays over ``names``; absent = 1/NaN."""
    pos = {n: i for i, n in enumerate(names)}
    out = {}
    for key, g in comparisons.groupby(["comparison", "model_a", "model_b"], sort=False):
        p, d, q = np.ones(len(names)), np.full(len(names), np.nan), np.ones(len(names))
        idx = g["electrode"].map(pos).to_numpy()
        p[idx], d[idx], q[idx] = g["p"], g["delta_r"], g["q"]
        out[key] = (p, d, q)
    return out


def classify_alignment(comparisons: pd.DataFrame, trained: dict[str, dict],
                       random: dict[str, dict], roles: dict, responsive: dict,
                       alignment: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per-electrode claims (p) and display evidence in one alignment.

    A multimodal model's p in this alignment is the intersection-union p of its criteria:
    vs its random twin, vs every vision model (the largest of those p), vs every language
    model, vs every configured baseline; a criterion with no comparison (no language model,
    electrode not selected for that pair) has p = 1. ``p_multimodal``: Bonferroni over the
    multimodal models. ``p_vision`` / ``p_language``: Bonferroni over that modality's models
    (with a random twin) of trained-vs-random. ``p_responsive``: Simes over every trained
    model's and bin's permutation p of r > 0.

    Parameters
    ----------
    comparisons : DataFrame
        ``compare_alignment`` output of this alignment.
    trained, random : dict of str to dict
    roles : dict
    responsive : dict
        ``responsive_bins`` of this alignment (display only: ``n_bins``, ``mean_r``).
    alignment : str

    Returns
    -------
    table : DataFrame
        Indexed by electrode; columns prefixed ``{alignment}_``: ``p_multimodal``,
        ``p_vision``, ``p_language``, ``p_responsive``; display: ``n_bins`` (responsive bins),
        ``model`` (the multimodal model with the smallest p, ties by mean r), ``p_model``
        (its intersection-union p), ``mean_r`` (its mean r over the responsive bins), per
        criterion ``vs_{criterion}_model`` (the competitor whose p is the largest),
        ``_delta_r``, ``_p``, ``_q`` (that comparison's per-subject q); ``best_unimodal``,
        ``best_unimodal_r`` (by mean r over the responsive bins; display only),
        ``residual_autocorr`` (max over the responsive bins of the reported model's lag-1
        residual block correlation).
    model_p : array of shape (n_multimodal, n_electrodes)
        Each multimodal model's intersection-union p (``roles["multimodal"]`` order).
    responsive_p : array of shape (n_electrodes, n_models * n_bins)
        The trained models' permutation p of r > 0 (for the Simes p across alignments).
    """
    names = responsive["names"]
    n_el = len(names)
    bins = responsive["bins"] & responsive["electrodes"][:, None]
    pm = _p_matrix(comparisons, names)
    ones, nans = np.ones(n_el), np.full(n_el, np.nan)
    criteria = dict(CRITERIA)
    criteria.update({b: f"multimodal-vs-{b}" for b in roles["baselines"]})

    def competitors(c, m):
        if c == "random":
            return [_twin(m)]
        if c in ("vision", "language"):
            return [u for u in roles[c] if u != m]
        return [c]

    multi = roles["multimodal"]
    model_p = np.ones((len(multi), n_el))
    evidence: dict[str, dict[str, tuple]] = {}
    for i, m in enumerate(multi):
        ev = {}
        tested = []
        for c, comp in criteria.items():
            got = [(u, *pm.get((comp, m, u), (ones, nans, ones))) for u in competitors(c, m)]
            if not got:
                # No model of that role (a language-only study has no vision model): nothing
                # to beat, so the criterion is not part of the claim; shown as NaN, not p = 1.
                ev[c] = (np.full(n_el, "", dtype=object), nans, nans, nans)
                continue
            tested.append(c)
            p_all = np.stack([g[1] for g in got])
            worst = np.argmax(p_all, axis=0)  # the binding competitor per electrode
            ev[c] = (np.asarray([g[0] for g in got], dtype=object)[worst],
                     np.stack([g[2] for g in got])[worst, np.arange(n_el)],
                     intersection_union(p_all),
                     np.stack([g[3] for g in got])[worst, np.arange(n_el)])
        evidence[m] = ev
        model_p[i] = intersection_union(np.stack([ev[c][2] for c in tested]))
    t: dict[str, Any] = {"p_multimodal": bonferroni(model_p) if multi else ones.copy()}
    for kind in ("vision", "language"):
        twins = [pm.get(("trained-vs-random", u, _twin(u)), (ones,))[0]
                 for u in roles[kind] if u in random]
        t[f"p_{kind}"] = bonferroni(np.stack(twins)) if twins else ones.copy()
    models = responsive["models"]
    resp_p = np.concatenate([np.asarray(trained[m]["p"], np.float64) for m in models], axis=1)
    t["p_responsive"] = simes(resp_p, axis=1)
    t["n_bins"] = bins.sum(axis=1).astype(np.int64)
    multi_r = {m: mean_r_over_bins(trained[m]["r"], bins) for m in multi}
    uni = [m for m in roles["vision"] + roles["language"] if m in trained]
    uni_r = np.stack([mean_r_over_bins(trained[u]["r"], bins) for u in uni]) if uni else None
    if multi:
        r_stack = np.nan_to_num(np.stack([multi_r[m] for m in multi]), nan=-np.inf)
        order = np.lexsort((-r_stack, model_p), axis=0)[0]  # smallest p, then highest r
        t["model"] = np.asarray(multi, dtype=object)[order]
        t["p_model"] = model_p[order, np.arange(n_el)]
        t["mean_r"] = np.stack([multi_r[m] for m in multi])[order, np.arange(n_el)]
        for c in criteria:
            for j, col in enumerate(("model", "delta_r", "p", "q")):
                vals = np.stack([np.asarray(evidence[m][c][j], dtype=object) for m in multi])
                t[f"vs_{c}_{col}"] = vals[order, np.arange(n_el)]
                if col != "model":
                    t[f"vs_{c}_{col}"] = t[f"vs_{c}_{col}"].astype(np.float64)
    else:
        t["model"], t["p_model"], t["mean_r"] = [""] * n_el, ones.copy(), nans.copy()
    if uni:
        best = np.argmax(np.nan_to_num(uni_r, nan=-np.inf), axis=0)
        t["best_unimodal"] = np.asarray(uni, dtype=object)[best]
        t["best_unimodal_r"] = uni_r[best, np.arange(n_el)]
    else:
        t["best_unimodal"], t["best_unimodal_r"] = [""] * n_el, nans.copy()
    shown = [t["model"][e] or t["best_unimodal"][e] for e in range(n_el)]
    t["residual_autocorr"] = np.array([
        float(np.nanmax(trained[s]["residual_autocorr"][e][bins[e]])) if s and bins[e].any()
        else np.nan for e, s in enumerate(shown)])
    table = pd.DataFrame(t, index=pd.Index(names, name="electrode"))
    return table.add_prefix(f"{alignment}_"), model_p, resp_p


def combine_alignments(model_p: dict[str, np.ndarray], tables: dict[str, pd.DataFrame],
                       responsive_p: dict[str, np.ndarray]) -> pd.DataFrame:
    """Electrode-level p of the claims across alignments.

    ``p_site``: for each multimodal model the largest p over alignments (it must pass in
    every alignment: intersection-union), then Bonferroni over the models; with a single
    alignment, that alignment's claim (weaker: the reports say so). ``p_vision`` / ``p_language``: Bonferroni over alignments
    of the per-alignment claim (itself Bonferroni over models). ``p_responsive``: Simes over
    every alignment's models and bins.

    Parameters
    ----------
    model_p : dict of str to array of shape (n_multimodal, n_electrodes)
        Alignment -> per-model intersection-union p (same models, same order).
    tables : dict of str to DataFrame
        Alignment -> ``classify_alignment`` table (same electrodes).
    responsive_p : dict of str to array of shape (n_electrodes, k_a)

    Returns
    -------
    claims : DataFrame
        Indexed by electrode: ``p_site``, ``p_vision``, ``p_language``, ``p_responsive``.
    """
    aligns = list(tables)
    index = tables[aligns[0]].index
    # With one alignment (a language-only study) the site claim is that alignment's alone,
    # a weaker claim the reports state.
    per_model = np.max(np.stack([model_p[a] for a in aligns]), axis=0)
    p_site = bonferroni(per_model) if per_model.shape[0] else np.ones(len(index))
    out = {"p_site": p_site}
    for kind in ("vision", "language"):
        out[f"p_{kind}"] = bonferroni(np.stack([tables[a][f"{a}_p_{kind}"].to_numpy(np.float64)
                                                for a in aligns]))
    out["p_responsive"] = simes(np.concatenate([responsive_p[a] for a in aligns], axis=1),
                                axis=1)
    return pd.DataFrame(out, index=index)


def assign_classes(table: pd.DataFrame, alignments: list[str], fdr_q: float = 0.05,
                   kind: str = "q") -> pd.DataFrame:
    """Classes from the claims' q-values (``{kind}_{claim}``, ``{a}_{kind}_{claim}`` columns).

    Per alignment: ``multimodal`` (q_multimodal < fdr_q), else ``vision`` / ``language``
    (q of that claim < fdr_q; both: the smaller q, ties to vision), else ``responsive``
    (q_responsive), else ``none``. Across alignments: ``multimodal`` (q_site < fdr_q, two or
    more alignments), else ``multimodal-{a}-only`` when the one-alignment claim holds in one
    alignment (``multimodal-partial`` in several), else ``vision`` / ``language`` from
    q_vision / q_language, else ``responsive`` (q_responsive), else ``none``.

    Parameters
    ----------
    table : DataFrame
        With the q columns named by ``q_column(p_column, kind)`` for every
        ``claim_columns(alignments)``.
    alignments : list of str
    fdr_q : float
    kind : str
        ``q`` (pooled) or ``subject_q``.

    Returns
    -------
    classes : DataFrame
        Same index: ``class`` and ``{a}_class``.
    """
    def sig(col):
        if col not in table.columns:
            raise ValueError(f"assign_classes: no column {col!r}; the table has "
                             f"{sorted(table.columns)}.")
        return np.nan_to_num(table[col].to_numpy(np.float64), nan=1.0) < fdr_q

    def unimodal(qv_col, ql_col, fallback):
        sv, sl = sig(qv_col), sig(ql_col)
        qv, ql = (np.nan_to_num(table[c].to_numpy(np.float64), nan=1.0) for c in (qv_col, ql_col))
        pick_v = sv & (~sl | (qv <= ql))
        return np.where(pick_v, "vision", np.where(sl, "language", fallback)).astype(object)

    out = {}
    for a in alignments:
        c = np.where(sig(f"{a}_{kind}_responsive"), "responsive", "none")
        c = unimodal(f"{a}_{kind}_vision", f"{a}_{kind}_language", c)
        out[f"{a}_class"] = np.where(sig(f"{a}_{kind}_multimodal"), "multimodal", c)
    c = np.where(sig(f"{kind}_responsive"), "responsive", "none")
    c = unimodal(f"{kind}_vision", f"{kind}_language", c).astype(object)
    one = np.stack([sig(f"{a}_{kind}_multimodal") for a in alignments])
    n_one = one.sum(axis=0)
    for a_i, a in enumerate(alignments):
        c[(n_one == 1) & one[a_i]] = f"multimodal-{a}-only"
    c[n_one > 1] = "multimodal-partial"
    c[sig(f"{kind}_site")] = "multimodal"
    out["class"] = c
    return pd.DataFrame(out, index=table.index)[["class"] + [f"{a}_class" for a in alignments]]
