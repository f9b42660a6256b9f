"""Re-referencing plans for SEEG contacts: Laplacian, bipolar, common average, none.

A plan is a weight matrix from input channels to re-referenced outputs, built from
the labels alone (shaft and contact, :func:`neuroalign.data.labels.parse_label`),
so that the preprocessing can read and re-reference one chunk of channels at a time.
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
    """

    out_names: list[str]
    weights: np.ndarray
    dropped: dict[str, str] = field(default_factory=dict)
    common: np.ndarray | None = None


def reference_plan(
    names: Sequence[str],
    reference: str,
    usable: np.ndarray | None = None,
    *,
    verbose: bool | str | int | None = None,
) -> ReferencePlan:
    """Plan a re-reference of sEEG channels from their labels.

    Parameters
    ----------
    names : list of str, length n_in
        Channel labels, parsed with :func:`neuroalign.data.labels.parse_label`.
    reference : 'laplacian' | 'bipolar' | 'car' | 'none'
        ``laplacian``: channel minus the mean of its usable same-shaft neighbours at contact
        ±1 (one or two; channels with none are dropped). ``bipolar``: contact ``k`` minus
        contact ``k + 1`` of the same shaft, named ``"A1-A2"``. ``car``: minus the mean of all
        usable channels. ``none``: unchanged.
    usable : array of shape (n_in,), dtype bool | None
        Channels allowed in outputs and as neighbours; all when None. Non-neural channels
        (DC, trigger, EKG/ECG) are never usable.
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
    # (shaft, contact) -> input index, usable channels only, so unusable ones are never neighbours.
    where = {parsed[i]: i for i in range(n_in) if usable[i] and parsed[i][1] is not None}

    rows: list[np.ndarray] = []
    out_names: list[str] = []
    common = None
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
            shaft, contact = parsed[i]
            if contact is None:
                dropped[names[i]] = "laplacian: no contact number in the label"
                continue
            nbrs = [where[(shaft, c)] for c in (contact - 1, contact + 1) if (shaft, c) in where]
            if not nbrs:
                dropped[names[i]] = "laplacian: no clean same-shaft neighbour"
                continue
            row = np.zeros(n_in)
            row[i] = 1.0
            row[nbrs] -= 1.0 / len(nbrs)
            rows.append(row)
            out_names.append(names[i])
    else:  # bipolar
        used: set[int] = set()
        for i in np.flatnonzero(usable):
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
            if i not in used:
                reason = ("bipolar: no contact number in the label" if parsed[i][1] is None
                          else "bipolar: no clean consecutive contact on the same shaft")
                dropped[names[i]] = reason

    weights = np.array(rows) if rows else np.zeros((0, n_in))
    logger.info("Reference %r: %d outputs from %d channels, %d dropped", reference,
                len(out_names), n_in, len(dropped))
    return ReferencePlan(out_names=out_names, weights=weights, dropped=dropped, common=common)
