"""Shared pieces of the two reports: inputs, templates, embedded figures, atomic writes."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..artifacts import read_encoding
from ..io import atomic_path, relative_to_results, sha256_file
from .figures import figure_png

__all__ = ["EmbeddedFigure", "read_encoding_summary", "render_template", "write_html",
           "write_png", "provenance", "class_rank", "fmt", "RESIDUAL_AUTOCORR_LIMIT",
           "SITE_CLASSES", "apply_pooled_classes"]

# docs/DESIGN.md §6: block resampling is trusted only where residual block sums are nearly
# independent; the report flags targets above this lag-1 correlation.
RESIDUAL_AUTOCORR_LIMIT = 0.1
# Classes that count as (some kind of) multimodal integration evidence, strongest first.
SITE_CLASSES = ["multimodal", "multimodal-partial", "multimodal-language-only",
                "multimodal-vision-only"]
_RANK = SITE_CLASSES + ["vision", "language", "responsive", "none", "dropped"]
_READ = ["electrodes", "r", "layer_r", "ci_low", "ci_high", "p", "residual_autocorr",
         "block_s_needed", "event_id", "movie"]


def apply_pooled_classes(sites: pd.DataFrame, pooled: pd.DataFrame, subject: str,
                         source: str | os.PathLike = "the pooled sites table") -> pd.DataFrame:
    """A subject's sites table with the final classes of the pooled stats table.

    ``class`` and every ``{alignment}_class`` are replaced by the pooled ones (BH across all
    subjects' electrodes); the pooled table's own columns (``subject_class``, the pooled
    ``q_*`` / ``{a}_q_*``) are added. Electrodes missing from the pooled table are refused.

    Parameters
    ----------
    sites : DataFrame
        The subject's ``stats/sites.parquet``.
    pooled : DataFrame
        ``stats/sites.parquet`` of the pool job (``subject``, ``electrode``, classes, q).
    subject : str
    source : str or path-like
        Named in errors.

    Returns
    -------
    sites : DataFrame
        Same rows and order as ``sites``.
    """
    for col in ("subject", "electrode", "class"):
        if col not in pooled.columns:
            raise ValueError(f"{source}: no column {col!r}; is it the pooled table of "
                             "`neuroalign stats pool`?")
    mine = pooled[pooled["subject"].astype(str) == str(subject)].set_index("electrode")
    missing = sorted(set(sites["electrode"]) - set(mine.index))
    if missing:
        raise ValueError(f"{source}: subject {subject!r} lacks electrodes {missing[:5]} "
                         f"({len(missing)} in all) of its sites table; subjects there: "
                         f"{sorted(pooled['subject'].astype(str).unique())}. Rerun the pool job.")
    classes = [c for c in mine.columns if c == "class" or (c.endswith("_class")
                                                          and c in sites.columns)]
    extra = [c for c in mine.columns if c not in sites.columns and c != "subject"]
    out = sites.copy()
    rows = mine.loc[out["electrode"]]
    for c in classes + extra:
        out[c] = rows[c].to_numpy()
    return out


def class_rank(cls: str) -> int:
    """Sort key of a site class: integration sites first, unknown classes before 'none'."""
    cls = str(cls)
    if cls in _RANK:
        return _RANK.index(cls)
    return _RANK.index("responsive") if not cls.startswith("multimodal") else 1


@dataclass
class EmbeddedFigure:
    """A rendered figure: PNG bytes, its file name and its caption."""

    name: str
    title: str
    caption: str
    png: bytes

    @classmethod
    def from_figure(cls, fig, name: str, title: str, caption: str) -> EmbeddedFigure:
        return cls(name=name, title=title, caption=caption, png=figure_png(fig))

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def read_encoding_summary(path: str | os.PathLike) -> dict[str, Any]:
    """Read the parts of an encoding output a report shows (no ``blockstats``).

    Parameters
    ----------
    path : path-like
        ``encoding/{model}/{init}/{alignment}.h5``.

    Returns
    -------
    enc : dict
        ``electrodes`` (list of str), ``r``, ``ci_low``, ``ci_high``, ``p``,
        ``residual_autocorr`` and, in outputs that have it, ``block_s_needed``
        (n_electrodes, n_bins), ``layer_r`` (n_layers, n_electrodes,
        n_bins), ``event_id``, ``movie`` (n_events,), ``attrs``, ``path``.
    """
    out = read_encoding(path, datasets=_READ)
    out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v)
                    for k, v in out["attrs"].items()}
    layers = out["attrs"].get("layers", [])
    out["layers"] = [x.decode() if isinstance(x, bytes) else str(x) for x in layers]
    out["path"] = str(path)
    return out


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape=True everywhere: electrode, region and model names come from user files.
    env = Environment(loader=PackageLoader("neuroalign.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    env.filters["pct"] = lambda x: "–" if x is None or not np.isfinite(x) else f"{x:.2f} %"
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/{name}`` with autoescaping."""
    from .figures import CLASS_COLORS

    return _environment().get_template(name).render(version=__version__,
                                                     class_colors=CLASS_COLORS, **context)


def fmt(value: Any, digits: int = 3) -> str:
    """Compact, deterministic text for a table cell (NaN as an en dash)."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "–"
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    if isinstance(value, float) or (isinstance(value, str) and value == "nan"):
        return "–"
    return str(value)


def write_html(text: str, out: str | os.PathLike) -> Path:
    """Write HTML atomically (temp file beside ``out``, then rename)."""
    with atomic_path(out, suffix=".html") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(out)


def write_png(png: bytes, out: str | os.PathLike) -> Path:
    """Write PNG bytes atomically."""
    with atomic_path(out, suffix=".png") as tmp:
        tmp.write_bytes(png)
    return Path(out)


def provenance(config: dict[str, Any], inputs: list[str | os.PathLike],
               sections: list[str] | None = None) -> dict[str, Any]:
    """Provenance block of a report: version, config hash, seed, inputs and their sha256.

    Input paths are shown relative to the config's results folder when below it, so the
    report's bytes do not depend on where the results folder lives.
    """
    from ..config import config_hash

    results = config.get("results", "results")
    rows = []
    for p in sorted(map(str, inputs)):
        path = Path(p)
        rows.append((relative_to_results(path, results),
                     sha256_file(path)[:16] if path.exists() else "missing"))
    rows.sort()
    # Where the results are written is not part of what was computed.
    sections = sections or [k for k in config if k != "results"]
    return {"neuroalign_version": __version__, "config_hash": config_hash(config, sections),
            "seed": config.get("seed"), "inputs": rows}


def safe_id(text: str) -> str:
    """An HTML id from arbitrary text (letters, digits, dashes)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def frame_records(df: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """Rows of ``df[columns]`` as formatted strings (for templates)."""
    return [[fmt(v) for v in row] for row in df[columns].itertuples(index=False, name=None)]
