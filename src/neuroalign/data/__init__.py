"""Data stage: raw recordings, transcripts and movies -> events, electrodes, responses.

A dataset reader implements :class:`~neuroalign.data.dataset.MovieDataset`
(:func:`~neuroalign.data.build.open_dataset` opens the one the config names).
"""

from .dataset import MovieDataset

__all__ = ["MovieDataset"]
