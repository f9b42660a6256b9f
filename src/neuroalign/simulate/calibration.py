"""The encoding and stats stages run in memory on event-level datasets, for calibration.

:func:`encode_event_dataset` fits every model, init and the linear baselines of one
:class:`~neuroalign.simulate.eventlevel.EventDataset` with the same functions the encoding
job calls, and returns encodings shaped like :func:`neuroalign.encoding.read_encoding`'s;
:func:`run_event_chain` adds the stats stage. ``benchmarks/calibration.py`` and the suite's
calibration tests use them to measure error rates over many datasets without writing files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..encoding.baselines import concat_feature_spaces
from ..encoding.blockstats import block_sums, permutation_p, residual_block_autocorr
from ..encoding.build import best_layer_index
from ..encoding.ridge import cross_fitted_predictions
from ..stats.build import compute_stats
from ..stats.comparisons import stats_seed
from .eventlevel import EventDataset

__all__ = ["encode_event_dataset", "run_event_chain"]


def _encoding(ds: EventDataset, X_layers: list[np.ndarray], config: dict[str, Any],
              attrs: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    n_events, n_el, n_bins = ds.responses.shape
    y = ds.responses.reshape(n_events, -1)
    enc = config["encoding"]
    # The encoding job's settings, slow-component removal included (encoding.build._highpass).
    result = cross_fitted_predictions(X_layers, y, ds.blocks, alphas=enc["alphas"],
                                      n_folds=enc["folds"], training=enc["training"],
                                      highpass_s=enc.get("highpass_s"),
                                      highpass_on=enc.get("highpass_on", "responses"),
                                      times_s=ds.times_s, trials=ds.trials)
    y = result.y_eval
    sums = block_sums(y, result.y_hat, ds.blocks)
    p = permutation_p(y, result.y_hat, ds.blocks, ds.trials,
                      n_permutations=config["stats"]["n_permutations"], rng=rng)
    starts = np.flatnonzero(np.r_[True, ds.blocks[1:] != ds.blocks[:-1]])
    shape = (n_el, n_bins)
    return {"electrodes": list(ds.electrodes), "r": result.r.reshape(shape),
            "layer_r": result.layer_r.reshape((-1,) + shape), "p": p.reshape(shape),
            "residual_autocorr": residual_block_autocorr(sums, ds.trials[starts]).reshape(shape),
            "blockstats": sums.reshape((sums.shape[0], 6) + shape),
            "block_trial": ds.trials[starts], "event_id": np.arange(n_events),
            "trial": ds.trials, "movie": np.array(["film"] * n_events), "attrs": attrs,
            "path": f"<memory:{attrs['model']}/{attrs['init']}/{attrs['alignment']}>"}


def encode_event_dataset(ds: EventDataset, config: dict[str, Any], subject: str = "sim",
                         alignment: str | None = None) -> dict[tuple[str, str], dict]:
    """Encodings of every model and init of ``ds``, plus the ``concat`` baseline.

    Parameters
    ----------
    ds : EventDataset
    config : dict
        Validated configuration (``encoding``, ``stats``, ``sites``, ``seed``). Of the linear
        baselines only ``concat`` is fitted here (``banded`` is skipped for speed).
    subject : str
    alignment : str or None
        Defaults to ``ds.params["alignment"]``.

    Returns
    -------
    encodings : dict of (model, init) to dict
        Shaped like ``read_encoding``'s output (``attrs`` carry model, init, alignment,
        modality, subject).
    """
    alignment = alignment or str(ds.params.get("alignment", "language"))
    out: dict[tuple[str, str], dict] = {}
    for spec in ds.models:
        for init in ("trained", "random"):
            attrs = {"subject": subject, "model": spec.name, "init": init,
                     "alignment": alignment, "modality": spec.modality}
            rng = np.random.default_rng(stats_seed(int(config["seed"]), "calibration",
                                                   subject, spec.name, init, alignment))
            out[(spec.name, init)] = _encoding(ds, ds.features[(spec.name, init)], config,
                                               attrs, rng)
    if "concat" in config["sites"]["linear_baselines"]:
        spaces = []
        for spec in ds.models:
            if spec.modality in ("vision", "language"):
                enc = out[(spec.name, "trained")]
                spaces.append(ds.features[(spec.name, "trained")][
                    best_layer_index(enc["layer_r"], enc["r"])])
        attrs = {"subject": subject, "model": "concat", "init": "trained",
                 "alignment": alignment, "modality": ""}
        rng = np.random.default_rng(stats_seed(int(config["seed"]), "calibration", subject,
                                               "concat", alignment))
        out[("concat", "trained")] = _encoding(ds, [concat_feature_spaces(spaces)], config,
                                               attrs, rng)
    return out


def run_event_chain(datasets: dict[str, EventDataset], config: dict[str, Any],
                    subject: str = "sim") -> dict[str, Any]:
    """Encoding and stats of one simulated subject (both alignments).

    Parameters
    ----------
    datasets : dict of str to EventDataset
        :func:`~neuroalign.simulate.eventlevel.simulate_event_dataset` output.
    config : dict
        Validated configuration; ``sites.linear_baselines`` should be ``["concat"]``.
    subject : str

    Returns
    -------
    run : dict
        ``encodings`` ({alignment: {(model, init): encoding}}), ``comparisons`` and
        ``sites`` (the stats stage's tables), ``classes`` (planted class per electrode).
    """
    encodings = {a: encode_event_dataset(ds, config, subject, a) for a, ds in datasets.items()}
    comparisons, sites = compute_stats(config, subject, encodings)
    first = next(iter(datasets.values()))
    return {"encodings": encodings, "comparisons": comparisons, "sites": sites,
            "classes": dict(zip(first.electrodes, first.classes, strict=True)),
            "spiking": dict(zip(first.electrodes, first.spiking, strict=True))}
