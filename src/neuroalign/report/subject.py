"""The per-subject report: ``ARTIFACTS.subject_report`` (+ ``ARTIFACTS.subject_figure``).

``render_subject_report`` reads the subject's electrode table, encoding outputs and stats
tables, draws the figures of docs/DESIGN.md §7 and writes one self-contained HTML file (figures
as base64 PNG, CSS and JS inline) and, optionally, the figures as PNG files.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import (
    ARTIFACTS,
    group_encodings,
    output_contacts,
    read_comparisons,
    read_electrodes,
    read_events,
    read_pooled_sites,
    read_sites,
)
from ..io import read_parquet_metadata
from ..stats.comparisons import mean_r_over_bins, responsive_bins
from ..utils import logger, set_log_level
from . import figures as F
from ._common import (
    RESIDUAL_AUTOCORR_LIMIT,
    SITE_CLASSES,
    EmbeddedFigure,
    apply_pooled_classes,
    class_rank,
    fmt,
    provenance,
    read_encoding_summary,
    render_template,
    write_html,
    write_png,
)
from .methods import methods_paragraphs

__all__ = ["render_subject_report", "SUBJECT_FIGURES", "has_mni"]

# Figure files written beside report.html (fixed names: they are Snakemake outputs).
SUBJECT_FIGURES = ["locations", "r_over_time", "layer_profiles", "trained_vs_random",
                   "multimodal_vs_unimodal", "residual_autocorr"]
_TQDM_MIN = 8


def has_mni(electrodes: pd.DataFrame) -> np.ndarray:
    """Electrodes with finite coordinates in MNI space (bool array)."""
    xyz = electrodes[["x", "y", "z"]].to_numpy(dtype=float)
    return (electrodes["space"].astype(str).str.upper() == "MNI").to_numpy() & \
        np.isfinite(xyz).all(axis=1)


def _electrode_classes(electrodes: pd.DataFrame, sites: pd.DataFrame) -> list[str]:
    """The class each contact is drawn with: its output's, or a pair output's ("A1-A2"), the
    best-ranked where it is in two (bipolar); "dropped" or "none" when in no output."""
    names = set(electrodes["name"].astype(str))
    cls: dict[str, str] = {}
    for output, c in zip(sites["electrode"].astype(str), sites["class"].astype(str),
                         strict=True):
        for contact in output_contacts(output, names):
            if contact not in cls or class_rank(c) < class_rank(cls[contact]):
                cls[contact] = c
    return [cls.get(n, "dropped" if not c else "none")
            for n, c in zip(electrodes["name"], electrodes["clean"], strict=True)]


def _event_totals(events: list[str | os.PathLike]) -> dict[tuple[str, str], int]:
    """Events per (alignment, movie) of the given events tables, keyed by their metadata.

    The events job records the movie and alignment of each table, so the report is handed
    the files themselves and finds out which is which without relying on the layout.
    """
    totals = {}
    for path in events:
        meta = read_parquet_metadata(path)
        if "movie" not in meta or "alignment" not in meta:
            raise ValueError(f"{path}: no 'movie' / 'alignment' in its metadata; is it an "
                             "events table written by `neuroalign data events`?")
        totals[(str(meta["alignment"]), str(meta["movie"]))] = len(read_events(path))
    return totals


def _data_summary(electrodes: pd.DataFrame, groups: dict,
                  totals: dict[tuple[str, str], int]) -> dict[str, Any]:
    clean = electrodes["clean"].astype(bool)
    dropped = electrodes.loc[~clean]
    reasons = (dropped.assign(reason=dropped["reason"].fillna("").replace("", "unspecified"))
               .groupby("reason", sort=True)["name"].agg(lambda s: ", ".join(map(str, s))))
    counts = dropped.assign(reason=dropped["reason"].fillna("").replace("", "unspecified")) \
        .groupby("reason", sort=True).size()
    events = []
    for alignment, group in groups.items():
        enc = next(iter(group.values()))
        for movie in sorted(set(enc["movie"])):
            used = int(np.sum(enc["movie"] == movie))
            total = totals.get((alignment, movie))
            events.append({"alignment": alignment, "movie": movie, "used": used,
                           "total": fmt(total)})
    return {"n_total": len(electrodes), "n_clean": int(clean.sum()),
            "n_dropped": int((~clean).sum()),
            "reasons": [(r, int(counts[r]), reasons[r]) for r in counts.index],
            "events": events}


def _top_electrodes(sites: pd.DataFrame, groups: dict, n_top: int) -> list[str]:
    """Electrodes to show in detail: sites first, then by peak r of any trained model."""
    peak: dict[str, float] = defaultdict(lambda: -np.inf)
    for group in groups.values():
        for (_, init), enc in group.items():
            if init != "trained":
                continue
            best = np.nanmax(np.nan_to_num(enc["r"], nan=-np.inf), axis=1)
            for name, v in zip(enc["electrodes"], best, strict=True):
                peak[name] = max(peak[name], float(v))
    table = sites[["electrode", "class"]].copy()
    table["peak"] = table["electrode"].map(lambda e: peak[e])
    table["rank"] = table["class"].map(class_rank)
    table = table[table["class"] != "none"] if (table["class"] != "none").any() else table
    table = table.sort_values(["rank", "peak", "electrode"], ascending=[True, False, True],
                              kind="mergesort")
    return table["electrode"].head(n_top).tolist()


def _r_over_time(groups: dict, shown: list[str]) -> tuple:
    curves, ci, bins = {}, {}, {}
    for alignment, group in groups.items():
        curves[alignment], ci[alignment] = {}, {}
        for (model, init), enc in sorted(group.items()):
            if init != "trained":
                continue
            idx = [enc["electrodes"].index(e) for e in shown]
            curves[alignment][model] = enc["r"][idx]
            ci[alignment][model] = (enc["ci_low"][idx], enc["ci_high"][idx])
            bins[alignment] = np.asarray(enc["attrs"]["bin_centers_s"], dtype=float)
    return bins, curves, ci


def _layer_profiles(groups: dict, shown: list[str]) -> tuple[dict, dict]:
    profiles: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    layers: dict[str, list[str]] = {}
    for alignment, group in groups.items():
        for (model, init), enc in sorted(group.items()):
            if init != "trained" or enc["attrs"].get("modality") == "linear-integration":
                continue
            idx = [enc["electrodes"].index(e) for e in shown]
            # (n_layers, n_shown, n_bins) -> peak over bins -> mean over shown electrodes
            peak = np.nanmax(np.nan_to_num(enc["layer_r"][:, idx], nan=-np.inf), axis=2)
            profiles[model][alignment] = np.where(np.isfinite(peak), peak, np.nan).mean(axis=1)
            layers[model] = enc["layers"] or [str(i) for i in range(enc["layer_r"].shape[0])]
    return dict(profiles), layers


def _responsive(group: dict, config: dict) -> dict:
    trained = {m: e for (m, init), e in group.items() if init == "trained"}
    st = config["stats"]
    return responsive_bins(trained, float(st["fdr_q"]), int(st["min_bins"]))


def _trained_vs_random(groups: dict, comparisons: pd.DataFrame, config: dict) -> list[dict]:
    panels = []
    tvr = comparisons[comparisons["comparison"] == "trained-vs-random"]
    for alignment, group in groups.items():
        resp = _responsive(group, config)
        bins = resp["bins"] & resp["electrodes"][:, None]
        for (model, init), enc in sorted(group.items()):
            if init != "trained" or (model, "random") not in group:
                continue
            rnd = group[(model, "random")]
            sig = tvr[(tvr["alignment"] == alignment) & (tvr["model_a"] == model)] \
                .set_index("electrode")["significant"].astype(bool)
            names = enc["electrodes"]
            panels.append({"title": f"{model} — {alignment}",
                           "trained": mean_r_over_bins(enc["r"], bins),
                           "random": mean_r_over_bins(rnd["r"], bins),
                           "significant": np.array([bool(sig.get(n, False)) for n in names])})
    return panels


def _multimodal_vs_unimodal(sites: pd.DataFrame, alignments: list[str]) -> list[dict]:
    panels = []
    for a in alignments:
        cols = [f"{a}_mean_r", f"{a}_best_unimodal_r", f"{a}_class", f"{a}_model"]
        if not all(c in sites.columns for c in cols):
            continue
        if not sites[f"{a}_model"].astype(str).str.len().gt(0).any():
            continue  # no multimodal model in this alignment
        rows = sites[sites[f"{a}_class"] != "none"]
        panels.append({"title": f"{a}-aligned", "unimodal": rows[f"{a}_best_unimodal_r"],
                       "multimodal": rows[f"{a}_mean_r"], "classes": rows[f"{a}_class"].tolist()})
    return panels


def electrode_block_need(enc: dict) -> np.ndarray | None:
    """Block length (s) each electrode needs: the median over its bins of ``block_s_needed``.

    The per-target estimate (``residual_autocorr_time``) is noisy; an electrode's bins share
    its signal, so their median is the electrode's value. None for outputs without it.
    """
    if "block_s_needed" not in enc:
        return None
    needed = np.asarray(enc["block_s_needed"], dtype=float)
    with np.errstate(all="ignore"):
        return np.nanmedian(needed, axis=1) if needed.size else np.zeros(0)


def _residual_autocorr(groups: dict) -> tuple[list[dict], dict, dict]:
    """Per encoding output: electrodes whose residual scores need longer blocks than used.

    Returns the table rows, the pooled per-electrode values of the trained models per alignment
    (for the histogram) and ``flag[alignment][electrode]``: True when any trained model's
    electrode needs longer blocks. Outputs written before ``block_s_needed`` fall back to the
    lag-1 correlation of residual block means per target (limit ``RESIDUAL_AUTOCORR_LIMIT``).
    """
    rows, pooled, flags = [], {}, {}
    for alignment, group in groups.items():
        values, flag = [], {}
        for (model, init), enc in sorted(group.items()):
            unshifted = ", ".join(str(int(t)) for t in
                                  np.atleast_1d(enc["attrs"].get("unshifted_trials", [])))
            need = electrode_block_need(enc)
            if need is not None:
                block_s = float(enc["attrs"].get("block_s", np.nan))
                over = need > block_s
                ok = np.isfinite(need)
                rows.append({"alignment": alignment, "model": model, "init": init,
                             "unit": "electrodes", "n_targets": int(need.size),
                             "flagged": int(over.sum()),
                             "pct": 100.0 * float(over.sum()) / max(need.size, 1),
                             "median": float(np.median(need[ok])) if ok.any() else np.nan,
                             "max": float(np.max(need[ok])) if ok.any() else np.nan,
                             "limit": f"> {block_s:g} s", "unshifted": unshifted or "none"})
                if init == "trained":
                    values.append(need[ok])
                    for name, o in zip(enc["electrodes"], over, strict=True):
                        flag[name] = flag.get(name, False) or bool(o)
                continue
            rho = np.asarray(enc["residual_autocorr"], dtype=float)
            ok = np.isfinite(rho)
            flagged = int(np.sum(rho[ok] > RESIDUAL_AUTOCORR_LIMIT))
            rows.append({"alignment": alignment, "model": model, "init": init,
                         "unit": "targets (lag-1 rho)", "n_targets": int(rho.size),
                         "flagged": flagged, "pct": 100.0 * flagged / max(rho.size, 1),
                         "median": float(np.median(rho[ok])) if ok.any() else np.nan,
                         "max": float(np.max(rho[ok])) if ok.any() else np.nan,
                         "limit": f"> {RESIDUAL_AUTOCORR_LIMIT}",
                         "unshifted": unshifted or "none"})
        pooled[alignment] = np.concatenate(values) if values else np.array([])
        if values:
            flags[alignment] = flag
    return rows, pooled, flags


def _plot_autocorr_hist(pooled: dict[str, np.ndarray], block_s: float):
    fig, axes = F._subplots(1, max(len(pooled), 1), figsize=(4 * max(len(pooled), 1), 2.8),
                            squeeze=False)
    for ax, (alignment, v) in zip(axes.flat, sorted(pooled.items()), strict=False):
        hi = max(2.0 * block_s, float(np.max(v)) if v.size else 0.0)
        if v.size:
            ax.hist(v, bins=np.linspace(0, hi, 41), color="#777777")
        ax.axvline(block_s, color="#D55E00", lw=1.2, ls="--")
        ax.set_title(f"{alignment}-aligned", fontsize=9)
        ax.set_xlabel("block length needed (s)", fontsize=8)
        ax.set_ylabel("electrodes × trained models", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def _comparison_tables(comparisons: pd.DataFrame, sites: pd.DataFrame) -> tuple[list, list]:
    summary = []
    if len(comparisons):
        g = comparisons.groupby(["alignment", "comparison", "model_a"], sort=True)
        for (a, c, m), df in g:
            summary.append([a, c, m, str(len(df)), str(int(df["significant"].sum())),
                            fmt(float(df["delta_r"].median())), fmt(float(df["q"].min()))])
    site_names = set(sites.loc[sites["class"].isin(SITE_CLASSES), "electrode"])
    detail = comparisons[comparisons["electrode"].isin(site_names)].sort_values(
        ["electrode", "alignment", "comparison", "model_a"], kind="mergesort")
    rows = [[str(r.electrode), str(r.alignment), str(r.comparison), str(r.model_a),
             str(r.model_b), fmt(r.n_bins), fmt(r.delta_r), fmt(r.p), fmt(r.q),
             fmt(bool(r.significant))] for r in detail.itertuples(index=False)]
    return summary, rows


def _cell(text: Any, cls: Any = "", flag: bool = False) -> dict[str, Any]:
    return {"text": str(text), "cls": "" if cls is None or cls != cls else str(cls),
            "flag": flag}


def _site_flag(r: pd.Series, a: str, flags: dict) -> tuple[bool, str]:
    """Whether electrode ``r`` of alignment ``a`` is flagged, and the value shown."""
    rho = r.get(f"{a}_residual_autocorr", np.nan)
    if a in flags:
        return bool(flags[a].get(str(r["electrode"]), False)), fmt(rho)
    return bool(np.isfinite(rho) and rho > RESIDUAL_AUTOCORR_LIMIT), fmt(rho)


def _site_rows(sites: pd.DataFrame, alignments: list[str],
               flags: dict | None = None) -> tuple[list[str], list[list[dict]]]:
    header = ["electrode", "region", "class"]
    for a in alignments:
        header += [f"{a} class", f"{a} model", f"{a} mean r", f"{a} best unimodal",
                   f"{a} best unimodal r", f"{a} residual autocorr"]
    table = sites[sites["class"] != "none"].copy()
    table["_rank"] = table["class"].map(class_rank)
    table = table.sort_values(["_rank", "electrode"], kind="mergesort")
    rows = []
    for _, r in table.iterrows():
        cells = [_cell(r["electrode"]), _cell(fmt(r.get("region"))),
                 _cell(r["class"], cls=r["class"])]
        for a in alignments:
            flagged, shown = _site_flag(r, a, flags or {})
            cells += [_cell(fmt(r.get(f"{a}_class")), cls=r.get(f"{a}_class", "")),
                      _cell(fmt(r.get(f"{a}_model"))), _cell(fmt(r.get(f"{a}_mean_r"))),
                      _cell(fmt(r.get(f"{a}_best_unimodal"))),
                      _cell(fmt(r.get(f"{a}_best_unimodal_r"))),
                      _cell(shown + (" ⚠" if flagged else ""), flag=flagged)]
        rows.append(cells)
    return header, rows


def _models_info(groups: dict) -> dict[str, dict[str, Any]]:
    info: dict[str, dict[str, Any]] = {}
    for group in groups.values():
        for (model, init), enc in group.items():
            entry = info.setdefault(model, {"modality": str(enc["attrs"].get("modality", "")),
                                            "is_control": bool(enc["attrs"].get("is_control",
                                                                                 False)),
                                            "inits": []})
            if init not in entry["inits"]:
                entry["inits"].append(init)
    return dict(sorted(info.items()))


def render_subject_report(config: dict[str, Any], subject: str,
                          encodings: list[str | os.PathLike],
                          electrodes: str | os.PathLike, comparisons: str | os.PathLike,
                          sites: str | os.PathLike, out: str | os.PathLike,
                          figures_dir: str | os.PathLike | None = None,
                          events: list[str | os.PathLike] | None = None, n_top: int = 6,
                          verbose: bool | str | int | None = None,
                          pooled: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write one subject's self-contained HTML report (docs/DESIGN.md §7).

    Parameters
    ----------
    config : dict
        The resolved configuration (its text feeds the methods paragraph).
    subject : str
    encodings : list of path-like
        Every ``encoding/{model}/{init}/{alignment}.h5`` of the subject (baselines too).
    electrodes : path-like
        ``subjects/{subject}/electrodes.parquet``.
    comparisons, sites : path-like
        ``stats/comparisons.parquet`` and ``stats/sites.parquet``.
    out : path-like
        ``report.html`` (written atomically).
    figures_dir : path-like, optional
        Also write each figure as ``{figures_dir}/{name}.png`` (names in ``SUBJECT_FIGURES``).
    events : list of path-like, optional
        The subject's events tables (``ARTIFACTS.events``, any movies and alignments); the
        data summary then also counts each movie's events.
    n_top : int
        Electrodes shown in the r-over-time and layer-profile figures.
    verbose : bool | str | int | None
        Log level (see ``neuroalign.utils.set_log_level``); ``None`` leaves it as is.
    pooled : path-like, optional
        The pool job's ``stats/sites.parquet``; the classes shown are then its pooled ones
        (BH across all subjects), as the workflow does. Without it: the per-subject classes.

    Returns
    -------
    summary : dict
        ``figures`` (name -> PNG size in bytes), ``size`` (HTML bytes), ``classes`` (counts).
    """
    if verbose is not None:
        set_log_level(verbose)
    from tqdm.auto import tqdm

    el = read_electrodes(electrodes)
    st = read_sites(sites)
    if pooled is not None:
        st = apply_pooled_classes(st, read_pooled_sites(pooled), subject, pooled)
    comp = read_comparisons(comparisons)
    encs = [read_encoding_summary(p) for p in tqdm(
        encodings, desc=f"report {subject}: encodings", disable=len(encodings) < _TQDM_MIN)]
    if not encs:
        raise ValueError(f"report {subject}: no encoding outputs given")
    groups = dict(sorted(group_encodings(encs).items()))
    alignments = list(groups)
    for group in groups.values():
        for enc in group.values():
            unknown = sorted(set(enc["electrodes"]) - set(st["electrode"]))
            if unknown:
                raise ValueError(f"{enc['path']}: electrode(s) {unknown[:5]} are not in {sites} "
                                 "(stats and encoding outputs from different runs?)")
    classes = _electrode_classes(el, st)
    logger.info("report %s: %d electrodes, %d encodings, alignments %s", subject, len(el),
                len(encs), alignments)

    figs: list[EmbeddedFigure] = []
    mni = has_mni(el)
    if mni.any():
        fig = F.plot_glass_brain_sites(el.loc[mni, ["x", "y", "z"]].to_numpy(float),
                                       np.asarray(classes, dtype=object)[mni])
        missing = int((~mni).sum())
        loc_caption = (f"Electrode locations of {subject} on a glass brain (MNI space; nilearn), "
                       "coloured by site class; dropped channels in black."
                       + (f" {missing} electrode(s) without MNI coordinates are not shown."
                          if missing else ""))
        loc_kind = "glass brain"
    elif np.isfinite(el[["x", "y", "z"]].to_numpy(dtype=float)).all(axis=1).any():
        # Coordinates in another space (ACPC, native, ...): drawn as they are, in that space,
        # so ECoG grids look like grids; no glass brain (it is an MNI template).
        space = ", ".join(sorted(set(el["space"].astype(str)) - {"MNI"}))
        fig = F.plot_native_coordinates(el, classes, space)
        loc_caption = (f"{subject} has no MNI coordinates, so contacts are drawn at their own "
                       f"coordinates ({space} space, mm) in three projections, coloured by site "
                       "class; dropped channels as black crosses. Positions are not comparable "
                       "with other subjects' or with an atlas.")
        loc_kind = "native-space projections"
    else:
        fig = F.plot_shaft_diagram(el, classes)
        loc_caption = (f"{subject} has no coordinates (space: "
                       f"{', '.join(sorted(el['space'].astype(str).unique()))}), so contacts are "
                       "drawn along their shafts or grids (one row per label prefix, contact "
                       "number on x), coloured by site class; dropped channels as black crosses.")
        loc_kind = "shaft diagram"
    figs.append(EmbeddedFigure.from_figure(fig, "locations", "Electrode locations", loc_caption))

    shown = _top_electrodes(st, groups, n_top)
    bins, curves, ci = _r_over_time(groups, shown)
    figs.append(EmbeddedFigure.from_figure(
        F.plot_r_over_time(bins, curves, shown, alignments, ci), "r_over_time",
        "r over time",
        f"Out-of-sample Pearson r of every trained model (and linear baseline) over time bins "
        f"(s from the event), for the {len(shown)} top electrode(s): integration sites first, "
        "then by peak r. Shading: block-bootstrap confidence interval."))
    profiles, layers = _layer_profiles(groups, shown)
    single = sorted(m for m in profiles if len(layers[m]) < 2)
    profiles = {m: v for m, v in profiles.items() if m not in single}
    figs.append(EmbeddedFigure.from_figure(
        F.plot_layer_profiles(profiles, layers), "layer_profiles", "Layer profiles",
        "Per model, r of each layer's own cross-fitted encoding model (its peak over time "
        "bins, averaged over the electrodes of the r-over-time figure); one line per "
        "alignment."
        + (f" Single-layer feature spaces are not drawn: {', '.join(single)}." if single
           else "")))
    fdr_q = config["stats"]["fdr_q"]
    figs.append(EmbeddedFigure.from_figure(
        F.plot_trained_vs_random(_trained_vs_random(groups, comp, config)),
        "trained_vs_random", "Trained vs random twin",
        f"Each point is a responsive electrode: mean r over its responsive bins of the trained "
        f"model (y) against its randomly initialised twin (x). Orange: trained beats random "
        f"(block-swap test, BH-FDR q < {fdr_q}). Dashed: identity."))
    figs.append(EmbeddedFigure.from_figure(
        F.plot_multimodal_vs_unimodal(_multimodal_vs_unimodal(st, alignments)),
        "multimodal_vs_unimodal", "Multimodal vs unimodal",
        "Each point is a responsive electrode: mean r over its responsive bins of the reported "
        "multimodal model (y) against the best unimodal (vision or language) model of that "
        "electrode (x), coloured by the electrode's class in that alignment. Dashed: "
        "identity."))
    auto_rows, needed_by_alignment, flags = _residual_autocorr(groups)
    block_s = float(config["events"]["block_s"])
    figs.append(EmbeddedFigure.from_figure(
        _plot_autocorr_hist(needed_by_alignment, block_s), "residual_autocorr",
        "Residual block autocorrelation",
        "Block length each electrode needs (median over its bins) for adjacent block sums of "
        "its residual scores e·ŷ to correlate below 0.1, from their integrated autocorrelation "
        "time, for every trained model. Electrodes right of the dashed line (events.block_s = "
        f"{block_s:g} s) are flagged: their block-resampling p-values may be optimistic; the "
        "encoding job stops when the median electrode is there. On 400 null electrodes of "
        "900 s with slow drift in the responses only, none was flagged."))

    paragraphs, references = methods_paragraphs(config, _models_info(groups))
    comp_summary, comp_detail = _comparison_tables(comp, st)
    site_header, site_rows = _site_rows(st, alignments, flags)
    flagged_sites = sorted(
        str(r["electrode"]) for _, r in st[st["class"].isin(SITE_CLASSES)].iterrows()
        if any(_site_flag(r, a, flags)[0] for a in alignments))
    counts = st["class"].value_counts()
    class_counts = sorted(((str(c), int(n)) for c, n in counts.items()),
                          key=lambda x: (class_rank(x[0]), x[0]))
    html = render_template(
        "subject.html.j2", subject=subject, figures={f.name: f for f in figs},
        loc_kind=loc_kind, methods=paragraphs, references=references,
        data=_data_summary(el, groups, _event_totals(events or [])), class_counts=class_counts,
        n_sites=int(st["class"].eq("multimodal").sum()),
        n_responsive=int(st["class"].ne("none").sum()), alignments=alignments,
        comp_summary=comp_summary, comp_detail=comp_detail, site_header=site_header,
        site_rows=site_rows, autocorr=auto_rows, autocorr_limit=RESIDUAL_AUTOCORR_LIMIT,
        flagged_sites=flagged_sites,
        provenance=provenance(config, [*encodings, electrodes, comparisons, sites,
                                       *([pooled] if pooled else [])]))
    if figures_dir is not None:
        for f in figs:
            write_png(f.png, ARTIFACTS.subject_figure.in_folder(figures_dir, figure=f.name))
    write_html(html, out)
    size = Path(out).stat().st_size
    logger.info("report %s: %d figures, %.2f MB -> %s", subject, len(figs), size / 1e6, out)
    return {"figures": {f.name: len(f.png) for f in figs}, "size": size,
            "classes": dict(class_counts)}
