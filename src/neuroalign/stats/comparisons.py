"""The statistics' math: responsive bins, electrode-level paired block-swap tests, BH-FDR.

Pure functions on arrays (NumPy, SciPy, statsmodels); the file handling lives in ``build``.
Block sums are ``(n_blocks, 6, n_electrodes, n_bins)`` arrays of ``n, Σy, Σy², Σŷ, Σŷ², Σyŷ``
(docs/DESIGN.md §6), as stored in the encoding outputs' ``blockstats``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from ..data.blocks import min_swap_blocks
from ..encoding.blockstats import SH, SHH, SY, SYH, SYY, N, r_from_moments

# One stream per named test: the same rule as every job's (neuroalign.utils.stream_seed).
from ..utils import stream_seed as stats_seed

__all__ = ["bh_fdr", "responsive_bins", "electrode_swap_test", "min_blocks", "check_blocks",
           "stats_seed", "mean_r_over_bins", "pair_selection", "intersection_union",
           "bonferroni", "simes"]


def bh_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of any-shaped ``p`` (NaN entries stay NaN and are not counted).

    Parameters
    ----------
    p : array of any shape

    Returns
    -------
    q : array of the same shape
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def responsive_bins(encodings_trained: dict, fdr_q: float = 0.05, min_bins: int = 10) -> dict:
    """Responsive bins and electrodes of one subject and alignment (docs/DESIGN.md §6).

    A bin is responsive when at least one trained model's permutation p of r > 0 survives
    BH-FDR at ``fdr_q`` across all of the subject's model x electrode x bin tests (pooled
    over models rather than the best model's p, which the choice of model would bias). An
    electrode is responsive with at least ``min_bins`` responsive bins.

    Parameters
    ----------
    encodings_trained : dict of str to dict
        Model -> encoding output (``read_encoding``) of its trained fit; each needs ``p`` of
        shape (n_electrodes, n_bins) and the same ``electrodes``.
    fdr_q : float
    min_bins : int

    Returns
    -------
    result : dict
        ``bins`` bool (n_electrodes, n_bins); ``electrodes`` bool (n_electrodes,);
        ``n_bins`` int (n_electrodes,); ``q`` (n_models, n_electrodes, n_bins) and
        ``models`` (the axis-0 order of ``q``); ``names`` (electrode names).
    """
    if not encodings_trained:
        raise ValueError("responsive_bins needs at least one trained model's encoding.")
    models = list(encodings_trained)
    names = list(encodings_trained[models[0]]["electrodes"])
    for m in models[1:]:
        if list(encodings_trained[m]["electrodes"]) != names:
            raise ValueError(f"Models {models[0]!r} and {m!r} have different electrodes; they "
                             "must be fitted to the same responses.")
    p = np.stack([np.asarray(encodings_trained[m]["p"], dtype=np.float64) for m in models])
    q = bh_fdr(p)  # (n_models, n_electrodes, n_bins)
    bins = (np.nan_to_num(q, nan=1.0) < fdr_q).any(axis=0)
    n_bins = bins.sum(axis=1)
    return {"bins": bins, "electrodes": n_bins >= min_bins, "n_bins": n_bins, "q": q,
            "models": models, "names": names}


def mean_r_over_bins(r: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Mean r over each electrode's selected bins (NaN r counts as 0; NaN with no bins).

    Parameters
    ----------
    r : array of shape (n_electrodes, n_bins)
    bins : bool array of shape (n_electrodes, n_bins)

    Returns
    -------
    mean_r : array of shape (n_electrodes,)
    """
    r = np.nan_to_num(np.asarray(r, dtype=np.float64), nan=0.0)
    k = bins.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, (r * bins).sum(axis=1) / k, np.nan)


def min_blocks(n_permutations: int) -> int:
    """Fewest blocks for a swap test: ``2**m`` distinct swap patterns must reach the resamples
    (``data.blocks.min_swap_blocks``, the same minimum ``check-data`` and the encoding job
    enforce before any fit)."""
    return min_swap_blocks(n_permutations)


def check_blocks(n_blocks: int, n_permutations: int, what: str = "") -> None:
    """Refuse a swap test with fewer distinct swap patterns (``2**n_blocks``) than resamples."""
    need = min_blocks(n_permutations)
    if n_blocks < need:
        raise ValueError(
            f"{what + ': ' if what else ''}{n_blocks} blocks give only 2**{n_blocks} = "
            f"{2 ** n_blocks} distinct block-swap patterns, fewer than the {n_permutations} "
            f"permutations requested; a swap test needs at least {need} blocks "
            f"(2**m >= n_permutations; ~10 blocks for 1,000). Use shorter blocks "
            "(events.block_s), more data, or fewer stats.n_permutations.")


def _r(n, sy, syy, sh, shh, syh) -> np.ndarray:
    # A constant prediction carries no correlation: 0, not NaN, inside the swap tests.
    return np.nan_to_num(r_from_moments(n, sy, syy, sh, shh, syh), nan=0.0)


def _electrode_batches(bins: np.ndarray, n_targets_batch: int):
    """Groups of whole electrodes (those with any bin), about ``n_targets_batch`` bins each."""
    batch, size = [], 0
    for e in np.flatnonzero(bins.any(axis=1)):
        batch.append(e)
        size += int(bins[e].sum())
        if size >= n_targets_batch:
            yield np.array(batch)
            batch, size = [], 0
    if batch:
        yield np.array(batch)


def electrode_swap_test(sums_a: np.ndarray, sums_b: np.ndarray, bins: np.ndarray,
                        n_permutations: int = 1000,
                        rng: np.random.Generator | int | np.random.SeedSequence | None = None,
                        n_targets_batch: int = 2048, return_null: bool = False):
    """Paired block-swap test of ``mean Δr > 0`` over each electrode's bins (one-sided, A > B).

    Null: within each block A's and B's predictions are exchangeable. One swap matrix ``W``
    (n_permutations, n_blocks), each block swapped with probability 1/2, is drawn once and
    applied identically to every bin of every electrode, so the electrode's mean Δr over its
    bins is tested exactly: swapped model-A moments are ``Σ_b A + W @ (B - A)`` (B's are the
    complement) and only ``Σŷ, Σŷ², Σyŷ`` move, ``n, Σy, Σy²`` being shared. r undefined
    (constant prediction) counts as 0. ``p = (1 + #{Δ_null >= Δ_obs}) / (1 + n_permutations)``.

    Parameters
    ----------
    sums_a, sums_b : arrays of shape (n_blocks, 6, n_electrodes, n_bins)
        Block sums of models A and B on the same responses and blocks.
    bins : bool array of shape (n_electrodes, n_bins)
        The bins averaged per electrode; electrodes with none get NaN.
    n_permutations : int
    rng : Generator, SeedSequence, seed or None
    n_targets_batch : int
        Bins per matrix product (memory ~ ``n_permutations * 3 * n_targets_batch`` floats).
    return_null : bool

    Returns
    -------
    delta_r : array of shape (n_electrodes,)
        Observed mean over the electrode's bins of ``r_A - r_B``.
    p : array of shape (n_electrodes,)
    delta_null : array of shape (n_permutations, n_electrodes)
        Only if ``return_null``.
    """
    sums_a, sums_b = np.asarray(sums_a, np.float64), np.asarray(sums_b, np.float64)
    if sums_a.shape != sums_b.shape or sums_a.ndim != 4 or sums_a.shape[1] != 6:
        raise ValueError(f"Block sums must both have shape (n_blocks, 6, n_electrodes, n_bins); "
                         f"got {sums_a.shape} and {sums_b.shape}.")
    n_blocks, _, n_el, n_bins = sums_a.shape
    bins = np.asarray(bins, dtype=bool)
    if bins.shape != (n_el, n_bins):
        raise ValueError(f"'bins' must have shape {(n_el, n_bins)}, got {bins.shape}.")
    if not np.allclose(sums_a[:, :SH], sums_b[:, :SH]):
        raise ValueError("The two models' block sums are not on the same responses and blocks.")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    W = rng.integers(0, 2, size=(n_permutations, n_blocks)).astype(np.float64)
    delta = np.full(n_el, np.nan)
    p = np.full(n_el, np.nan)
    null = np.full((n_permutations, n_el), np.nan) if return_null else None
    for batch in _electrode_batches(bins, n_targets_batch):
        e_idx, b_idx = np.nonzero(bins[batch])  # targets of this batch, grouped by electrode
        sa = sums_a[:, :, batch[e_idx], b_idx]  # (n_blocks, 6, T)
        sb = sums_b[:, :, batch[e_idx], b_idx]
        ta, tb = sa.sum(0), sb.sum(0)  # (6, T)
        shared = (ta[N], ta[SY], ta[SYY])
        obs = _r(*shared, ta[SH], ta[SHH], ta[SYH]) - _r(*shared, tb[SH], tb[SHH], tb[SYH])
        diff = (sb[:, SH:] - sa[:, SH:]).reshape(n_blocks, -1)
        moved = (W @ diff).reshape(n_permutations, 3, -1)  # (n_permutations, 3, T)
        a_sw = [ta[j] + moved[:, j - SH] for j in (SH, SHH, SYH)]
        b_sw = [tb[j] - moved[:, j - SH] for j in (SH, SHH, SYH)]
        d = _r(*shared, *a_sw) - _r(*shared, *b_sw)  # (n_permutations, T)
        # Mean over each electrode's bins: targets are grouped by electrode, so reduceat.
        starts = np.flatnonzero(np.r_[True, e_idx[1:] != e_idx[:-1]])
        counts = np.diff(np.r_[starts, e_idx.size])
        obs_e = np.add.reduceat(obs, starts) / counts
        null_e = np.add.reduceat(d, starts, axis=1) / counts  # (n_permutations, n_in_batch)
        delta[batch] = obs_e
        # Tolerance: round-off must not turn the identity swap's tie into a non-exceedance.
        p[batch] = (1 + (null_e >= obs_e - 1e-12).sum(0)) / (1 + n_permutations)
        if return_null:
            null[:, batch] = null_e
    return (delta, p, null) if return_null else (delta, p)


def pair_selection(sums_a: np.ndarray, sums_b: np.ndarray, level: float = 0.05,
                   min_bins: int = 10) -> dict:
    """Bins and electrodes on which A vs B is tested, chosen invariantly to A/B block swaps.

    Per block ``k`` and model the within-block covariance of y with the prediction is
    ``C_k = Σyŷ - Σy Σŷ / n``; the statistic is the pair's sum ``C_k(A) + C_k(B)``, whose
    block values no swap of A's and B's sums in any block can change (a swap only permutes
    the two terms of each sum). Each bin gets the one-sided one-sample t-test over blocks of
    that sum (> 0: the pair predicts y within blocks); a bin is selected when that p is below
    ``level`` (a screen, uncorrected: it only decides what is tested), an electrode with at
    least ``min_bins`` selected bins. Because the whole selection is a function of quantities
    every swap leaves unchanged, the block-swap test of A vs B on the selected bins is exact
    conditionally on the selection (the selection cannot favour either model), whatever the
    screen's own error rate; the screen only trades power (a BH screen over all bins was
    much less powerful on generated data, see the README). Within-block covariances ignore
    between-block differences, so slow drift in the responses does not select electrodes.

    Parameters
    ----------
    sums_a, sums_b : arrays of shape (n_blocks, 6, n_electrodes, n_bins)
        Block sums of models A and B on the same responses and blocks.
    level : float
        Per-bin screening level of the selection t-test.
    min_bins : int

    Returns
    -------
    selection : dict
        ``bins`` bool (n_electrodes, n_bins), only bins of selected electrodes;
        ``electrodes`` bool (n_electrodes,); ``n_bins`` int (n_electrodes,);
        ``p`` (n_electrodes, n_bins) the selection t-test's p.
    """
    sums_a, sums_b = np.asarray(sums_a, np.float64), np.asarray(sums_b, np.float64)
    if sums_a.shape != sums_b.shape or sums_a.ndim != 4 or sums_a.shape[1] != 6:
        raise ValueError(f"Block sums must both have shape (n_blocks, 6, n_electrodes, n_bins); "
                         f"got {sums_a.shape} and {sums_b.shape}.")
    n_blocks = sums_a.shape[0]
    if n_blocks < 3:
        raise ValueError(f"pair_selection needs at least 3 blocks for its t-test over blocks, "
                         f"got {n_blocks}.")

    def cov(s):
        n = s[:, N]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, s[:, SYH] - s[:, SY] * s[:, SH] / np.where(n > 0, n, 1), 0.0)

    c = cov(sums_a) + cov(sums_b)  # (n_blocks, n_electrodes, n_bins), symmetric in A and B
    mean, sd = c.mean(axis=0), c.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(sd > 0, mean / (sd / np.sqrt(n_blocks)), 0.0)
    p = sps.t.sf(t, df=n_blocks - 1)
    bins = np.nan_to_num(p, nan=1.0) < level
    n_bins = bins.sum(axis=1)
    electrodes = n_bins >= int(min_bins)
    return {"bins": bins & electrodes[:, None], "electrodes": electrodes,
            "n_bins": np.where(electrodes, n_bins, 0), "p": p}


def intersection_union(p: np.ndarray, axis: int = 0) -> np.ndarray:
    """Intersection-union p of "every one of these nulls is false": the largest p.

    Valid at any level under any dependence (Berger 1982): the claim holds only if each
    component test rejects. NaN (a comparison not run, an electrode not selected) counts as
    1: a criterion that was not tested is not passed.

    Parameters
    ----------
    p : array, the tests along ``axis``
    axis : int

    Returns
    -------
    p_iut : array with ``axis`` removed
    """
    p = np.asarray(p, dtype=np.float64)
    if p.shape[axis] == 0:
        return np.ones(np.delete(p.shape, axis))
    return np.nan_to_num(p, nan=1.0).max(axis=axis)


def bonferroni(p: np.ndarray, axis: int = 0) -> np.ndarray:
    """Bonferroni p of "at least one of these nulls is false": ``min(1, m * min p)``.

    Valid under any dependence between the ``m`` tests along ``axis``; used to combine the
    claims of several models (whose p-values share the responses, so are dependent in ways
    no assumption covers). NaN counts as 1; ``m`` counts every test along ``axis``.

    Parameters
    ----------
    p : array, the tests along ``axis``
    axis : int

    Returns
    -------
    p_union : array with ``axis`` removed
    """
    p = np.asarray(p, dtype=np.float64)
    m = p.shape[axis]
    if m == 0:
        return np.ones(np.delete(p.shape, axis))
    return np.minimum(1.0, m * np.nan_to_num(p, nan=1.0).min(axis=axis))


def simes(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Simes p of the global null over the tests along ``axis``: ``min_i m p_(i) / i``.

    Valid when the p-values are independent or positively dependent (PRDS, Sarkar 1998),
    as the permutation p of r > 0 of neighbouring bins and of models fitted to the same
    responses are expected to be. NaN entries are dropped (all NaN gives 1).

    Parameters
    ----------
    p : array, the tests along ``axis``
    axis : int

    Returns
    -------
    p_global : array with ``axis`` removed
    """
    p = np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1)
    ok = np.isfinite(p)
    m = ok.sum(axis=-1)
    srt = np.sort(np.where(ok, p, np.inf), axis=-1)
    rank = np.arange(1, p.shape[-1] + 1)
    with np.errstate(invalid="ignore"):
        adj = np.where(rank <= m[..., None], m[..., None] * srt / rank, np.inf)
    out = adj.min(axis=-1) if p.shape[-1] else np.ones(p.shape[:-1])
    return np.minimum(1.0, np.where(m > 0, out, 1.0))
