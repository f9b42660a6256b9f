"""Re-referencing plans for SEEG contacts and ECoG grids: Laplacian, bipolar, common average, none.

A plan is a weight matrix from input channels to re-referenced outputs, built from
the labels (shaft and contact, :func:`neuroalign.data.labels.parse_label`) and, where known,
each channel's type and group, so that the preprocessing can read and re-reference one chunk
of channels at a time.

The neighbour schemes (Laplacian, bipolar) hold for depth shafts only, where consecutive
contact numbers are physical neighbours on a line. On an ECoG grid they are not: ``F08`` and
``F09`` may end and start two rows of an 8 x 6 grid. ECoG contacts therefore get a common
average within their grid or strip (their ``group``) under either scheme, never a shaft
neighbour mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..utils import _check_option, logger
from .labels import is_non_neural, parse_label

__all__ = ["REFERENCES", "ReferencePlan", "reference_plan"]

REFERENCES = ("laplacian", "bipolar", "car", "none")




@dataclass
class ReferencePlan:
    """How output channels are built from input channels.

    Attributes
    ----------
    out_names : list of str
        Names of the re-referenced channels, in output order.
    weights : array of shape (n_out, n_in)
        Output ``i`` is ``weights[i] @ inputs``. Columns of unusable channels are zero.
    dropped : dict of str to str
        Input channels that appear in no output, with the reason.
    common : array of shape (n_in,) | None
        Weights of a signal subtracted from *every* output (``car``: ``1/n`` on usable channels),
        already included in ``weights``. Kept apart so the common signal can be computed once in
        a chunked pass instead of reading every channel for every chunk.
    group_means : array of shape (n_groups, n_in) | None
        Weights of each ECoG grid's or strip's mean, for the contacts referenced to it
        (already included in ``weights``), kept apart for the same reason as ``common``.
    output_group : array of int, shape (n_out,) | None
        The row of ``group_means`` each output subtracts; -1 for none.
    """

    out_names: list[str]
    weights: np.ndarray
    dropped: dict[str, str] = field(default_factory=dict)
    common: np.ndarray | None = None
    group_means: np.ndarray | None = None
    output_group: np.ndarray | None = None


def reference_plan(
    names: Sequence[str],
    reference: str,
    usable: np.ndarray | None = None,
    *,
    kinds: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    verbose: bool | str | int | None = None,
) -> ReferencePlan:
    """Plan a re-reference of iEEG channels from their labels, types and groups.

    Parameters
    ----------
    names : list of str, length n_in
        Channel labels, parsed with :func:`neuroalign.data.labels.parse_label`.
    reference : 'laplacian' | 'bipolar' | 'car' | 'none'
        ``laplacian``: channel minus the mean of its usable same-shaft neighbours at contact
        ±1 (one or two; channels with none are dropped; two contacts that are each other's
        only neighbour give one output, the pair ``"A1-A2"``). ``bipolar``: contact ``k`` minus
        contact ``k + 1`` of the same shaft, named ``"A1-A2"``. Under both, ECoG contacts
        (``kinds``) are instead referenced to the mean of the usable contacts of their group
        (grid or strip; contacts alone in theirs are dropped, and a group of two gives one
        output, the pair ``"S1-S2"``). ``car``: minus the mean of all
        usable channels. ``none``: unchanged.
    usable : array of shape (n_in,), dtype bool | None
        Channels allowed in outputs and as neighbours; all when None. Non-neural channels
        (DC, trigger, EKG/ECG) are never usable.
    kinds : list of str, length n_in | None
        Channel types (BIDS: ``SEEG``, ``ECOG``, ``DBS``; case-insensitive). None, or ``''``
        for a channel: a depth contact.
    groups : list of str, length n_in | None
        The grid or strip of each ECoG contact; its label prefix where None or ``''``.
    verbose : bool | str | int | None
        Control logging.

    Returns
    -------
    plan : ReferencePlan
    """
    _check_option("reference", reference, REFERENCES)
    names = [str(n) for n in names]
    n_in = len(names)
    usable = np.ones(n_in, bool) if usable is None else np.asarray(usable, bool).copy()
    if usable.shape != (n_in,):
        raise ValueError(f"usable must have shape ({n_in},) like names, got {usable.shape}.")
    dropped: dict[str, str] = {}
    for i, name in enumerate(names):
        if not usable[i]:
            dropped[name] = "marked unusable"
        elif is_non_neural(name):
            usable[i] = False
            dropped[name] = "non-neural channel (DC/trigger/EKG)"

    parsed = [parse_label(n) for n in names]
    is_grid = np.zeros(n_in, bool)
    if kinds is not None:
        if len(kinds) != n_in:
            raise ValueError(f"kinds must have length {n_in} like names, got {len(kinds)}.")
        is_grid = np.array([str(k).upper() == "ECOG" for k in kinds])
    if groups is not None and len(groups) != n_in:
        raise ValueError(f"groups must have length {n_in} like names, got {len(groups)}.")
    group_of = [(str(groups[i]) if groups is not None and str(groups[i]) else parsed[i][0])
                for i in range(n_in)]
    # (shaft, contact) -> input index, usable depth contacts only, so unusable ones and grid
    # contacts are never shaft neighbours.
    where = {parsed[i]: i for i in range(n_in)
             if usable[i] and not is_grid[i] and parsed[i][1] is not None}

    rows: list[np.ndarray] = []
    out_names: list[str] = []
    common = None
    grid_rows: dict[int, np.ndarray] = {}
    grid_names: dict[int, str] = {}
    means: list[np.ndarray] = []
    mean_of: dict[int, int] = {}  # grid contact -> its row of `means`
    if reference in ("laplacian", "bipolar") and is_grid.any():
        members: dict[str, list[int]] = {}
        for i in np.flatnonzero(usable & is_grid):
            members.setdefault(group_of[i], []).append(int(i))
        for group, idx in members.items():
            if len(idx) < 2:
                dropped[names[idx[0]]] = (f"{reference} on ECoG: grid/strip {group!r} has no "
                                          "other clean contact to average")
                continue
            if len(idx) == 2:
                # Two contacts minus their mean are ±(a − b) / 2: one signal, whose envelope
                # would count twice. Keep it once, as the bipolar pair.
                a, b = idx
                row = np.zeros(n_in)
                row[a], row[b] = 1.0, -1.0
                grid_rows[a] = row
                grid_names[a] = f"{names[a]}-{names[b]}"
                dropped[names[b]] = (f"{reference} on ECoG: grid/strip {group!r} has two clean "
                                     f"contacts, kept once as {grid_names[a]}")
                continue
            mean = np.zeros(n_in)
            mean[idx] = 1.0 / len(idx)
            means.append(mean)
            for i in idx:
                row = -mean.copy()
                row[i] += 1.0
                grid_rows[i] = row
                mean_of[i] = len(means) - 1
    if reference in ("none", "car"):
        idx = np.flatnonzero(usable)
        for i in idx:
            row = np.zeros(n_in)
            row[i] = 1.0
            rows.append(row)
            out_names.append(names[i])
        if reference == "car" and len(idx):
            common = np.zeros(n_in)
            common[idx] = 1.0 / len(idx)
            rows = [row - common for row in rows]
    elif reference == "laplacian":
        for i in np.flatnonzero(usable):
            if is_grid[i]:
                if i in grid_rows:
                    rows.append(grid_rows[i])
                    out_names.append(grid_names.get(i, names[i]))
                continue
            shaft, contact = parsed[i]
            if contact is None:
                dropped[names[i]] = "laplacian: no contact number in the label"
                continue
            nbrs = [where[(shaft, c)] for c in (contact - 1, contact + 1) if (shaft, c) in where]
            if not nbrs:
                dropped[names[i]] = "laplacian: no clean same-shaft neighbour"
                continue
            if (len(nbrs) == 1 and (shaft, contact - 1) in where
                    and (shaft, contact - 2) not in where):
                # An isolated clean pair: each is the other's only neighbour, and a - b, b - a
                # are one signal, whose envelope would count twice. Kept once, at its first
                # contact, as the bipolar pair (as a grid of two is).
                first = nbrs[0]
                dropped[names[i]] = (f"laplacian: {names[first]} and {names[i]} are an "
                                     f"isolated clean pair, kept once as "
                                     f"{names[first]}-{names[i]}")
                continue
            pair_next = (len(nbrs) == 1 and (shaft, contact + 1) in where
                         and (shaft, contact + 2) not in where)
            row = np.zeros(n_in)
            row[i] = 1.0
            row[nbrs] -= 1.0 / len(nbrs)
            rows.append(row)
            out_names.append(f"{names[i]}-{names[nbrs[0]]}" if pair_next else names[i])
    else:  # bipolar
        used: set[int] = set()
        for i in np.flatnonzero(usable):
            if is_grid[i]:
                if i in grid_rows:
                    rows.append(grid_rows[i])
                    out_names.append(grid_names.get(i, names[i]))
                    used.add(int(i))
                continue
            shaft, contact = parsed[i]
            if contact is None:
                continue
            j = where.get((shaft, contact + 1))
            if j is None:
                continue
            row = np.zeros(n_in)
            row[i], row[j] = 1.0, -1.0
            rows.append(row)
            out_names.append(f"{names[i]}-{names[j]}")
            used.update((int(i), j))
        for i in np.flatnonzero(usable):
            if i not in used and names[i] not in dropped:
                reason = ("bipolar: no contact number in the label" if parsed[i][1] is None
                          else "bipolar: no clean consecutive contact on the same shaft")
                dropped[names[i]] = reason

    weights = np.array(rows) if rows else np.zeros((0, n_in))
    group_means = output_group = None
    if mean_of:  # some grid of three or more contacts (pairs need no mean)
        group_means = np.array(means)
        index = {n: i for i, n in enumerate(names)}
        output_group = np.array([mean_of.get(index.get(n, -1), -1) for n in out_names], int)
    logger.info("Reference %r: %d outputs from %d channels, %d dropped%s", reference,
                len(out_names), n_in, len(dropped),
                f" ({len(grid_rows)} ECoG contacts: common average within their grid/strip)"
                if grid_rows else "")
    return ReferencePlan(out_names=out_names, weights=weights, dropped=dropped, common=common,
                         group_means=group_means, output_group=output_group)
