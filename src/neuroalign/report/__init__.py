"""Report stage: per-subject HTML reports, the cross-subject summary and ``sites.tsv``.

``render_subject_report``  encodings + stats tables -> ``subjects/{subject}/report.html``
``render_summary``         every subject's sites -> ``summary.html`` and ``sites.tsv``

Both HTML files are self-contained (figures as base64 PNG, CSS/JS inline, nothing fetched
from the network), escape every user string (Jinja2 autoescape), and are byte-identical
across reruns on the same inputs (docs/DESIGN.md §7).
"""

from typing import TYPE_CHECKING

from ..utils import lazy_exports

# Imported on first use (PEP 562), so that importing the stage, e.g. for its
# command-line parser, costs nothing: the exports are the imports below.
if TYPE_CHECKING:
    from .subject import SUBJECT_FIGURES, render_subject_report
    from .summary import SITES_TSV_COLUMNS, SUMMARY_FIGURES, render_summary, sites_table

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = ["render_subject_report", "render_summary", "sites_table", "SUBJECT_FIGURES",
           "SUMMARY_FIGURES", "SITES_TSV_COLUMNS"]
