"""What a block design must allow before any fit: folds, circular shifts and block swaps.

Events are grouped into contiguous blocks of ``events.block_s`` s of movie (``assign_blocks``),
the unit of every resampling. Three uses of the blocks set minimums (docs/DESIGN.md §6):

- **Cross-fit folds** (``encoding.folds``): every fold must hold at least 2 blocks so that its
  halves A and B are cut at a block boundary (a split block would let the selection on one half
  score on the same block it predicts), and the fold after it more than ``gap_blocks`` blocks so
  the purge leaves training events. With fewer than ``2 * (1 + guard_blocks)`` blocks in a fold
  the guard blocks around the A/B cut protect at most one side (a warning, not a refusal).
- **Circular-shift test** (``encoding.blockstats.permutation_p``): within a trial of ``n_t``
  events whose longest block has ``g``, the admissible shifts are ``g .. n_t - g``
  (``n_t - 2 g + 1`` of them). A trial with none (a single block, or one block over half of its
  events) is left unshifted: its events keep their observed alignment in every resample, so the
  test is the shift test of the other trials (still exact for them); the trial's evidence is not
  used. An alignment whose every trial is unshiftable, or whose shift combinations cannot give
  ``p < fdr_q``, cannot be tested.
- **Block-swap test** (``stats.comparisons.electrode_swap_test``): ``2**n_blocks`` distinct swap
  patterns must reach ``stats.n_permutations``.

Pure NumPy, below every stage, so that ``check-data`` (before the workflow) and the encoding job
(before its fit) refuse a design with the same numbers and words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["min_swap_blocks", "min_fold_blocks", "cyclic_training_folds", "trial_shifts",
           "BlockDesign", "check_block_design"]


def min_swap_blocks(n_permutations: int) -> int:
    """Fewest blocks whose ``2**m`` distinct swap patterns reach ``n_permutations``."""
    return max(1, math.ceil(math.log2(max(int(n_permutations), 1))))


def cyclic_training_folds(n_folds: int, training: str) -> int:
    """How many of the folds after each fold train its model (``cyclic`` schemes only).

    ``cyclic``: ``(n_folds - 1) // 2``, the most with no cycle of two folds (fold f trains g
    and g trains f). ``sparse-cyclic``: ``(n_folds - 1) // 3``, the most with no cycle of two
    or three folds either (three steps of at most m folds forward never come back round
    ``n_folds`` when ``3 m < n_folds``).
    """
    return (n_folds - 1) // 2 if training == "cyclic" else (n_folds - 1) // 3


def min_fold_blocks(n_folds: int, gap_blocks: int = 1) -> int:
    """Fewest blocks for ``n_folds`` folds of two block-aligned halves whose training survives
    the purge of ``gap_blocks`` blocks: ``n_folds * max(2, gap_blocks + 1)``."""
    return int(n_folds) * max(2, int(gap_blocks) + 1)


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    return np.r_[0, change], np.r_[change, labels.size]


def trial_shifts(block_sizes: np.ndarray) -> int:
    """Admissible circular shifts of one trial: ``n_t - 2 g + 1`` (0 if none).

    Parameters
    ----------
    block_sizes : array of shape (n_blocks_in_trial,)
        Events per block of the trial, in time order.

    Returns
    -------
    n_shifts : int
        Shifts of at least the trial's longest block ``g`` from either end.
    """
    sizes = np.asarray(block_sizes, dtype=np.int64)
    if sizes.size == 0:
        return 0
    return int(max(0, sizes.sum() - 2 * sizes.max() + 1))


@dataclass
class BlockDesign:
    """Result of :func:`check_block_design`.

    Attributes
    ----------
    problems : list of str
        Each would make a fit or a test invalid or impossible; a run must stop.
    warnings : list of str
        Each weakens a test (a trial left unshifted, an exact test coarser than asked, a fold
        too small for its guard blocks); the run goes on.
    unshifted_trials : list of int
        Trial labels whose events the circular-shift test leaves unshifted.
    n_blocks : int
    n_shift_combinations : float
        Product over shiftable trials of their admissible shifts (the exact null's size).
    """

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unshifted_trials: list[int] = field(default_factory=list)
    n_blocks: int = 0
    n_shift_combinations: float = 0.0


def check_block_design(blocks, trials, *, n_folds: int, n_permutations: int,
                       fdr_q: float = 0.05, gap_blocks: int = 1, guard_blocks: int = 1,
                       block_s: float | None = None, what: str = "",
                       fold_blocks: list[int] | None = None) -> BlockDesign:
    """Check that a subject's block design allows the cross-fit and both tests.

    Parameters
    ----------
    blocks : array of shape (n_events,)
        Block label per event, events in time order, each block one contiguous run nested in a
        trial (labels may repeat across trials: a new run starts a new block).
    trials : array of shape (n_events,)
        Trial label per event (contiguous runs).
    n_folds : int
        ``encoding.folds``.
    n_permutations : int
        ``stats.n_permutations`` (shifts and swaps).
    fdr_q : float
        ``stats.fdr_q``: a shift test whose smallest attainable p is not below it is refused.
    gap_blocks, guard_blocks : int
        Of the cross-fit (``cross_fitted_predictions``).
    block_s : float or None
        ``events.block_s``, to state the settings in the messages.
    what : str
        Who is checked, e.g. ``"sub_1 / language"``, to start every message.
    fold_blocks : list of int or None
        Blocks in each fold as cut by ``contiguous_folds`` (the encoding job passes them); None
        checks only the total (``check-data``).

    Returns
    -------
    design : BlockDesign
    """
    blocks, trials = np.asarray(blocks), np.asarray(trials)
    if blocks.shape != trials.shape or blocks.ndim != 1:
        raise ValueError(f"'blocks' {blocks.shape} and 'trials' {trials.shape} must be 1-D arrays "
                         "of the same length.")
    out = BlockDesign()
    who = f"{what}: " if what else ""
    setting = f" of {block_s:g} s (events.block_s)" if block_s is not None else ""
    if blocks.size == 0:
        out.problems.append(f"{who}no events")
        return out
    t_starts, t_stops = _runs(trials)
    keys = np.r_[True, (blocks[1:] != blocks[:-1]) | (trials[1:] != trials[:-1])]
    b_starts = np.flatnonzero(keys)
    sizes = np.diff(np.r_[b_starts, blocks.size])
    out.n_blocks = n_blocks = int(b_starts.size)
    # Cross-fit folds.
    need_folds = min_fold_blocks(n_folds, gap_blocks)
    if n_blocks < need_folds:
        out.problems.append(
            f"{who}{n_blocks} blocks{setting}; {n_folds} folds (encoding.folds) of two halves cut "
            f"at block boundaries with a {gap_blocks}-block gap need at least {need_folds} blocks. "
            "Use shorter blocks or fewer folds.")
    elif fold_blocks is not None:
        small = [f for f, k in enumerate(fold_blocks) if k < 2]
        if small:
            out.problems.append(
                f"{who}fold(s) {small} hold a single block{setting} (blocks per fold: "
                f"{list(fold_blocks)}); every fold needs at least 2 so its halves are cut at a "
                "block boundary. Use shorter blocks or fewer folds.")
        guarded = 2 * (1 + guard_blocks)
        weak = [f for f, k in enumerate(fold_blocks) if 2 <= k < guarded]
        if weak:
            out.warnings.append(
                f"{who}fold(s) {weak} hold fewer than {guarded} blocks (blocks per fold: "
                f"{list(fold_blocks)}): the {guard_blocks} guard block(s) around their A/B cut "
                "protect only one side of it.")
    # Block-swap test.
    need_swap = min_swap_blocks(n_permutations)
    if n_blocks < need_swap:
        out.problems.append(
            f"{who}{n_blocks} blocks{setting} give 2**{n_blocks} = {2 ** n_blocks} distinct "
            f"block-swap patterns, fewer than the {n_permutations} permutations requested "
            f"(stats.n_permutations); the swap test needs at least {need_swap} blocks. Use "
            "shorter blocks, more data, or fewer permutations.")
    # Circular-shift test, per trial.
    combos = 1.0
    for s, e in zip(t_starts, t_stops, strict=True):
        inner = sizes[(b_starts >= s) & (b_starts < e)]
        k = trial_shifts(inner)
        trial = trials[s].item()
        if k == 0:
            out.unshifted_trials.append(trial)
            out.warnings.append(
                f"{who}trial {trial} ({e - s} events in {inner.size} block(s){setting}, the "
                f"longest {int(inner.max())}) cannot be shifted by a whole block: the shift test "
                "leaves its events unshifted, so only the other trials carry its evidence. A "
                f"trial needs at least 2 blocks, none over half of its events.")
        else:
            combos *= k
    out.n_shift_combinations = combos if len(out.unshifted_trials) < t_starts.size else 0.0
    need_shift = math.floor(1.0 / fdr_q + 1e-9)  # fewest shifts with 1 / (1 + shifts) < fdr_q
    if len(out.unshifted_trials) == t_starts.size:
        out.problems.append(
            f"{who}no trial can be circularly shifted by a whole block{setting} (every trial has "
            "a single block or one block over half of its events): the shift test of r > 0 "
            "needs at least one trial of 2 or more blocks, none over half of its events. Use "
            "shorter blocks.")
    elif combos < need_shift:
        out.problems.append(
            f"{who}the circular-shift test has only {combos:.0f} admissible shift(s){setting}: "
            f"its smallest p, 1/{combos + 1:.0f}, cannot fall below stats.fdr_q = {fdr_q:g}; "
            f"it needs at least {need_shift} shifts. Use shorter blocks or more events.")
    elif combos < n_permutations:
        out.warnings.append(
            f"{who}only {combos:.0f} distinct circular shifts for the {n_permutations} "
            "permutations requested: the shift test enumerates them all (exact), with "
            f"p-values no smaller than 1/{combos + 1:.0f}.")
    return out
