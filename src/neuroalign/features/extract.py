"""Batched feature extraction: events -> one pooled, projected vector per named layer.

Output (DESIGN §4): ``features/{model}/{init}/{movie}/{alignment}.h5`` holding one float32
dataset ``(n_events, d)`` per named layer, in layer order, row i = event i. Layer names are
module paths and may in principle contain ``/`` (an HDF5 group separator), so dataset names
escape ``%`` as ``%25`` and ``/`` as ``%2F`` (:func:`dataset_name`); each dataset's ``layer``
attr and the file's ``layers`` attr keep the original names. Read with :func:`read_features`
(defined with the file's schema in :mod:`neuroalign.artifacts`, re-exported here).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..artifacts import EVENT_COLUMNS, read_features
from ..artifacts import feature_dataset_name as dataset_name
from ..data.events import find_movie
from ..io import open_h5_atomic, read_parquet_checked, sha256_file
from ..utils import _check_option, closest, get_device, logger, set_log_level
from ._base import WeightsNotFoundError
from .frames import iter_frames
from .registry import ModelSpec, get_model, load_model, weights_id

__all__ = ["extract_features", "read_features", "dataset_name", "pool",
           "PROVENANCE_KEYS"]

#: attrs that must all match for an existing output to be reused (the cache key)
PROVENANCE_KEYS = ("model", "init", "seed", "layers", "pooling", "srp_dim", "weights_sha256",
                   "events_sha256", "movie", "autocast", "neuroalign_version")


def pool(output: Any, pooling: str, attention_mask: Any = None) -> Any:
    """Reduce one layer's output to a vector per event.

    Parameters
    ----------
    output : tensor of shape (B, C, H, W), (B, T, D) or (B, D), or a tuple / model output
        whose first element is one.
    pooling : {'cls', 'mean'}
        For token sequences: the first (CLS) token, or the mean over tokens (attention-masked
        when ``attention_mask`` matches). Convolutional maps are always averaged over space.
    attention_mask : tensor of shape (B, T), optional

    Returns
    -------
    tensor of shape (B, d), float32
    """
    if hasattr(output, "last_hidden_state"):
        output = output.last_hidden_state
    if isinstance(output, tuple | list):
        output = output[0]
    x = output.float()
    if x.ndim == 4:  # (B, C, H, W)
        return x.mean(dim=(2, 3))
    if x.ndim == 3:  # (B, T, D)
        if pooling == "cls":
            return x[:, 0]
        if attention_mask is not None and attention_mask.shape == x.shape[:2]:
            m = attention_mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
            return (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return x.mean(dim=1)
    return x.reshape(x.shape[0], -1)


def _projector(layer: str, width: int, srp_dim: int, seed: int) -> Any:
    """Seeded sparse random projection (width -> srp_dim), one fixed matrix per layer."""
    from sklearn.random_projection import SparseRandomProjection

    state = (int(seed) + zlib.crc32(layer.encode())) % (2 ** 32)
    # fit() only reads the input's width, so the matrix is the same for every event
    return SparseRandomProjection(n_components=srp_dim, random_state=state,
                                  dense_output=True).fit(np.zeros((1, width), np.float32))


def _read_events(events: pd.DataFrame | str | os.PathLike,
                 movie: str | None) -> tuple[pd.DataFrame, str, str, str | None]:
    """(events sorted by event_id, their sha256, movie, alignment) with checks."""
    alignment = None
    if isinstance(events, pd.DataFrame):
        missing = [c for c in EVENT_COLUMNS if c not in events.columns]
        if missing:
            raise ValueError(f"events table: missing column(s) {missing}")
        df = events
        digest = hashlib.sha256(
            pd.util.hash_pandas_object(df[EVENT_COLUMNS], index=False).to_numpy().tobytes()
        ).hexdigest()
    else:
        from ..io import read_parquet_metadata

        df = read_parquet_checked(events, EVENT_COLUMNS)
        digest = sha256_file(events)
        meta = read_parquet_metadata(events)
        movie = movie or meta.get("movie")
        alignment = meta.get("alignment")
    if movie is None:
        raise ValueError("extract_features: 'movie' is needed (the events table does not name it)")
    df = df.sort_values("event_id", kind="stable").reset_index(drop=True)
    if not np.array_equal(df["event_id"].to_numpy(), np.arange(len(df))):
        raise ValueError(f"events of {movie!r}: 'event_id' must be dense 0..n-1 (row i = event i)")
    return df, digest, movie, alignment


def _cache_hit(out: Path, attrs: dict[str, Any]) -> bool:
    import h5py

    if not out.exists():
        return False
    try:
        with h5py.File(out, "r") as f:
            old = {k: f.attrs[k] for k in PROVENANCE_KEYS if k in f.attrs}
            complete = all(dataset_name(layer) in f for layer in attrs["layers"])
    except OSError as err:
        logger.warning("%s: unreadable (%s); recomputing", out, err)
        return False
    same = all(k in old and np.array_equal(np.asarray(old[k]).astype(str),
                                           np.asarray(attrs[k]).astype(str))
               for k in PROVENANCE_KEYS)
    return same and complete


@contextlib.contextmanager
def _hooks(model: Any, spec: ModelSpec, layers: list[str]) -> Iterator[dict[str, Any]]:
    """Forward hooks capturing each named layer's output into the yielded dict."""
    captured: dict[str, Any] = {}
    handles = []
    try:
        for layer in layers:
            try:
                module = model.get_submodule(layer)
            except AttributeError:
                near = closest(layer, [n for n, _ in model.named_modules() if n])
                hint = f" Closest module path: {near!r}." if near else ""
                raise ValueError(f"model {spec.name!r} has no layer {layer!r}. Available named "
                                 f"layers: {', '.join(spec.layers)}.{hint}") from None
            handles.append(module.register_forward_hook(
                lambda _m, _i, o, _name=layer: captured.__setitem__(_name, o)))
        yield captured
    finally:
        for h in handles:
            h.remove()


def _batches(spec: ModelSpec, events: pd.DataFrame, movies_root: Any, movie: str,
             batch_size: int) -> Iterator[tuple[np.ndarray, list[Any], list[str]]]:
    """Yield (row indices, frames, texts) per batch; frames in frame-time order for one decode."""
    needs_image = "image" in spec.inputs
    if needs_image:
        order = np.argsort(events["frame_time_s"].to_numpy(float), kind="stable")
        path = find_movie(movies_root, movie)
        frames: Iterator[Any] = iter_frames(path, events["frame_time_s"].to_numpy(float)[order],
                                            event_ids=events["event_id"].to_numpy()[order])
    else:
        order = np.arange(len(events))
    texts = events["text"].fillna("").astype(str).to_numpy()
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch_frames = [next(frames) for _ in rows] if needs_image else []
        yield rows, batch_frames, list(texts[rows])


def _run_network(spec: ModelSpec, model: Any, events: pd.DataFrame, movies_root: Any,
                 movie: str, layers: list[str], pooling: str, srp_dim: int, batch_size: int,
                 device: Any, autocast: str, seed: int, weights: str | None,
                 progress: bool) -> dict[str, np.ndarray]:
    import torch
    from tqdm.auto import tqdm

    transform = spec.preprocess(weights)
    model = model.to(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(autocast)
    use_autocast = dtype is not None and device.type == "cuda"
    if dtype is not None and not use_autocast:
        logger.warning("autocast=%r applies on CUDA only; running float32 on %s", autocast, device)
    n = len(events)
    feats: dict[str, np.ndarray] = {}
    projectors: dict[str, Any] = {}
    bar = tqdm(total=n, desc=f"{spec.name} features", unit="event", disable=not progress)
    # seeded (eval mode has no dropout, but a family may sample) without touching global RNG
    with (torch.random.fork_rng(devices=[]), _hooks(model, spec, layers) as captured,
          torch.inference_mode()):
        torch.manual_seed(seed)
        for rows, frames, texts in _batches(spec, events, movies_root, movie, batch_size):
            if spec.inputs == "image":
                inputs = transform(frames)
            elif spec.inputs == "text":
                inputs = transform(texts)
            else:  # image+text towers take both, in this order
                inputs = transform(frames, texts)
            if isinstance(inputs, dict):
                inputs = {k: v.to(device) for k, v in inputs.items()}
                mask = inputs.get("attention_mask")
            else:
                inputs, mask = inputs.to(device), None
            captured.clear()
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=use_autocast):
                model(**inputs) if isinstance(inputs, dict) else model(inputs)
            for layer in layers:
                if layer not in captured:
                    raise ValueError(f"model {spec.name!r}: layer {layer!r} exists but is not "
                                     "called in the forward pass, so it has no output")
                vec = pool(captured[layer], pooling, mask).cpu().numpy()  # (B, width)
                if layer not in feats:
                    width = vec.shape[1]
                    if width > srp_dim:
                        projectors[layer] = _projector(layer, width, srp_dim, seed)
                    feats[layer] = np.empty((n, min(width, srp_dim)), np.float32)
                if layer in projectors:
                    vec = projectors[layer].transform(vec)  # (B, srp_dim)
                feats[layer][rows] = vec
            bar.update(len(rows))
    bar.close()
    return feats


def extract_features(spec_name: str, init: str, events: pd.DataFrame | str | os.PathLike,
                     movies_root: str | os.PathLike | None, out: str | os.PathLike, *,
                     movie: str | None = None, alignment: str | None = None,
                     dataset_root: str | os.PathLike | None = None,
                     pooling: str | None = None, srp_dim: int = 1024, batch_size: int = 32,
                     device: str = "auto", autocast: str = "off", seed: int = 0,
                     layers: list[str] | None = None, weights: str | os.PathLike | None = None,
                     allow_download: bool = False, verbose: bool | str | int | None = None) -> Path:
    """Extract one model's features for every event of one movie and write them to HDF5.

    Parameters
    ----------
    spec_name : str
        Registry name (``neuroalign features list``).
    init : {'trained', 'random'}
        Trained weights or the seeded random twin.
    events : DataFrame | path-like
        Events table (DESIGN §4): ``event_id`` (dense 0..n-1), ``time_s``,
        ``frame_time_s``, ``text``, ``block``.
    movies_root : path-like
        Folder holding ``{movie}.mp4`` (or a frames folder); unused by text-only models.
    out : path-like
        Output ``.h5``; written atomically, and left untouched when it already holds
        features with the same provenance (cache hit).
    movie, alignment : str, optional
        Movie name and alignment; read from the events parquet's metadata when omitted
        (the movie is needed to find frames and latents, the alignment is only recorded).
    dataset_root : path-like, optional
        Dataset root; the ``sim-*`` controls read ``ground_truth.json`` from it.
    pooling : {'cls', 'mean'} | None
        Token pooling (None: the model's default). Convolutional maps are always
        averaged over space.
    srp_dim : int
        Layers wider than this are sparse-random-projected to it (seeded, per layer).
    batch_size : int
        Events per forward pass (bounds memory).
    device : {'auto', 'cpu', 'cuda'}
    autocast : {'off', 'bf16', 'fp16'}
        Mixed precision, on CUDA only (ignored with a warning on CPU).
    seed : int
        Random twin's init, controls' noise, projections.
    layers : list of str, optional
        Named layers to keep (default: all of the model's, in order).
    weights : path-like, optional
        Local weights overriding the registry lookup.
    allow_download : bool
        Permit network access for weights (off: HF_HUB_OFFLINE=1).
    verbose : bool | str | int | None
        Logging level (see :func:`neuroalign.utils.set_log_level`).

    Returns
    -------
    Path
        ``out``; datasets of shape (n_events, d) per layer, attrs as in :data:`PROVENANCE_KEYS`
        plus ``modality``, ``is_control``, ``alignment``, ``weights_source``, ``n_events``.
    """
    if verbose is not None:
        set_log_level(verbose)
    spec = get_model(spec_name)
    _check_option("init", init, ["trained", "random"])
    pooling = spec.default_pooling if pooling is None else pooling
    _check_option("pooling", pooling, ["cls", "mean"])
    _check_option("autocast", autocast, ["off", "bf16", "fp16"])
    if int(srp_dim) < 1 or int(batch_size) < 1:
        raise ValueError(f"srp_dim and batch_size must be >= 1, got {srp_dim} and {batch_size}")
    out = Path(out)
    events, events_sha, movie, meta_alignment = _read_events(events, movie)
    alignment = alignment or meta_alignment
    if len(events) == 0:
        raise ValueError(f"events of {movie!r}: the table is empty, nothing to extract")
    layers = list(spec.layers if layers is None else layers)
    if not layers or len(set(layers)) != len(layers):
        raise ValueError(f"layers must be a non-empty list of distinct names, got {layers}")
    if spec.is_control and weights is None and dataset_root is not None:
        weights = Path(dataset_root) / "ground_truth.json"
    weights = None if weights is None else str(weights)
    loaded = None
    try:
        weights_sha = weights_id(spec, init, weights)
    except WeightsNotFoundError:
        if not allow_download:
            raise
        # Fetch into the local cache first; the file hash is known only afterwards.
        loaded = load_model(spec, init, seed, weights, allow_download)
        weights_sha = weights_id(spec, init, weights)
    attrs: dict[str, Any] = {
        "model": spec.name, "init": init, "seed": int(seed), "layers": layers,
        "pooling": pooling, "srp_dim": int(srp_dim),
        "weights_sha256": weights_sha, "events_sha256": events_sha,
        "movie": movie, "autocast": autocast, "neuroalign_version": __version__,
    }
    if _cache_hit(out, attrs):
        logger.info("%s: cache hit (same provenance), not recomputed", out)
        return out
    if loaded is None:
        loaded = load_model(spec, init, seed, weights, allow_download)
    if spec.is_control:
        unknown = [la for la in layers if la not in spec.layers]
        if unknown:
            raise ValueError(f"model {spec.name!r} has no layer {unknown[0]!r}. Available named "
                             f"layers: {', '.join(spec.layers)}.")
        raw = loaded.model.features(events, movie)
        feats = {}
        for layer in layers:
            x = raw[layer]
            if x.shape[1] > srp_dim:
                x = _projector(layer, x.shape[1], srp_dim, seed).transform(x)
            feats[layer] = np.asarray(x, np.float32)
    else:
        feats = _run_network(spec, loaded.model, events, movies_root, movie, layers, pooling,
                             int(srp_dim), int(batch_size), get_device(device), autocast,
                             int(seed), weights, progress=logger.getEffectiveLevel() <= 20)
    # Whether the trained tower learned with language supervision (SLIP-Combo yes, SLIP-SimCLR
    # no): the controlled comparison of the reference rests on it. A random twin learned nothing.
    supervised = spec.extra.get("language_supervised", spec.modality == "multimodal")
    attrs["language_supervised"] = bool(supervised and init == "trained")
    attrs.update({"modality": spec.modality, "inputs": spec.inputs,
                  "is_control": bool(spec.is_control), "alignment": alignment or "",
                  "weights_source": loaded.source, "n_events": len(events),
                  "random_init": spec.random_init if init == "random" else ""})
    if spec.is_control:
        attrs["control"] = ("VALIDATION CONTROL: simulator ground-truth latents, not a network"
                            + ("; random twin = block-permuted" if init == "random" else ""))
    _write(out, feats, layers, attrs)
    logger.info("%s/%s/%s: %d events x %d layers -> %s", spec.name, init, movie, len(events),
                len(layers), out)
    return out


def _write(out: Path, feats: dict[str, np.ndarray], layers: list[str],
           attrs: dict[str, Any]) -> None:
    with open_h5_atomic(out) as f:
        for layer in layers:
            x = np.ascontiguousarray(feats[layer], np.float32)
            # no timestamps, so a rerun gives byte-identical files
            ds = f.create_dataset(dataset_name(layer), data=x, track_times=False)
            ds.attrs["layer"] = layer
        for key, value in attrs.items():
            f.attrs[key] = value
