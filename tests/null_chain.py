"""One whole-chain global-null dataset, as the null calibrations of the suite run it.

Used by ``test_stats_null_calibration.py`` (10 s blocks) and
``test_stats_null_calibration_default_blocks.py`` (the default 30 s blocks): two files, so
that pytest-xdist runs them on different workers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuroalign.artifacts import read_encoding
from neuroalign.simulate.validation import CONTROLS, run_control_chain
from neuroalign.stats.comparisons import electrode_swap_test

# 20 until 2026-12-01; the suite's many-dataset calibration is now event level
# (test_calibration_eventlevel.py), this one checks the whole chain on the simulator.
N_DATASETS = 12


def null_dataset(root, seed: int, block_s: float = 10.0, duration_s: float = 150.0) -> dict:
    run = run_control_chain(root, seed=seed, snr=0.0, duration_s=duration_s,
                            config={"events": {"block_s": block_s},
                                    "stats": {"n_bootstrap": 10, "n_permutations": 500}})
    target_p, electrode_p, autocorr = [], [], []
    for path in run["encodings"]:
        model, init = path.parent.parent.name, path.parent.name
        if model not in CONTROLS or init != "trained":
            continue
        trained, random = read_encoding(path), read_encoding(path.parent.parent / "random"
                                                             / path.name)
        # One bin per electrode (its middle one): bins of an electrode are not independent.
        target_p.append(trained["p"][:, trained["p"].shape[1] // 2])
        autocorr.append(trained["residual_autocorr"].ravel())
        _, p = electrode_swap_test(trained["blockstats"], random["blockstats"],
                                   np.ones(trained["p"].shape, bool), 500,
                                   np.random.default_rng([seed, len(electrode_p)]))
        electrode_p.append(p)
    sites = pd.read_parquet(run["sites"])
    return {"target_p": np.concatenate(target_p), "electrode_p": np.concatenate(electrode_p),
            "autocorr": np.concatenate(autocorr),
            "n_multimodal": int((sites["class"] == "multimodal").sum()),
            "n_multimodal_one": int(sites["class"].str.startswith("multimodal-").sum())}
