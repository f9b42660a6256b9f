"""Statistics stage: responsive bins, paired block-swap comparisons, multimodal sites.

DESIGN.md §4 and §6 are the contract. ``comparisons`` holds the math (arrays in, arrays out),
``sites`` the comparison plan and the site classes, ``build`` the files.
"""

from typing import TYPE_CHECKING

from ..utils import lazy_exports

# Imported on first use (PEP 562), so that importing the stage, e.g. for its
# command-line parser, costs nothing: the exports are the imports below.
if TYPE_CHECKING:
    from .build import check_compatible, compute_stats, load_encodings, run_stats
    from .comparisons import (
        bh_fdr,
        check_blocks,
        electrode_swap_test,
        mean_r_over_bins,
        min_blocks,
        responsive_bins,
        stats_seed,
    )
    from .sites import (
        COMPARISON_COLUMNS,
        classify_alignment,
        combine_alignments,
        compare_alignment,
        model_roles,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "responsive_bins",
    "electrode_swap_test",
    "bh_fdr",
    "min_blocks",
    "check_blocks",
    "stats_seed",
    "mean_r_over_bins",
    "model_roles",
    "compare_alignment",
    "classify_alignment",
    "combine_alignments",
    "COMPARISON_COLUMNS",
    "load_encodings",
    "check_compatible",
    "compute_stats",
    "run_stats",
]
