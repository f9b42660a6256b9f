"""Features stage: embed each event (frame + text context) with networks or controls.

Public API: the model registry (:data:`REGISTRY`, :func:`get_model`, :func:`load_model`),
frame decoding (:func:`iter_frames`, :func:`read_frames`) and extraction to HDF5
(:func:`extract_features`, :func:`read_features`). See DESIGN.md §4–5.
"""

from .extract import extract_features, read_features
from .frames import iter_frames, read_frames
from .registry import REGISTRY, Loaded, ModelSpec, get_model, list_models, load_model

__all__ = ["REGISTRY", "ModelSpec", "Loaded", "get_model", "list_models", "load_model",
           "extract_features", "read_features", "iter_frames", "read_frames"]
