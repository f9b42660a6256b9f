"""Global-null calibration of the whole chain at the default 30 s blocks.

The same chain as ``test_stats_null_calibration.py`` (one `tiny` subject, snr = 0, the sim-*
controls), on twelve null datasets with 450 s movies, checks that the tests hold their level
at the default block length: per-target false-positive rate within its binomial bound,
electrode-level p at its level, at most 2 datasets flagging a site.
"""

from __future__ import annotations

import numpy as np
import pytest
from null_chain import N_DATASETS, null_dataset
from scipy import stats


# The default 30 s blocks need longer movies: 450 s gives 15 blocks (2**15 swap patterns).
# Seen (2 cores, ~10 min): per-target p n=2,586, P(p<0.05)=0.055 but KS p < 0.001 — skewed
# towards 1 (conservative) in the language alignment, see README "Methods of the stats stage";
# electrode-level p KS p=0.43, P(p<0.05)=0.056; 0/20 datasets flag a site.
@pytest.fixture(scope="module")
def null_runs_default_blocks(tmp_path_factory):
    return [null_dataset(tmp_path_factory.mktemp(f"null30s{seed}"), seed, block_s=30.0,
                          duration_s=450.0) for seed in range(N_DATASETS)]


@pytest.mark.slow
def test_default_block_length_holds_its_level(null_runs_default_blocks):
    runs = null_runs_default_blocks
    target_p = np.concatenate([r["target_p"] for r in runs])
    electrode_p = np.concatenate([r["electrode_p"] for r in runs])
    level = np.mean(target_p < 0.05)
    # One-sided 99 % binomial bound on the false-positive rate of a level-0.05 test.
    bound = 0.05 + 2.33 * np.sqrt(0.05 * 0.95 / target_p.size)
    ks_e = stats.kstest(electrode_p, "uniform")
    flagged = sum(r["n_multimodal"] > 0 for r in runs)
    print(f"30 s blocks: per-target P(p<0.05)={level:.3f} (bound {bound:.3f}, "
          f"KS p={stats.kstest(target_p, 'uniform').pvalue:.2g}); electrode-level KS "
          f"p={ks_e.pvalue:.3f}, P(p<0.05)={np.mean(electrode_p < 0.05):.3f}; "
          f"{flagged}/{len(runs)} datasets flag a site")
    assert level <= bound
    e_bound = 0.05 + 2.33 * np.sqrt(0.05 * 0.95 / electrode_p.size)
    assert np.mean(electrode_p < 0.05) <= e_bound  # level, not uniformity (see above)
    assert flagged <= 2
