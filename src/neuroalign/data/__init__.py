"""Data stage: raw recordings, transcripts and movies -> events, electrodes, responses.

Public API: the dataset readers (:class:`MovieDataset`, the protocol every reader
implements; :class:`BrainTreeBank`, :class:`BIDSMovieDataset`; :func:`open_dataset` opens
the one a config names), the stage's jobs (:func:`write_events`, :func:`write_electrodes`,
:func:`write_responses`; their outputs read with :func:`read_responses` and
:mod:`neuroalign.artifacts`), :func:`check_data` and :func:`braintreebank_to_bids`.
See docs/DESIGN.md §3–4.
"""

from typing import TYPE_CHECKING

from ..utils import lazy_exports

# Imported on first use (PEP 562), so that importing the stage, e.g. for its
# command-line parser, costs nothing: the exports are the imports below.
if TYPE_CHECKING:
    from .bids import BIDSMovieDataset
    from .braintreebank import BrainTreeBank
    from .build import (
        open_dataset,
        read_responses,
        write_electrodes,
        write_events,
        write_responses,
    )
    from .check import check_data
    from .dataset import MovieDataset
    from .to_bids import braintreebank_to_bids

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = ["MovieDataset", "BrainTreeBank", "BIDSMovieDataset", "open_dataset", "write_events",
           "write_electrodes", "write_responses", "read_responses", "check_data",
           "braintreebank_to_bids"]
