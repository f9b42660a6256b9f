"""What the data stage needs of a dataset reader: the :class:`MovieDataset` protocol.

Every layout the pipeline reads (:class:`~neuroalign.data.braintreebank.BrainTreeBank`,
:class:`~neuroalign.data.bids.BIDSMovieDataset`) implements these methods, and the data
stage (``data.build``, ``data.check``) calls nothing else, so a reader for a new layout is
one class with these methods, returned by :func:`neuroalign.data.build.open_dataset`.
``tests/test_data_build.py`` checks both readers against the protocol and that the stage
calls only its methods.

A *trial* is one continuous recording of one subject watching (part of) one movie; trials
are integers, unique within a subject. Every method raises ``FileNotFoundError`` or
``ValueError`` naming the file (and field) it could not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .braintreebank import TriggerMapping

__all__ = ["MovieDataset", "DATASET_METHODS"]


@runtime_checkable
class MovieDataset(Protocol):
    """A dataset of intracranial recordings made while subjects watched movies."""

    #: The dataset's folder (``dataset.root`` of the config), named in messages.
    root: Path

    def subjects(self) -> list[str]:
        """Subject ids with at least one usable recording, in a stable order."""
        ...

    def trials(self, subject: str) -> list[int]:
        """The trials of ``subject``, sorted."""
        ...

    def recording_path(self, subject: str, trial: int) -> Path:
        """The file holding the trial's recording (for messages and provenance)."""
        ...

    def n_samples(self, subject: str, trial: int) -> int:
        """Length of the trial's recording in samples."""
        ...

    def check_recording(self, subject: str, trial: int) -> None:
        """Raise if the recording cannot be read as the electrode table describes it."""
        ...

    def read_channels(self, subject: str, trial: int, indices: list[int]) -> np.ndarray:
        """Raw channels by their ``index`` in :meth:`electrode_table`.

        Returns
        -------
        data : array of float64, shape (len(indices), n_samples), in microvolts (the unit of
            the Brain TreeBank release, so that amplitude thresholds mean the same)
        """
        ...

    def movie(self, subject: str, trial: int) -> str:
        """Id of the movie shown in the trial (the stem of its file under ``movies.root``)."""
        ...

    def trigger_mapping(self, subject: str, trial: int) -> TriggerMapping:
        """Movie time -> recording sample, with the sampling rate and the pauses."""
        ...

    def line_freq(self, subject: str, trial: int) -> tuple[float | None, str]:
        """(mains frequency in Hz or None when not recorded, the file it was looked up in)."""
        ...

    def transcript_path(self, movie: str) -> Path:
        """The file holding the movie's words (named in messages)."""
        ...

    def transcript_inputs(self, movie: str) -> list[Path]:
        """Every file the movie's transcript is read from (their hashes are provenance)."""
        ...

    def transcript(self, movie: str) -> pd.DataFrame:
        """The movie's words, one row each, in time order, words without a time in place.

        Returns
        -------
        words : DataFrame
            At least ``start``, ``end`` (s of movie time; NaN when untimed) and ``text``,
            and ``sentence_idx`` or ``is_onset`` to group the words into sentences.
        """
        ...

    def electrode_table(self, subject: str) -> pd.DataFrame:
        """Every recorded channel, one row each, with its location and exclusion reason.

        Returns
        -------
        table : DataFrame
            ``ELECTRODE_COLUMNS`` of :mod:`neuroalign.artifacts` plus ``index`` (the
            channel's position for :meth:`read_channels`); ``clean`` and ``reason`` say
            what metadata alone excludes (the signal checks come later).
        """
        ...


#: The protocol's attributes and methods: all the data stage may use of a dataset.
DATASET_METHODS = ("root", *(name for name in vars(MovieDataset)
                             if not name.startswith("_")
                             and callable(getattr(MovieDataset, name))))
