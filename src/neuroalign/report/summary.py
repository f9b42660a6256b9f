"""The cross-subject summary: ``summary.html`` and ``sites.tsv``.

``sites_table`` stacks the subjects' ``stats/sites.parquet`` (every electrode whose class is
not ``none``, i.e. every responsive electrode) with the electrode table's hemisphere and
coordinate space; ``render_summary`` writes it as ``sites.tsv`` and renders the summary page:
sites per subject and overall (count and % of responsive and of analysed electrodes), all
sites on one glass brain, counts by region, and a sortable, filterable table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import (
    ARTIFACTS,
    SITES_TSV_COLUMNS,
    output_electrodes,
    read_electrodes,
    read_pooled_sites,
    read_sites,
)
from ..io import atomic_path, read_parquet_metadata
from ..utils import logger, natural_key, set_log_level
from . import figures as F
from ._common import (
    SITE_CLASSES,
    EmbeddedFigure,
    apply_pooled_classes,
    class_rank,
    fmt,
    provenance,
    render_template,
    write_html,
    write_png,
)
from .methods import methods_paragraphs

__all__ = ["sites_table", "write_sites_tsv", "subject_counts", "render_summary",
           "SITES_TSV_COLUMNS", "SUMMARY_FIGURES"]

# SITES_TSV_COLUMNS (neuroalign.artifacts) lead sites.tsv; the per-alignment evidence columns
# of sites.parquet follow.
SUMMARY_FIGURES = ["summary_locations", "summary_regions"]


def _subject_of(path: str | os.PathLike) -> str:
    # The stats job records its subject in the table's metadata; the path's layout is not
    # relied on.
    meta = read_parquet_metadata(path)
    if "subject" not in meta:
        raise ValueError(f"{path}: no 'subject' in its metadata; give the subjects explicitly "
                         "(--subjects) or pass a sites table written by `neuroalign stats run`.")
    return str(meta["subject"])


def _load(sites: list[str | os.PathLike], electrodes: list[str | os.PathLike],
          subjects: list[str] | None, pooled: str | os.PathLike | None = None
          ) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    if len(sites) != len(electrodes):
        raise ValueError(f"render_summary: {len(sites)} sites tables but {len(electrodes)} "
                         "electrode tables; give one of each per subject, same order.")
    if subjects is not None and len(subjects) != len(sites):
        raise ValueError(f"render_summary: {len(subjects)} subjects for {len(sites)} tables.")
    pool = read_pooled_sites(pooled) if pooled else None
    out = []
    for i, (s, e) in enumerate(zip(sites, electrodes, strict=True)):
        subject = subjects[i] if subjects is not None else _subject_of(s)
        table = read_sites(s)
        if pool is not None:
            table = apply_pooled_classes(table, pool, subject, pooled)
        out.append((subject, table, read_electrodes(e)))
    return sorted(out, key=lambda t: natural_key(t[0]))


def sites_table(loaded: list[tuple[str, pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """Every responsive electrode of every subject, one row each (``SITES_TSV_COLUMNS`` first).

    Parameters
    ----------
    loaded : list of (subject, sites, electrodes)
        Each subject's ``stats/sites.parquet`` and ``electrodes.parquet`` tables.

    Returns
    -------
    table : DataFrame
        Sorted by class (integration sites first), subject and electrode.
    """
    frames = []
    for subject, sites, el in loaded:
        shown = sites[sites["class"].astype(str) != "none"]
        df = shown.join(output_electrodes(el, shown["electrode"], ["hemisphere", "space"]),
                        on="electrode")
        df.insert(0, "subject", subject)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=SITES_TSV_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    rest = [c for c in table.columns if c not in SITES_TSV_COLUMNS]
    table = table[SITES_TSV_COLUMNS + rest]
    order = table.assign(_rank=table["class"].map(class_rank),
                         _subject=table["subject"].map(natural_key))
    order = order.sort_values(["_rank", "_subject", "electrode"], kind="mergesort")
    return table.loc[order.index].reset_index(drop=True)


def write_sites_tsv(table: pd.DataFrame, out: str | os.PathLike) -> Path:
    """Write ``sites.tsv`` atomically (tab-separated, NaN as empty, 6 significant digits)."""
    with atomic_path(out, suffix=".tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="",
                     lineterminator="\n")
    return Path(out)


def subject_counts(loaded: list[tuple[str, pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """Per subject and overall: electrodes, analysed, responsive, sites and percentages.

    ``pct_of_responsive`` is sites / responsive electrodes and ``pct_of_analysed`` sites /
    clean (analysed) electrodes, in %; the reference reports 141 / 1,090 = 12.94 %.
    """
    rows = []
    for subject, sites, el in loaded:
        cls = sites["class"].astype(str)
        rows.append({"subject": subject, "electrodes": len(el),
                     "analysed": int(el["clean"].astype(bool).sum()),
                     "responsive": int(cls.ne("none").sum()),
                     "sites": int(cls.eq("multimodal").sum()),
                     "partial": int(cls.isin(SITE_CLASSES[1:]).sum()),
                     "vision": int(cls.eq("vision").sum()),
                     "language": int(cls.eq("language").sum())})
    table = pd.DataFrame(rows, columns=["subject", "electrodes", "analysed", "responsive",
                                        "sites", "partial", "vision", "language"])
    total = table.drop(columns="subject").sum().to_dict()
    table = pd.concat([table, pd.DataFrame([{"subject": "all", **total}])], ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["pct_of_responsive"] = 100.0 * table["sites"] / table["responsive"].replace(0, np.nan)
        table["pct_of_analysed"] = 100.0 * table["sites"] / table["analysed"].replace(0, np.nan)
    return table


def _region_counts(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame()
    counts = (table.assign(region=table["region"].fillna("unknown").astype(str))
              .groupby(["region", "class"]).size().unstack(fill_value=0))
    classes = sorted(counts.columns, key=lambda c: (class_rank(c), c))
    counts = counts[classes]
    key = counts[[c for c in classes if c in SITE_CLASSES]].sum(axis=1) if any(
        c in SITE_CLASSES for c in classes) else pd.Series(0, index=counts.index)
    order = pd.DataFrame({"site": key, "all": counts.sum(axis=1)})
    order = order.sort_values(["site", "all"], ascending=False, kind="mergesort")
    return counts.loc[order.index]


def render_summary(config: dict[str, Any], sites: list[str | os.PathLike],
                   electrodes: list[str | os.PathLike], out_html: str | os.PathLike,
                   out_tsv: str | os.PathLike, subjects: list[str] | None = None,
                   figures_dir: str | os.PathLike | None = None,
                   verbose: bool | str | int | None = None,
                   pooled: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write ``summary.html`` and ``sites.tsv`` across subjects (docs/DESIGN.md §7).

    Parameters
    ----------
    config : dict
        The resolved configuration.
    sites, electrodes : list of path-like
        Each subject's ``stats/sites.parquet`` and ``electrodes.parquet``, same order.
    out_html, out_tsv : path-like
        Outputs (written atomically).
    subjects : list of str, optional
        Subject of each table; by default read from each sites table's metadata (the
        ``subject`` the stats job records).
    figures_dir : path-like, optional
        Also write the figures as ``{figures_dir}/{name}.png`` (``SUMMARY_FIGURES``).
    verbose : bool | str | int | None
        Log level; ``None`` leaves it as is.
    pooled : path-like, optional
        The pool job's ``stats/sites.parquet``: the classes shown (and counted) are its
        pooled ones (BH across all subjects). The workflow always gives it; without it the
        per-subject classes are shown.

    Returns
    -------
    summary : dict
        ``counts`` (the per-subject table as records), ``n_rows`` of sites.tsv, ``size``.
    """
    if verbose is not None:
        set_log_level(verbose)
    loaded = _load(list(sites), list(electrodes), subjects, pooled)
    table = sites_table(loaded)
    counts = subject_counts(loaded)
    regions = _region_counts(table)

    mni = ((table["space"].astype(str).str.upper() == "MNI")
           & np.isfinite(table[["x", "y", "z"]].to_numpy(float)).all(axis=1)).to_numpy()
    no_mni = sorted({str(s) for s in table.loc[~mni, "subject"]}, key=natural_key)
    fig = F.plot_glass_brain_sites(table.loc[mni, ["x", "y", "z"]].to_numpy(float),
                                   table.loc[mni, "class"].tolist())
    caption = (f"All {int(mni.sum())} responsive electrodes with MNI coordinates, of all "
               "subjects, on one glass brain (nilearn), coloured by class; integration sites "
               "drawn larger and on top.")
    if no_mni:
        caption += (f" Not shown (no MNI coordinates): the electrodes of {', '.join(no_mni)}; "
                    "their subject reports draw them on shaft diagrams.")
    figs = [EmbeddedFigure.from_figure(fig, "summary_locations", "All sites", caption),
            EmbeddedFigure.from_figure(
                F.plot_region_counts(regions), "summary_regions", "Sites by region",
                "Responsive electrodes per region (all subjects), split by class; regions "
                "with the most integration sites first.")]
    models: dict[str, dict[str, Any]] = {}
    paragraphs, references = methods_paragraphs(config, models, [s for s, _, _ in loaded])
    paragraphs = paragraphs[:1] + paragraphs[2:]  # the models are described per subject
    classes = sorted({str(c) for c in table["class"]}, key=lambda c: (class_rank(c), c))
    header = [c for c in table.columns]
    rows = []
    for rec in table.itertuples(index=False, name=None):
        rows.append([fmt(v) for v in rec])
    region_rows = [[str(r)] + [str(int(v)) for v in regions.loc[r]] for r in regions.index]
    html = render_template(
        "summary.html.j2", counts=[{k: (fmt(v, 2) if k.startswith("pct") else fmt(v))
                                    for k, v in rec.items()} for rec in counts.to_dict("records")],
        overall=counts.iloc[-1].to_dict(), figures={f.name: f for f in figs},
        methods=paragraphs, references=references, header=header, rows=rows,
        class_col=header.index("class"), classes=classes, region_header=list(regions.columns),
        region_rows=region_rows, n_subjects=len(loaded),
        alignments=list(config["events"]["alignments"]),
        provenance=provenance(config, [*sites, *electrodes, *([pooled] if pooled else [])]))
    if figures_dir is not None:
        for f in figs:
            write_png(f.png, ARTIFACTS.summary_figure.in_folder(figures_dir, figure=f.name))
    write_sites_tsv(table, out_tsv)
    write_html(html, out_html)
    size = Path(out_html).stat().st_size
    overall = counts.iloc[-1]
    logger.info("summary: %d subjects, %d sites of %d responsive electrodes (%.2f %%) -> %s",
                len(loaded), int(overall["sites"]), int(overall["responsive"]),
                float(np.nan_to_num(overall["pct_of_responsive"])), out_html)
    return {"counts": counts.to_dict("records"), "n_rows": len(table), "size": size}
