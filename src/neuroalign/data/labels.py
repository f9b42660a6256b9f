"""Electrode labels: cleaning, shaft/contact parsing, non-neural channels.

sEEG contacts are named after their shaft (depth electrode) followed by the contact number counted
from the deep tip: ``T1cIe11`` is contact 11 of shaft ``T1cIe``, ``L'12`` contact 12 of ``L'``.
Neighbour-based re-references (Laplacian, bipolar) need exactly this split.
"""

from __future__ import annotations

import re

__all__ = ["clean_label", "is_non_neural", "parse_label"]

# Greedy-free shaft part so the *whole* trailing run of digits becomes the contact number.
_LABEL_RE = re.compile(r"^(.*?)(\d+)$")

# Prefixes of channels that are not brain signals: DC inputs and triggers carry photodiode or
# task pulses, EKG/ECG the heart. They must never enter a common average or a neighbour mean.
_NON_NEURAL_PREFIXES = ("DC", "TRIG", "EKG", "ECG")


def clean_label(label: str) -> str:
    """Strip Brain TreeBank marks (``*`` and ``#``) and surrounding whitespace from a label.

    Parameters
    ----------
    label : str
        A channel label as found in the recording, e.g. ``"*T1cIe11"``.

    Returns
    -------
    label : str
        The cleaned label, e.g. ``"T1cIe11"``.
    """
    return str(label).replace("*", "").replace("#", "").strip()


def parse_label(label: str) -> tuple[str, int | None]:
    """Split a contact label into its shaft and contact number.

    Parameters
    ----------
    label : str
        A channel label; it is cleaned with :func:`clean_label` first.

    Returns
    -------
    shaft : str
        The label without its trailing integer, trailing spaces and dashes stripped
        (``"LT2a3"`` -> ``"LT2a"``, ``"L'12"`` -> ``"L'"``). The whole label when there is no
        trailing integer.
    contact : int | None
        The trailing integer, or ``None`` when the label does not end in digits (``"EKG"``).
    """
    label = clean_label(label)
    match = _LABEL_RE.match(label)
    if match is None:
        return label, None
    shaft, contact = match.groups()
    return shaft.rstrip(" -"), int(contact)


def is_non_neural(label: str) -> bool:
    """Whether a label names a non-neural channel (DC, trigger, EKG/ECG), case-insensitive.

    Parameters
    ----------
    label : str
        A channel label; it is cleaned with :func:`clean_label` first.

    Returns
    -------
    non_neural : bool
        True for labels starting with ``DC``, ``TRIG``, ``EKG`` or ``ECG``.
    """
    return clean_label(label).upper().startswith(_NON_NEURAL_PREFIXES)
