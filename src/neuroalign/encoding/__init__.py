"""Encoding stage: cross-fitted ridge from network features to SEEG responses, block statistics.

docs/DESIGN.md §4 and §6 are the contract. ``ridge`` fits (torch), ``blockstats`` scores (NumPy),
``folds`` cuts time into contiguous folds that never split a block.
"""

from typing import TYPE_CHECKING

from ..utils import lazy_exports

# Imported on first use (PEP 562), so that importing the stage, e.g. for its
# command-line parser, costs nothing: the exports are the imports below.
if TYPE_CHECKING:
    from ._backend import get_device
    from .baselines import (
        banded_ratio_grid,
        concat_feature_spaces,
        cross_fitted_banded_predictions,
    )
    from .blockstats import (
        block_sums,
        bootstrap_ci,
        permutation_p,
        r_from_sums,
        r_from_totals,
        residual_block_autocorr,
    )
    from .folds import block_runs, contiguous_folds, split_halves
    from .ridge import (
        CrossFitResult,
        cross_fitted_predictions,
        solve_ridge_svd,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "get_device",
    "block_runs",
    "contiguous_folds",
    "split_halves",
    "solve_ridge_svd",
    "cross_fitted_predictions",
    "cross_fitted_banded_predictions",
    "concat_feature_spaces",
    "banded_ratio_grid",
    "CrossFitResult",
    "block_sums",
    "r_from_sums",
    "r_from_totals",
    "bootstrap_ci",
    "permutation_p",
    "residual_block_autocorr",
]
