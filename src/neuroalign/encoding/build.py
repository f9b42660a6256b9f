"""The encoding stage's jobs: one fit per subject x model x init x alignment, and the baselines.

``fit_encoding``   responses + features of one model -> ``encoding/{model}/{init}/{alignment}.h5``
``fit_baseline``   best layers of the unimodal models -> ``encoding/{concat|banded}/trained/...``

Each output holds out-of-sample r per electrode and bin, the per-layer r, the chosen layer
and alpha, block-bootstrap CIs, circular-shift permutation p-values, the residual block
autocorrelation diagnostic and the per-block moment sums (``blockstats``) from which the
stats stage computes every paired comparison without the raw predictions (docs/DESIGN.md §4, §6).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from .. import __version__
from ..artifacts import (
    ARTIFACTS,
    ENCODING_DATASETS,
    read_encoding,
    read_events,
    read_features,
    read_responses,
)
from ..config import config_hash
from ..data.blocks import check_block_design
from ..io import open_h5_atomic
from ..utils import get_device, logger, stream_seed
from .baselines import concat_feature_spaces, cross_fitted_banded_predictions
from .blockstats import (
    block_sums,
    bootstrap_ci,
    permutation_p,
    residual_autocorr_time,
    residual_block_autocorr,
)
from .folds import contiguous_folds
from .ridge import CrossFitResult, cross_fitted_predictions

__all__ = ["fit_encoding", "fit_baseline", "read_encoding", "ENCODING_DATASETS"]


def _design(responses: dict[str, Any], events_dir: Path, alignment: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block id of every response row (unique across trials), its trial and its event time.

    Returns
    -------
    blocks : array of shape (n_events,), int
    trials : array of shape (n_events,)
    times_s : array of shape (n_events,), float
        Event time in seconds of its movie (the events table's ``time_s``), for the
        slow-component removal (``encoding.highpass_s``).
    """
    trials = np.asarray(responses["trial"])
    movies = np.asarray(responses["movie"])
    blocks = np.empty(len(trials), dtype=np.int64)
    times = np.empty(len(trials), dtype=np.float64)
    for movie in np.unique(movies):
        path = ARTIFACTS.events.in_folder(events_dir, movie=movie, alignment=alignment)
        events = read_events(path).set_index("event_id")
        rows = movies == movie
        ids = responses["event_id"][rows]
        missing = np.setdiff1d(ids, events.index.to_numpy())
        if missing.size:
            raise ValueError(f"{path}: event_id {missing[:5].tolist()} of the responses are not "
                             "in this events table (responses and events from different runs?)")
        blocks[rows] = events.loc[ids, "block"].to_numpy()
        times[rows] = events.loc[ids, "time_s"].to_numpy(dtype=np.float64)
    # Dense ids of (trial, block) in row order: blocks never straddle trials.
    keys = trials * (blocks.max() + 1) + blocks
    change = np.r_[True, keys[1:] != keys[:-1]]
    return np.cumsum(change) - 1, trials, times


def _highpass(enc: dict[str, Any], times: np.ndarray, trials: np.ndarray) -> dict[str, Any]:
    """Keyword arguments of the slow-component removal, from the ``encoding`` config.

    Every model and baseline of an alignment gets the same ones, so they are all scored on
    the same high-passed responses (the stats stage checks their block sums agree).
    """
    return {"highpass_s": enc.get("highpass_s"), "highpass_on": enc.get("highpass_on",
                                                                         "responses"),
            "times_s": times, "trials": trials}


def _check_design(config: dict[str, Any], subject: str, alignment: str, blocks: np.ndarray,
                  trials: np.ndarray, responses: dict[str, Any], events_dir: Path,
                  what: str) -> dict[str, Any]:
    """Refuse, before any fit, a block design the cross-fit or the tests cannot use
    (``data.blocks.check_block_design``, the check ``check-data`` runs); log its warnings.

    Returns the design facts ``_write`` records: ``block_s``, ``unshifted_trials`` and
    ``spacing_s``, the mean event spacing (each trial's span over its events, pooled) that
    turns autocorrelation times in events into seconds.
    """
    enc, st = config["encoding"], config["stats"]
    folds = int(enc["folds"])
    gap = int(enc.get("gap_blocks", 1))
    try:
        cut = contiguous_folds(blocks, folds, gap, enc["training"])
        per_fold = [int(np.unique(blocks[test]).size) for _, test in cut]
    except ValueError:
        per_fold = None  # too few blocks: check_block_design says how many are needed
    design = check_block_design(blocks, trials, n_folds=folds,
                                n_permutations=int(st["n_permutations"]),
                                fdr_q=float(st["fdr_q"]), gap_blocks=gap,
                                guard_blocks=int(enc.get("guard_blocks", 1)),
                                block_s=float(config["events"]["block_s"]),
                                what=f"{subject} / {alignment} ({what})", fold_blocks=per_fold)
    if design.problems:
        raise ValueError("; ".join(design.problems))
    for w in design.warnings:
        logger.warning("%s", w)
    span, count = 0.0, 0
    movies = np.asarray(responses["movie"])
    for movie in np.unique(movies):
        path = ARTIFACTS.events.in_folder(events_dir, movie=movie, alignment=alignment)
        times = read_events(path).set_index("event_id")["time_s"]
        for t in np.unique(trials[movies == movie]):
            rows = (movies == movie) & (trials == t)
            tt = times.loc[responses["event_id"][rows]].to_numpy()
            span, count = span + float(tt.max() - tt.min()), count + int(rows.sum())
    return {"block_s": float(config["events"]["block_s"]),
            "unshifted_trials": np.array(design.unshifted_trials, dtype=np.int64),
            "spacing_s": span / max(count, 1)}


def _features(features_dir: Path, movies: np.ndarray, event_ids: np.ndarray, alignment: str,
              layers: list[str] | None = None) -> tuple[list[np.ndarray], list[str], dict]:
    """Per-layer feature matrices aligned to the response rows."""
    out: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {}
    for movie in np.unique(movies):
        path = ARTIFACTS.features.in_folder(features_dir, movie=movie, alignment=alignment)
        if not path.exists():
            raise FileNotFoundError(f"{path}: features file not found")
        feats, attrs = read_features(path, layers)
        rows = movies == movie
        ids = event_ids[rows]
        for layer, x in feats.items():
            if ids.max(initial=-1) >= len(x):
                raise ValueError(f"{path}: layer {layer!r} has {len(x)} rows but the responses "
                                 f"refer to event {ids.max()}")
            if layer not in out:
                out[layer] = np.empty((len(movies), x.shape[1]), dtype=np.float32)
            out[layer][rows] = x[ids]
    names = list(out)
    return [out[n] for n in names], names, attrs


#: The encoding job stops when the median electrode needs blocks this many times longer than
#: ``events.block_s``; between 1 and this factor it warns (and the report flags the electrodes).
#: The need is an estimate (Sokal-windowed autocorrelation time): on the realistic `tiny`
#: simulation at 10 s blocks the matching control's median need was 11 s, within its error.
BLOCK_STOP_FACTOR = 1.5


def _check_block_length(needed_s: np.ndarray, block_s: float, attrs: dict[str, Any]) -> None:
    """Warn, or stop, when the typical electrode's residual scores stay correlated beyond a block.

    ``needed_s`` (n_electrodes, n_bins) is the block length each target needs
    (``residual_autocorr_time``). Per electrode its median over bins; the job warns when the
    median electrode needs more than ``block_s`` and stops when it needs more than
    ``BLOCK_STOP_FACTOR * block_s``, naming the length to use. Single electrodes over
    ``block_s`` are flagged in the report (their p-values may be optimistic), not refused.
    """
    per_electrode = np.nanmedian(needed_s, axis=1) if needed_s.size else np.array([])
    typical = float(np.nanmedian(per_electrode)) if np.isfinite(per_electrode).any() else 0.0
    if typical <= block_s:
        return
    msg = (f"{attrs.get('subject')} / {attrs.get('alignment')} ({attrs.get('model')}/"
           f"{attrs.get('init')}): the residuals times the predictions stay correlated beyond a "
           f"block: the median electrode needs blocks of at least {typical:.0f} s for adjacent "
           f"block sums to correlate below 0.1, and events.block_s is {block_s:g} s. Set "
           f"events.block_s to {10 * np.ceil(typical / 10):.0f} or more (or remove the slow "
           "drift the responses and features share).")
    if typical > BLOCK_STOP_FACTOR * block_s:
        raise ValueError(msg)
    logger.warning("%s Continuing: under %g x events.block_s.", msg, BLOCK_STOP_FACTOR)


def _write(out: str | os.PathLike, result: CrossFitResult, blocks: np.ndarray,
           trials: np.ndarray, responses: dict[str, Any], layers: list[str], stats: dict,
           attrs: dict[str, Any], rng: np.random.Generator,
           design: dict[str, Any]) -> dict[str, Any]:
    n_events, n_el, n_bins = responses["responses"].shape
    shape = (n_el, n_bins)
    # Score against the responses the fit was scored on (high-passed per test fold when
    # encoding.highpass_on includes responses): the same array for every model and baseline.
    y = result.y_eval
    tau, needed = residual_autocorr_time(y, result.y_hat, trials)
    needed_s = (needed * design["spacing_s"]).reshape(shape)
    _check_block_length(needed_s, design["block_s"], attrs)
    sums = block_sums(y, result.y_hat, blocks)
    ci_low, ci_high = bootstrap_ci(sums, n_resamples=stats["n_bootstrap"], rng=rng)
    p = permutation_p(y, result.y_hat, blocks, trials, n_permutations=stats["n_permutations"],
                      rng=rng)
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    block_trial = trials[starts]
    autocorr = residual_block_autocorr(sums, block_trial)
    with open_h5_atomic(out) as f:
        def put(name, data, **kw):
            f.create_dataset(name, data=data, track_times=False, **kw)

        put("electrodes", np.array(responses["electrodes"], dtype="S"))
        put("r", result.r.reshape(shape).astype(np.float32))
        put("layer_r", result.layer_r.reshape((-1,) + shape).astype(np.float32))
        put("layer", result.layer.reshape(shape).astype(np.int16))
        put("alpha", result.alpha.reshape(shape).astype(np.float32))
        put("ci_low", ci_low.reshape(shape).astype(np.float32))
        put("ci_high", ci_high.reshape(shape).astype(np.float32))
        put("p", p.reshape(shape))
        put("residual_autocorr", autocorr.reshape(shape).astype(np.float32))
        put("residual_tau", tau.reshape(shape).astype(np.float32))
        put("block_s_needed", needed_s.astype(np.float32))
        # (n_blocks, 6, n_electrodes, n_bins): n, Σy, Σy², Σŷ, Σŷ², Σyŷ per block and target.
        put("blockstats", sums.reshape((sums.shape[0], 6) + shape), compression="gzip",
            compression_opts=1, shuffle=True)
        put("block_trial", block_trial.astype(np.int64))
        put("event_id", responses["event_id"].astype(np.int64))
        put("trial", trials.astype(np.int64))
        put("movie", np.asarray(responses["movie"]).astype("S"))
        f.attrs.update({**attrs, "layers": np.array(layers, dtype="S"),
                        "alphas": np.asarray(result.alphas, float),
                        "bin_centers_s": np.asarray(responses["attrs"]["bin_centers_s"]),
                        "blockstats_fields": np.array(["n", "sum_y", "sum_y2", "sum_yhat",
                                                       "sum_yhat2", "sum_y_yhat"], dtype="S"),
                        "highpass_s": float(result.highpass_s or 0.0),
                        "highpass_on": str(result.highpass_on),
                        "n_bootstrap": stats["n_bootstrap"],
                        "n_permutations": stats["n_permutations"],
                        "block_s": design["block_s"], "event_spacing_s": design["spacing_s"],
                        "unshifted_trials": design["unshifted_trials"],
                        "neuroalign_version": __version__})
    flagged = float(np.mean(np.nanmedian(needed_s, axis=1) > design["block_s"]))
    logger.info("encoding %s/%s/%s: median r %.3f, %.0f%% of targets p < 0.05, %.1f%% of "
                "electrodes need blocks over %g s -> %s", attrs.get("model"),
                attrs.get("init"), attrs.get("alignment"), float(np.median(result.r)),
                100 * float(np.mean(p < 0.05)), 100 * flagged, design["block_s"], out)
    return {"median_r": float(np.median(result.r)), "frac_p05": float(np.mean(p < 0.05))}


def fit_encoding(config: dict[str, Any], subject: str, model: str, init: str, alignment: str,
                 responses_path: str | os.PathLike, features_dir: str | os.PathLike,
                 events_dir: str | os.PathLike, out: str | os.PathLike,
                 layers: list[str] | None = None) -> dict[str, Any]:
    """Fit one model's layers to one subject's responses (all electrodes and bins at once).

    Parameters
    ----------
    config : dict
        Validated configuration (``encoding``, ``stats`` and ``seed`` are used).
    subject, model, init, alignment : str
        What is fitted (recorded in the output's attributes).
    responses_path : path-like
        ``subjects/{subject}/responses/{alignment}.h5``.
    features_dir : path-like
        ``features/{model}/{init}`` (holding ``{movie}/{alignment}.h5``).
    events_dir : path-like
        ``movies`` (holding ``{movie}/events/{alignment}.parquet``), for the blocks.
    out : path-like
        Output HDF5 (written atomically).
    layers : list of str, optional
        Subset of the model's layers.

    Returns
    -------
    summary : dict
    """
    responses = read_responses(responses_path)
    blocks, trials, times = _design(responses, Path(events_dir), alignment)
    design = _check_design(config, subject, alignment, blocks, trials, responses,
                           Path(events_dir), f"{model}/{init}")
    X_layers, names, feat_attrs = _features(Path(features_dir), responses["movie"],
                                            responses["event_id"], alignment, layers)
    n_events = responses["responses"].shape[0]
    y = responses["responses"].reshape(n_events, -1)
    enc = config["encoding"]
    result = cross_fitted_predictions(X_layers, y, blocks, alphas=enc["alphas"],
                                      n_folds=enc["folds"], device=get_device(enc["device"]),
                                      training=enc["training"], **_highpass(enc, times, trials))
    rng = np.random.default_rng(stream_seed(config["seed"], subject, model, init, alignment))
    attrs = {"subject": subject, "model": model, "init": init, "alignment": alignment,
             "folds": enc["folds"], "training": enc["training"], "seed": config["seed"],
             "config_hash": config_hash(config, ["encoding", "stats", "seed"]),
             "responses_config_hash": str(responses["attrs"].get("config_hash", "")),
             "weights_sha256": str(feat_attrs.get("weights_sha256", "")),
             "modality": str(feat_attrs.get("modality", "")),
             "is_control": bool(feat_attrs.get("is_control", False))}
    return _write(out, result, blocks, trials, responses, names, config["stats"], attrs, rng,
                  design)


def best_layer(encoding_path: str | os.PathLike, top_fraction: float = 0.1) -> str:
    """The layer that best predicts the targets a model predicts at all.

    Score of a layer: its mean out-of-sample r over the ``top_fraction`` of targets with
    the model's highest r (most targets of a subject are not driven by any one model, and
    averaging over them would pick layers by noise). A layer whose features are constant
    (r undefined) scores 0. Chosen on the evaluation data itself, this can only favour a
    baseline built from it, which makes a multimodal model's win over that baseline
    conservative.
    """
    with h5py.File(encoding_path, "r") as f:
        layer_r = f["layer_r"][()]
        r = f["r"][()]
        layers = [x.decode() for x in f.attrs["layers"]]
    return layers[best_layer_index(layer_r, r, top_fraction)]


def best_layer_index(layer_r: np.ndarray, r: np.ndarray, top_fraction: float = 0.1) -> int:
    """:func:`best_layer`'s rule on arrays: the index into ``layer_r``'s first axis.

    Parameters
    ----------
    layer_r : ndarray, shape (n_layers, n_electrodes, n_bins)
        Out-of-sample r of each layer's fit.
    r : ndarray, shape (n_electrodes, n_bins)
        The model's (cross-fitted) r, which ranks the targets.
    top_fraction : float
    """
    scores = np.nan_to_num(layer_r.reshape(layer_r.shape[0], -1), nan=0.0)
    r = np.nan_to_num(np.asarray(r, float).ravel(), nan=-np.inf)
    top = r >= np.quantile(r, 1.0 - top_fraction)
    return int(np.argmax(scores[:, top].mean(axis=1)))


def fit_baseline(config: dict[str, Any], subject: str, kind: str, alignment: str,
                 models: list[str], encodings: list[str | os.PathLike],
                 features_dirs: list[str | os.PathLike], responses_path: str | os.PathLike,
                 events_dir: str | os.PathLike, out: str | os.PathLike) -> dict[str, Any]:
    """Linear-integration baseline from the best layer of each unimodal model.

    ``concat``: ridge on the column-concatenation of the standardised feature spaces.
    ``banded``: banded ridge, one penalty per modality (cross-fitted over a ratio grid): the
    models of one modality (features attr ``modality``; a model without one is its own band)
    share a band. A band per model would grow the grid as ``7 ** (n_models - 1)``
    decompositions per fold (343 for four models), and what the baseline must capture is a
    separate weighting of vision and language.

    Parameters
    ----------
    models : list of str
        The unimodal (trained) models combined, e.g. the configured vision and language ones.
    encodings : list of path-like
        Their ``encoding/{model}/trained/{alignment}.h5`` (for the best layer).
    features_dirs : list of path-like
        Their ``features/{model}/trained`` folders.
    """
    from ..utils import _check_option

    _check_option("kind", kind, ["concat", "banded"])
    if not (len(models) == len(encodings) == len(features_dirs)) or len(models) < 2:
        raise ValueError(f"a {kind} baseline needs >= 2 models with one encoding and one features "
                         f"folder each; got {models}, {len(encodings)} encodings, "
                         f"{len(features_dirs)} feature folders")
    responses = read_responses(responses_path)
    blocks, trials, times = _design(responses, Path(events_dir), alignment)
    design = _check_design(config, subject, alignment, blocks, trials, responses,
                           Path(events_dir), f"{kind} baseline")
    spaces, chosen, bands = [], [], []
    for model, enc_path, feat_dir in zip(models, encodings, features_dirs, strict=True):
        layer = best_layer(enc_path)
        X, _, feat_attrs = _features(Path(feat_dir), responses["movie"], responses["event_id"],
                                     alignment, [layer])
        spaces.append(X[0])
        chosen.append(f"{model}:{layer}")
        bands.append(str(feat_attrs.get("modality", "")) or model)
    n_events = responses["responses"].shape[0]
    y = responses["responses"].reshape(n_events, -1)
    enc = config["encoding"]
    device = get_device(enc["device"])
    if kind == "concat":
        result = cross_fitted_predictions([concat_feature_spaces(spaces)], y, blocks,
                                          alphas=enc["alphas"], n_folds=enc["folds"],
                                          device=device, training=enc["training"],
                                          **_highpass(enc, times, trials))
        names = ["+".join(chosen)]
    else:
        by_band: dict[str, list[np.ndarray]] = {}
        for band, X in zip(bands, spaces, strict=True):
            by_band.setdefault(band, []).append(X)
        band_spaces = [group[0] if len(group) == 1 else concat_feature_spaces(group)
                       for group in by_band.values()]
        result = cross_fitted_banded_predictions(band_spaces, y, blocks, alphas=enc["alphas"],
                                                 n_folds=enc["folds"], device=device,
                                                 training=enc["training"],
                                                 **_highpass(enc, times, trials))
        names = [f"ratios{i}" for i in range(result.layer_r.shape[0])]
    rng = np.random.default_rng(stream_seed(config["seed"], subject, kind, "trained", alignment))
    attrs = {"subject": subject, "model": kind, "init": "trained", "alignment": alignment,
             "folds": enc["folds"], "training": enc["training"], "seed": config["seed"],
             "config_hash": config_hash(config, ["encoding", "stats", "seed"]),
             "responses_config_hash": str(responses["attrs"].get("config_hash", "")),
             "components": np.array(chosen, dtype="S"), "modality": "linear-integration",
             "is_control": False}
    return _write(out, result, blocks, trials, responses, names, config["stats"], attrs, rng,
                  design)


def summary_table(path: str | os.PathLike) -> pd.DataFrame:
    """One row per electrode: max r over bins, its bin, and its permutation p."""
    enc = read_encoding(path)
    best = np.argmax(enc["r"], axis=1)
    rows = np.arange(len(best))
    return pd.DataFrame({"electrode": enc["electrodes"], "max_r": enc["r"][rows, best],
                         "bin_s": np.asarray(enc["attrs"]["bin_centers_s"])[best],
                         "p": enc["p"][rows, best]})
