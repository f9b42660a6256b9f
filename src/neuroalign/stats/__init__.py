"""Statistics stage: responsive bins, paired block-swap comparisons, multimodal sites.

docs/DESIGN.md §4 and §6 are the contract. ``comparisons`` holds the math (arrays in, arrays out),
``sites`` the comparison plan, the electrode-level claims and the classes, ``build`` the files
(per-subject job and the pooled job).
"""

from typing import TYPE_CHECKING

from ..utils import lazy_exports

# Imported on first use (PEP 562), so that importing the stage, e.g. for its
# command-line parser, costs nothing: the exports are the imports below.
if TYPE_CHECKING:
    from .build import (
        check_compatible,
        compute_stats,
        load_encodings,
        pool_sites,
        run_pool,
        run_stats,
    )
    from .comparisons import (
        bh_fdr,
        bonferroni,
        check_blocks,
        electrode_swap_test,
        intersection_union,
        mean_r_over_bins,
        min_blocks,
        pair_selection,
        responsive_bins,
        simes,
        stats_seed,
    )
    from .sites import (
        COMPARISON_COLUMNS,
        assign_classes,
        claim_columns,
        classify_alignment,
        combine_alignments,
        compare_alignment,
        model_roles,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "responsive_bins",
    "electrode_swap_test",
    "pair_selection",
    "intersection_union",
    "bonferroni",
    "simes",
    "bh_fdr",
    "min_blocks",
    "check_blocks",
    "stats_seed",
    "mean_r_over_bins",
    "model_roles",
    "compare_alignment",
    "classify_alignment",
    "combine_alignments",
    "assign_classes",
    "claim_columns",
    "COMPARISON_COLUMNS",
    "load_encodings",
    "check_compatible",
    "compute_stats",
    "run_stats",
    "pool_sites",
    "run_pool",
]
