"""Features stage: embed each event (frame + text context) with networks or controls.

Public API: the model registry (:data:`REGISTRY`, :func:`get_model`, :func:`load_model`),
frame decoding (:func:`iter_frames`, :func:`read_frames`) and extraction to HDF5
(:func:`extract_features`, :func:`read_features`). See docs/DESIGN.md §4–5.
"""

from typing import TYPE_CHECKING

from ..utils import lazy_exports

# Imported on first use (PEP 562), so that importing the stage, e.g. for its
# command-line parser, costs nothing: the exports are the imports below.
if TYPE_CHECKING:
    from .extract import extract_features, read_features
    from .frames import iter_frames, read_frames
    from .registry import REGISTRY, Loaded, ModelSpec, get_model, list_models, load_model

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = ["REGISTRY", "ModelSpec", "Loaded", "get_model", "list_models", "load_model",
           "extract_features", "read_features", "iter_frames", "read_frames"]
