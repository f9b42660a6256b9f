"""Figures of the reports: pure plotting functions that take tables/arrays and return figures.

Each function takes the data it shows and an optional ``axes`` (where that makes sense),
returns the :class:`matplotlib.figure.Figure`, and never calls ``show()`` (nilearn style).
Figures are plain :class:`~matplotlib.figure.Figure` objects, not pyplot-managed: nothing
global (backend, open-figure list) changes, and PNGs are rendered by Agg whatever backend
the caller uses. ``figure_png`` turns a figure into deterministic PNG bytes (no software/date metadata), so
that a rerun of a report is byte-identical.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = ["CLASS_COLORS", "class_color", "figure_png", "plot_glass_brain_sites",
           "plot_shaft_diagram", "plot_native_coordinates", "plot_r_over_time", "plot_layer_profiles",
           "plot_trained_vs_random", "plot_multimodal_vs_unimodal", "plot_region_counts"]

# Colour of each site class (colour-blind-safe Okabe-Ito palette); unknown classes are grey.
CLASS_COLORS = {
    "multimodal": "#D55E00",
    "multimodal-language-only": "#E69F00",
    "multimodal-vision-only": "#CC79A7",
    "multimodal-partial": "#F0E442",
    "vision": "#0072B2",
    "language": "#009E73",
    "responsive": "#999999",
    "none": "#DDDDDD",
    "dropped": "#000000",
}
# Draw order: background classes first so sites are on top.
_CLASS_ORDER = ["dropped", "none", "responsive", "language", "vision", "multimodal-partial",
                "multimodal-vision-only", "multimodal-language-only", "multimodal"]
_DPI = 90


def class_color(cls: str) -> str:
    """Colour of a site class (``CLASS_COLORS``; grey for a class it does not know)."""
    return CLASS_COLORS.get(str(cls), "#777777")


def _class_rank(cls: str) -> int:
    return _CLASS_ORDER.index(cls) if cls in _CLASS_ORDER else -1


def _ordered_classes(classes: Sequence[str]) -> list[str]:
    return sorted(set(map(str, classes)), key=lambda c: (_class_rank(c), c))


def figure_png(fig: Figure, dpi: int = _DPI) -> bytes:
    """PNG bytes of ``fig`` with no metadata that varies between runs.

    Parameters
    ----------
    fig : Figure
    dpi : int

    Returns
    -------
    png : bytes
    """
    buf = io.BytesIO()
    # Software carries matplotlib's version; no date is written by Agg. Dropping it keeps
    # the bytes a function of the data only.
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None},
                bbox_inches="tight", pad_inches=0.1)  # legends sit below the axes
    return buf.getvalue()


def _text(value) -> str:
    """User text for matplotlib: a ``$`` in a name must not start mathtext."""
    return str(value).replace("$", r"\$")


def _grid(n_panels: int, max_cols: int) -> tuple[int, int]:
    """Rows and columns of a panel grid: at most ``max_cols`` wide, one panel when empty."""
    n = max(n_panels, 1)
    n_cols = min(n, max_cols)
    return -(-n // n_cols), n_cols


def _subplots(nrows: int = 1, ncols: int = 1, *, figsize, **kw):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10,
            color="#555555")
    ax.set_axis_off()


def _class_legend(fig: Figure, classes: Sequence[str], loc: str = "lower center",
                  ncol: int | None = None) -> None:
    shown = _ordered_classes(classes)[::-1]
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7,
                      markerfacecolor=class_color(c),
                      markeredgecolor="#333333" if c in ("none", "dropped") else class_color(c),
                      label=c) for c in shown]
    if handles:
        fig.legend(handles=handles, loc=loc, ncol=ncol or min(len(handles), 5), frameon=False,
                   fontsize=8, bbox_to_anchor=(0.5, -0.02))


def plot_glass_brain_sites(coords: np.ndarray, classes: Sequence[str],
                           title: str | None = None, figure: Figure | None = None) -> Figure:
    """Electrodes on a glass brain (MNI), coloured by site class.

    Parameters
    ----------
    coords : array of shape (n_electrodes, 3)
        MNI coordinates in mm.
    classes : sequence of str, length n_electrodes
        Site class of each electrode (``'dropped'`` for excluded channels).
    title : str, optional
    figure : Figure, optional

    Returns
    -------
    fig : Figure
    """
    from nilearn import plotting

    coords = np.asarray(coords, dtype=float).reshape(-1, 3)
    classes = np.asarray([str(c) for c in classes], dtype=object)
    fig = figure if figure is not None else Figure(figsize=(10, 3.4))
    display = plotting.plot_glass_brain(None, display_mode="lzry", figure=fig, title=title,
                                        plot_abs=False)
    ok = np.all(np.isfinite(coords), axis=1)
    for cls in _ordered_classes(classes[ok]):
        sel = ok & (classes == cls)
        big = cls.startswith("multimodal") or cls in ("vision", "language")
        display.add_markers(coords[sel], marker_color=class_color(cls),
                            marker_size=30 if big else 8,
                            edgecolors="#333333" if cls in ("none", "dropped") else "none",
                            linewidths=0.4)
    _class_legend(fig, classes[ok])
    return fig


def plot_shaft_diagram(electrodes: pd.DataFrame, classes: Sequence[str],
                       ax=None) -> Figure:
    """Contacts along their shafts, coloured by class: for subjects without MNI coordinates.

    Parameters
    ----------
    electrodes : DataFrame
        ``shaft``, ``contact`` (int) per electrode.
    classes : sequence of str, length n_electrodes
        Site class of each electrode (``'dropped'`` for excluded channels, drawn as ``x``).
    ax : Axes, optional

    Returns
    -------
    fig : Figure
    """
    shafts = sorted(electrodes["shaft"].astype(str).unique())
    if ax is None:
        fig, ax = _subplots(figsize=(8, 0.35 * max(len(shafts), 3) + 1.2))
    else:
        fig = ax.figure
    if not shafts:
        _empty(ax, "no electrodes")
        return fig
    row = {s: i for i, s in enumerate(shafts)}
    y = electrodes["shaft"].astype(str).map(row).to_numpy()
    x = pd.to_numeric(electrodes["contact"], errors="coerce").to_numpy(dtype=float)
    classes = np.asarray([str(c) for c in classes], dtype=object)
    for i in row.values():
        xs = x[y == i]
        if np.isfinite(xs).any():
            ax.plot([np.nanmin(xs), np.nanmax(xs)], [i, i], color="#BBBBBB", lw=3, zorder=0,
                    solid_capstyle="round")
    for cls in _ordered_classes(classes):
        sel = classes == cls
        if cls == "dropped":
            ax.scatter(x[sel], y[sel], marker="x", color="#000000", s=25, lw=1, zorder=2)
        else:
            big = cls.startswith("multimodal") or cls in ("vision", "language")
            ax.scatter(x[sel], y[sel], color=class_color(cls), s=60 if big else 25, zorder=3,
                       edgecolors="#333333", linewidths=0.4)
    ax.set_yticks(range(len(shafts)), [_text(x) for x in shafts], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("contact number along the shaft")
    ax.set_ylabel("shaft")
    ax.spines[["top", "right"]].set_visible(False)
    _class_legend(fig, classes, loc="upper center")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_native_coordinates(electrodes: pd.DataFrame, classes: Sequence[str],
                            space: str) -> Figure:
    """Contacts at their own coordinates in three orthogonal projections, coloured by class:
    for subjects whose coordinates are in a space other than MNI (ACPC, native, ...), where a
    glass brain would be wrong and a shaft diagram would string ECoG grids into lines.

    Parameters
    ----------
    electrodes : DataFrame
        ``x``, ``y``, ``z`` (mm; NaN where unknown) per electrode.
    classes : sequence of str, length n_electrodes
        Site class of each electrode (``'dropped'`` drawn as ``x``).
    space : str
        The coordinates' space label, printed on the figure.

    Returns
    -------
    fig : Figure
    """
    fig, axes = _subplots(1, 3, figsize=(10, 3.8))
    xyz = electrodes[["x", "y", "z"]].to_numpy(dtype=float)
    ok = np.isfinite(xyz).all(axis=1)
    classes = np.asarray([str(c) for c in classes], dtype=object)
    views = [("sagittal", 1, 2, "y (mm)", "z (mm)"), ("coronal", 0, 2, "x (mm)", "z (mm)"),
             ("axial", 0, 1, "x (mm)", "y (mm)")]
    for ax, (name, i, j, xlabel, ylabel) in zip(axes, views, strict=True):
        for cls in _ordered_classes(classes):
            sel = ok & (classes == cls)
            if cls == "dropped":
                ax.scatter(xyz[sel, i], xyz[sel, j], marker="x", color="#000000", s=18, lw=1,
                           zorder=2)
            else:
                big = cls.startswith("multimodal") or cls in ("vision", "language")
                ax.scatter(xyz[sel, i], xyz[sel, j], color=class_color(cls),
                           s=45 if big else 18, zorder=3, edgecolors="#333333", linewidths=0.4)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"contacts in {_text(space)} space (not MNI: not comparable across subjects)",
                 fontsize=9)
    _class_legend(fig, classes, loc="lower center")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig


def plot_r_over_time(bin_centers: np.ndarray, curves: dict[str, dict[str, np.ndarray]],
                     electrodes: Sequence[str], alignments: Sequence[str],
                     ci: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
                     ) -> Figure:
    """Out-of-sample r over time bins, one panel per electrode x alignment, a line per model.

    Parameters
    ----------
    bin_centers : array of shape (n_bins,) or dict of str to array
        Bin centres in s relative to the event (one array per alignment when a dict).
    curves : dict
        ``curves[alignment][model]`` -> array of shape (n_shown_electrodes, n_bins).
    electrodes : sequence of str
        The electrodes shown (rows), in the order of the curves' first axis.
    alignments : sequence of str
        Columns.
    ci : dict, optional
        ``ci[alignment][model]`` -> (low, high), each (n_shown_electrodes, n_bins); shaded.

    Returns
    -------
    fig : Figure
    """
    n_rows, n_cols = max(len(electrodes), 1), max(len(alignments), 1)
    fig, axes = _subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 1.9 * n_rows + 0.8),
                             squeeze=False, sharex="col")
    if not len(electrodes):
        _empty(axes[0, 0], "no electrodes to show")
        return fig
    models = sorted({m for a in alignments for m in curves.get(a, {})})
    cmap = matplotlib.colormaps["tab10"]
    colors = {m: cmap(i % 10) for i, m in enumerate(models)}
    for j, a in enumerate(alignments):
        t = np.asarray(bin_centers[a] if isinstance(bin_centers, dict) else bin_centers)
        for i, name in enumerate(electrodes):
            ax = axes[i, j]
            for m, r in sorted(curves.get(a, {}).items()):
                ax.plot(t, r[i], color=colors[m], lw=1.2, label=_text(m))
                if ci and m in ci.get(a, {}):
                    lo, hi = ci[a][m]
                    ax.fill_between(t, lo[i], hi[i], color=colors[m], alpha=0.15, lw=0)
            ax.axhline(0, color="#888888", lw=0.6)
            ax.axvline(0, color="#888888", lw=0.6, ls=":")
            ax.set_title(_text(f"{name} — {a}"), fontsize=9)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("r", fontsize=8)
            if i == n_rows - 1:
                ax.set_xlabel("time from event (s)", fontsize=8)
    handles = [Line2D([], [], color=colors[m], lw=1.5, label=_text(m)) for m in models]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(models), 5), frameon=False,
               fontsize=8, bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_layer_profiles(profiles: dict[str, dict[str, np.ndarray]],
                        layers: dict[str, list[str]]) -> Figure:
    """r by layer for each model: one panel per model, a line per alignment.

    Parameters
    ----------
    profiles : dict
        ``profiles[model][alignment]`` -> array of shape (n_layers,): the mean over the
        shown electrodes of each layer's peak r over time bins.
    layers : dict of str to list of str
        Layer names of each model (x tick labels).

    Returns
    -------
    fig : Figure
    """
    models = sorted(profiles)
    n_rows, n_cols = _grid(len(models), max_cols=3)
    fig, axes = _subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 2.6 * n_rows + 0.3),
                          squeeze=False)
    if not models:
        _empty(axes[0, 0], "no model with more than one layer")
    for k, m in enumerate(models):
        ax = axes.flat[k]
        names = layers.get(m, [])
        for a, prof in sorted(profiles[m].items()):
            ax.plot(np.arange(len(prof)), prof, marker="o", ms=3, lw=1.2, label=a)
        ticks = np.arange(len(names))
        step = max(1, len(names) // 8)
        ax.set_xticks(ticks[::step], [_text(_short_layer(s)) for s in names[::step]], rotation=45,
                      ha="right", fontsize=7)
        ax.set_title(_text(m), fontsize=9)
        ax.set_ylabel("mean peak r", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes.flat[len(models):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def _short_layer(name: str, width: int = 18) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _scatter_panel(ax, x, y, colors, title, xlabel, ylabel) -> None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        _empty(ax, f"{title}\nno responsive electrodes")
        return
    ax.scatter(x[ok], y[ok], c=np.asarray(colors, dtype=object)[ok].tolist(), s=18,
               edgecolors="#333333", linewidths=0.3)
    lo = min(np.min(x[ok]), np.min(y[ok]), 0.0)
    hi = max(np.max(x[ok]), np.max(y[ok])) * 1.05 + 1e-3
    ax.plot([lo, hi], [lo, hi], color="#888888", lw=0.8, ls="--")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(_text(title), fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)


def plot_trained_vs_random(panels: list[dict]) -> Figure:
    """Trained model vs its random twin, one point per responsive electrode.

    Parameters
    ----------
    panels : list of dict
        Each with ``title``, ``random`` and ``trained`` (arrays of shape (n_electrodes,):
        mean r over each electrode's responsive bins) and ``significant`` (bool array:
        the trained model wins, q < fdr_q).

    Returns
    -------
    fig : Figure
    """
    n_rows, n_cols = _grid(len(panels), max_cols=4)
    fig, axes = _subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 3.2 * n_rows + 0.4),
                          squeeze=False)
    if not panels:
        _empty(axes[0, 0], "no model with a random twin")
    for ax, p in zip(axes.flat, panels, strict=False):
        colors = np.where(np.asarray(p["significant"], bool), "#D55E00", "#BBBBBB")
        _scatter_panel(ax, p["random"], p["trained"], colors, p["title"], "random twin r",
                       "trained r")
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    handles = [Line2D([], [], marker="o", ls="", color=c, label=lab)
               for c, lab in (("#D55E00", "trained > random (q < FDR level)"),
                              ("#BBBBBB", "not significant"))]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_multimodal_vs_unimodal(panels: list[dict]) -> Figure:
    """Best multimodal model vs best unimodal model, one point per responsive electrode.

    Parameters
    ----------
    panels : list of dict
        Each with ``title``, ``unimodal`` and ``multimodal`` (arrays of shape
        (n_electrodes,): mean r over responsive bins) and ``classes`` (site class of each).

    Returns
    -------
    fig : Figure
    """
    n = max(len(panels), 1)
    fig, axes = _subplots(1, n, figsize=(3.6 * n, 3.8), squeeze=False)
    if not panels:
        _empty(axes[0, 0], "no multimodal model configured")
    classes_seen: list[str] = []
    for ax, p in zip(axes.flat, panels, strict=False):
        colors = [class_color(c) for c in p["classes"]]
        classes_seen += [str(c) for c in p["classes"]]
        _scatter_panel(ax, p["unimodal"], p["multimodal"], colors, p["title"],
                       "best unimodal r", "multimodal r")
    _class_legend(fig, classes_seen)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def plot_region_counts(counts: pd.DataFrame) -> Figure:
    """Stacked horizontal bars: electrodes per region, split by site class.

    Parameters
    ----------
    counts : DataFrame
        Index: region; columns: class; values: counts.

    Returns
    -------
    fig : Figure
    """
    n = max(len(counts), 1)
    fig, ax = _subplots(figsize=(7, 0.28 * n + 1.4))
    if counts.empty:
        _empty(ax, "no sites")
        return fig
    left = np.zeros(len(counts))
    ypos = np.arange(len(counts))
    for cls in _ordered_classes(counts.columns)[::-1]:
        vals = counts[cls].to_numpy(dtype=float)
        ax.barh(ypos, vals, left=left, color=class_color(cls), label=cls, edgecolor="white",
                linewidth=0.4)
        left += vals
    ax.set_yticks(ypos, [_text(r) for r in counts.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("electrodes")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig
