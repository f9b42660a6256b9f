"""Electrode layouts and word timings for the simulator (real via neuroprobe, or synthetic).

``source="neuroprobe"`` reads the data files shipped in the PyPI package ``neuroprobe``
(Brain TreeBank MNI coordinates and word alignments) *without importing it* (its import
needs environment variables). ``source="synthetic"`` needs nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["neuroprobe_dir", "electrode_layout", "region_label", "word_table", "mark_labels"]

_MISSING = ("the simulator's source='neuroprobe' needs the data files of the PyPI package "
            "neuroprobe, a dependency of neuroalign: pip install neuroprobe, or use "
            "source='synthetic'")


def neuroprobe_dir() -> Path:
    """Return the installed ``neuroprobe`` package folder, located without importing it.

    Raises
    ------
    ImportError
        If the package or its data files cannot be found.
    """
    candidates = []
    try:
        spec = importlib.util.find_spec("neuroprobe")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += list(spec.submodule_search_locations)
    candidates += [str(Path(p) / "neuroprobe") for p in sys.path if p]
    for cand in candidates:
        path = Path(cand)
        if (path / "mni_coords").is_dir() and (path / "braintreebank_features_time_alignment").is_dir():
            return path
    raise ImportError(_MISSING)


# --------------------------------------------------------------------------- electrodes
def region_label(hem: str, x: float, y: float, z: float) -> str:
    """Coarse, *simulated* Desikan-Killiany-style region of an MNI position.

    neuroprobe ships no atlas labels, so the region is derived from the hemisphere and
    MNI position with crude lobe boundaries: deep contacts (``|x| < 22``) are white
    matter, otherwise ``y > 5`` frontal, ``z < -5 and y > -55`` temporal, ``y < -65``
    occipital, else parietal. It is meant for plots and grouping, not anatomy.

    Parameters
    ----------
    hem : str
        ``"L"`` or ``"R"``.
    x, y, z : float
        MNI coordinates in mm.

    Returns
    -------
    str
        E.g. ``"ctx-lh-temporal"`` or ``"Right-Cerebral-White-Matter"``.
    """
    h = "lh" if hem.upper().startswith("L") else "rh"
    if abs(x) < 22:
        return ("Left" if h == "lh" else "Right") + "-Cerebral-White-Matter"
    if y > 5:
        lobe = "frontal"
    elif z < -5 and y > -55:
        lobe = "temporal"
    elif y < -65:
        lobe = "occipital"
    else:
        lobe = "parietal"
    return f"ctx-{h}-{lobe}"


def _take_shafts(df: pd.DataFrame, n_min: int | None) -> pd.DataFrame:
    """Keep whole shafts, in file order, until at least ``n_min`` contacts."""
    if n_min is None:
        return df.reset_index(drop=True)
    keep, total = [], 0
    for shaft in pd.unique(df["shaft"]):
        if total >= n_min:
            break
        keep.append(shaft)
        total += int((df["shaft"] == shaft).sum())
    return df[df["shaft"].isin(keep)].reset_index(drop=True)


def electrode_layout(source: str, subject: int, n_min: int | None,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Brain contacts of one subject.

    Parameters
    ----------
    source : {"neuroprobe", "synthetic"}
        Real Brain TreeBank layout (``btbank{subject}``) or a synthetic one.
    subject : int
        Subject number (1-based; the real layout of Brain TreeBank subject ``subject``).
    n_min : int | None
        Minimum number of contacts (whole shafts are kept); ``None`` keeps all.
    rng : numpy.random.Generator
        Used by the synthetic layout only.

    Returns
    -------
    pandas.DataFrame, shape (n_contacts, 7)
        Columns ``label, shaft, contact, hem, x, y, z`` (MNI mm), shafts contiguous.
    """
    if source == "neuroprobe":
        path = neuroprobe_dir() / "mni_coords" / f"btbank{(subject - 1) % 10 + 1}_mni_coords.csv"
        raw = pd.read_csv(path)
        df = pd.DataFrame({
            "label": raw["electrode_label"].astype(str), "shaft": raw["name"].astype(str),
            "contact": raw["num"].astype(int), "hem": raw["hem"].astype(str),
            "x": raw["mni152_x"].astype(float), "y": raw["mni152_y"].astype(float),
            "z": raw["mni152_z"].astype(float)})
        # Group the contacts of a shaft together (stable: keeps file order otherwise).
        order = {s: i for i, s in enumerate(pd.unique(df["shaft"]))}
        df = df.iloc[np.argsort(df["shaft"].map(order).to_numpy(), kind="stable")]
        return _take_shafts(df.reset_index(drop=True), n_min)
    return _take_shafts(_synthetic_layout(rng, n_min or 130), n_min)


def _synthetic_layout(rng: np.random.Generator, n_min: int) -> pd.DataFrame:
    """Shafts named like the release (``LT1a``, ``RA``, ``L'``), straight lines in MNI space."""
    stems = ["T1a", "T2b", "A", "H", "F3a", "O1", "P2", "C", "I", "F1b"]
    rows, k = [], 0
    while len(rows) < n_min:
        hem = "L" if rng.random() < 0.5 else "R"
        stem = stems[k % len(stems)]
        shaft = (f"{hem}'" if k % 7 == 6 else f"{hem}{stem}") + ("" if k < 10 else str(k))
        n = int(rng.choice([6, 8, 10, 12, 14, 16]))
        sign = -1.0 if hem == "L" else 1.0
        # Lateral entry point on the cortex, moving medially 3.5 mm per contact.
        tip = np.array([sign * rng.uniform(55, 65), rng.uniform(-80, 40), rng.uniform(-30, 40)])
        step = np.array([-sign * 3.5, rng.normal(0, 0.7), rng.normal(0, 0.7)])
        for c in range(1, n + 1):
            x, y, z = tip + (n - c) * step
            rows.append((f"{shaft}{c}", shaft, c, hem, x, y, z))
        k += 1
    return pd.DataFrame(rows, columns=["label", "shaft", "contact", "hem", "x", "y", "z"])


def mark_labels(labels: list[str], rng: np.random.Generator, n_marks: int = 3) -> list[str]:
    """Add release-style marks (``*`` prefix or ``#`` suffix) to a few labels.

    Parameters
    ----------
    labels : list of str
        Clean brain labels.
    rng : numpy.random.Generator
        Picks the marked labels.
    n_marks : int
        How many labels carry a mark.

    Returns
    -------
    list of str
        Same order, some labels marked; readers strip the marks.
    """
    out = list(labels)
    for j, i in enumerate(rng.choice(len(out), size=min(n_marks, len(out)), replace=False)):
        out[i] = f"*{out[i]}" if j % 2 == 0 else f"{out[i]}#"
    return out


# --------------------------------------------------------------------------- words
@lru_cache(maxsize=64)
def _read_words(path: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    df = df[np.isfinite(df["start"]) & np.isfinite(df["end"])].sort_values("start", kind="stable")
    return df.reset_index(drop=True)


def _best_window(starts: np.ndarray, sent_start: np.ndarray, width: float) -> tuple[int, int]:
    """Densest window of ``width`` s beginning at a sentence start: (first, stop) indices."""
    stop = np.searchsorted(starts, starts + width - 1.0)
    counts = np.where(sent_start, stop - np.arange(len(starts)), -1)
    i = int(np.argmax(counts))
    return i, int(stop[i])


def word_table(source: str, duration: float, rng: np.random.Generator, min_words: int = 0,
               exclude: tuple[str, ...] = ()) -> tuple[pd.DataFrame, str]:
    """Words of a movie: one row per word, times in seconds of movie.

    For ``neuroprobe`` the densest contiguous stretch of a real Brain TreeBank transcript
    (starting at a sentence start; files in ``exclude`` are skipped) is shifted to start
    at 1 s; if it holds fewer than ``min_words`` words, a longer stretch is taken and its
    times compressed (speech sped up) to fit ``duration``.

    Parameters
    ----------
    source : {"neuroprobe", "synthetic"}
        Real word timing or synthetic sentences.
    duration : float
        Movie duration in s; every word ends before ``duration - 1``.
    rng : numpy.random.Generator
        Used by the synthetic transcript.
    min_words : int
        Minimum number of words wanted.
    exclude : tuple of str
        Transcript files already used by other movies.

    Returns
    -------
    words : pandas.DataFrame, shape (n_words, 8)
        ``start, end, text, sentence, sentence_idx, idx_in_sentence, is_onset, is_offset``.
    origin : str
        The transcript file used (or ``"synthetic"``).
    """
    if source != "neuroprobe":
        return _synthetic_words(duration, rng), "synthetic"
    files = sorted((neuroprobe_dir() / "braintreebank_features_time_alignment").glob(
        "subject*_trial*_words_df.csv"))
    files = [f for f in files if f.name not in exclude] or files
    span = duration - 2.0
    for stretch in np.arange(1.0, 2.01, 0.05):  # speed-up factor, 1 = real timing
        best = None
        for f in files:
            w = _read_words(str(f))
            first, stop = _best_window(w["start"].to_numpy(), w["context"].isna().to_numpy(),
                                       span * stretch + 1.0)
            if best is None or stop - first > best[2] - best[1]:
                best = (f, first, stop)
        if best[2] - best[1] >= min_words or stretch >= 2.0:
            break
    f, first, stop = best
    w = _read_words(str(f)).iloc[first:stop]
    t0 = float(w["start"].iloc[0])
    start = (w["start"].to_numpy() - t0) / stretch + 1.0
    end = np.maximum((w["end"].to_numpy() - t0) / stretch + 1.0, start + 0.01)
    keep = end < duration - 1.0
    text = w["full_word"].astype(str).to_numpy()[keep]
    new_sentence = w["context"].isna().to_numpy()[keep]
    new_sentence[0] = True
    return _assemble(start[keep], end[keep], text, new_sentence), f.name


_VOCAB = ("the a you I we they it this that what where why how go come see look know want "
          "think tell said get got find take make give need run wait stop here there now "
          "then never always just maybe really right okay yes no man woman house car door "
          "night day time way thing money home room friend doctor city road water light "
          "good bad big little old new long last").split()


def _synthetic_words(duration: float, rng: np.random.Generator) -> pd.DataFrame:
    """Sentences of 2-11 words from a small vocabulary at ~2.5 words/s with pauses."""
    starts, ends, text, new = [], [], [], []
    t = 1.0 + rng.uniform(0, 1)
    while True:
        n = int(rng.integers(2, 12))
        words = list(rng.choice(_VOCAB, size=n))
        for i, word in enumerate(words):
            d = rng.uniform(0.15, 0.35)
            if t + d >= duration - 1.0:
                return _assemble(np.array(starts), np.array(ends), np.array(text), np.array(new))
            starts.append(t)
            ends.append(t + d)
            text.append(str(word))
            new.append(i == 0)
            t += d + rng.uniform(0.02, 0.12)
        t += rng.uniform(0.1, 1.2)  # pause between sentences


def _assemble(start: np.ndarray, end: np.ndarray, text: np.ndarray,
              new_sentence: np.ndarray) -> pd.DataFrame:
    """Build the ``features.csv`` table from word times and sentence starts."""
    sentence_idx = np.cumsum(new_sentence) - 1
    df = pd.DataFrame({"start": np.round(start, 4), "end": np.round(end, 4), "text": text,
                       "sentence_idx": sentence_idx})
    df["idx_in_sentence"] = df.groupby("sentence_idx").cumcount()
    df["sentence"] = df.groupby("sentence_idx")["text"].transform(" ".join)
    df["is_onset"] = (df["idx_in_sentence"] == 0).astype(int)
    last = df.groupby("sentence_idx")["idx_in_sentence"].transform("max")
    df["is_offset"] = (df["idx_in_sentence"] == last).astype(int)
    return df[["start", "end", "text", "sentence", "sentence_idx", "idx_in_sentence",
               "is_onset", "is_offset"]]
