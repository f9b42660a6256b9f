"""The claims' logic on hand-made inputs: invariant selection, intersection-union tests,
combination across models and alignments, class assignment, and the pooled BH."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuroalign.encoding.blockstats import SH, SYH
from neuroalign.stats import build
from neuroalign.stats.comparisons import (
    bh_fdr,
    bonferroni,
    electrode_swap_test,
    intersection_union,
    pair_selection,
    simes,
)
from neuroalign.stats.sites import (
    assign_classes,
    claim_columns,
    classify_alignment,
    combine_alignments,
    compare_alignment,
    q_column,
)


def _sums(rng, n_blocks=24, n_el=6, n_bins=8, signal=(0.0,) * 6, per_block=40):
    """Block sums of y and two predictions (A carries ``signal[e]`` of y, B none)."""
    out_a = np.empty((n_blocks, 6, n_el, n_bins))
    out_b = np.empty_like(out_a)
    for k in range(n_blocks):
        y = rng.standard_normal((per_block, n_el, n_bins))
        ha = np.asarray(signal)[None, :, None] * y + rng.standard_normal(y.shape)
        hb = rng.standard_normal(y.shape)
        for out, h in ((out_a, ha), (out_b, hb)):
            out[k] = np.stack([np.full(y.shape[1:], per_block), y.sum(0), (y * y).sum(0),
                               h.sum(0), (h * h).sum(0), (y * h).sum(0)])
    return out_a, out_b


def test_pair_selection_is_invariant_to_every_block_swap():
    rng = np.random.default_rng(0)
    a, b = _sums(rng, signal=(0.0, 0.3, 0.6, 0.0, 0.2, 0.0))
    ref = pair_selection(a, b, 0.05, 3)
    assert ref["electrodes"][2] and not ref["electrodes"].all()  # informative, not trivial
    for _ in range(20):
        w = rng.integers(0, 2, size=a.shape[0]).astype(bool)
        sa, sb = a.copy(), b.copy()
        sa[w, SH:], sb[w, SH:] = b[w, SH:], a[w, SH:]
        got = pair_selection(sa, sb, 0.05, 3)
        for k in ("bins", "electrodes", "n_bins", "p"):
            assert np.array_equal(got[k], ref[k]), k
        # Also symmetric in the order of the pair.
        assert np.array_equal(pair_selection(sb, sa, 0.05, 3)["bins"], ref["bins"])


def test_a_selection_by_one_models_r_is_not_invariant():
    # The old rule (bins where model A alone correlates) moves under swaps: the reason
    # for the pair statistic.
    rng = np.random.default_rng(1)
    a, b = _sums(rng, signal=(0.0, 0.3, 0.6, 0.0, 0.2, 0.0))
    cov_a = (a[:, SYH] - a[:, 1] * a[:, SH] / a[:, 0]).sum(0)
    w = np.zeros(a.shape[0], bool)
    w[::2] = True
    sa = a.copy()
    sa[w, SH:] = b[w, SH:]
    assert not np.allclose((sa[:, SYH] - sa[:, 1] * sa[:, SH] / sa[:, 0]).sum(0), cov_a)


def test_selected_swap_p_is_uniform_for_exchangeable_models():
    # A and B equally (un)informative; swaps within blocks are exact given the selection.
    rng = np.random.default_rng(2)
    ps = []
    for i in range(40):
        a, _ = _sums(rng, n_blocks=16, n_el=6, n_bins=4, signal=(0.4,) * 6, per_block=20)
        b, _ = _sums(rng, n_blocks=16, n_el=6, n_bins=4, signal=(0.4,) * 6, per_block=20)
        b[:, :SH] = a[:, :SH]  # same responses: regenerate B's moments against A's y
        sel = pair_selection(a, b, 0.05, 2)
        _, p = electrode_swap_test(a, b, sel["bins"], 199, np.random.default_rng(i))
        ps.append(p[sel["electrodes"]])
    ps = np.concatenate(ps)
    assert ps.size > 100
    assert 0.02 <= np.mean(ps < 0.1) <= 0.2


def test_selection_needs_blocks():
    a = np.zeros((2, 6, 1, 1))
    with pytest.raises(ValueError, match="at least 3 blocks"):
        pair_selection(a, a)


def test_intersection_union_bonferroni_and_simes_on_hand_made_p():
    p = np.array([[0.01, 0.2, np.nan], [0.03, 0.001, 0.5]])
    assert np.allclose(intersection_union(p, axis=0), [0.03, 0.2, 1.0])
    assert np.allclose(bonferroni(p, axis=0), [0.02, 0.002, 1.0])
    assert np.allclose(bonferroni(np.array([[0.4], [0.9]]), axis=0), [0.8])
    # Simes: min_i m p_(i) / i over the finite entries.
    assert np.isclose(simes(np.array([0.04, 0.03, 0.5, 0.9])), min(4 * 0.03, 4 * 0.04 / 2,
                                                                  4 * 0.5 / 3, 0.9))
    assert np.isclose(simes(np.array([0.01, np.nan])), 0.01)
    assert simes(np.array([np.nan, np.nan])) == 1.0
    assert intersection_union(np.empty((0, 3)), axis=0).tolist() == [1, 1, 1]


def _enc(names, r, p):
    n_el, n_bins = r.shape
    return {"electrodes": names, "r": r, "p": p, "residual_autocorr": np.zeros_like(r),
            "blockstats": np.zeros((4, 6, n_el, n_bins)), "attrs": {}}


def _hand_made(p_vs):
    """Two electrodes, one multimodal model, two vision and one language model, one baseline;
    ``p_vs[(comparison, model_b)]`` gives both electrodes' p (absent: not selected)."""
    names = ["e0", "e1"]
    rows = []
    for (comp, mb), ps in p_vs.items():
        for e, p in zip(names, ps, strict=True):
            if p is not None:
                ma = mb.removesuffix("/random") if comp == "trained-vs-random" else "mm"
                rows.append({"alignment": "a", "comparison": comp, "model_a": ma,
                             "model_b": mb, "electrode": e, "n_bins": 5, "delta_r": 0.1,
                             "p": p, "q": p, "significant": p < 0.05})
    comp = pd.DataFrame(rows)
    r, p = np.full((2, 3), 0.2), np.full((2, 3), 0.5)
    trained = {m: _enc(names, r, p) for m in ("mm", "v1", "v2", "l1", "concat")}
    random = {"mm": trained["mm"], "v1": trained["v1"]}
    roles = {"vision": ["v1", "v2"], "language": ["l1"], "multimodal": ["mm"],
             "baselines": ["concat"]}
    responsive = {"names": names, "bins": np.ones((2, 3), bool),
                  "electrodes": np.ones(2, bool), "models": ["mm", "v1"]}
    return classify_alignment(comp, trained, random, roles, responsive, "a")


def test_multimodal_p_is_the_largest_over_every_competitor():
    table, model_p, _ = _hand_made({
        ("trained-vs-random", "mm/random"): (0.001, 0.001),
        ("multimodal-vs-vision", "v1"): (0.002, 0.002),
        ("multimodal-vs-vision", "v2"): (0.03, None),  # e1 not selected for mm vs v2
        ("multimodal-vs-language", "l1"): (0.004, 0.004),
        ("multimodal-vs-concat", "concat"): (0.01, 0.01)})
    assert np.allclose(model_p[0], [0.03, 1.0])
    assert np.allclose(table["a_p_multimodal"], [0.03, 1.0])  # one model: Bonferroni x 1
    assert table.loc["e0", "a_vs_vision_model"] == "v2"  # the binding competitor
    assert table.loc["e0", "a_vs_vision_p"] == pytest.approx(0.03)
    assert table.loc["e1", "a_vs_vision_p"] == 1.0


def test_unimodal_claim_uses_only_models_with_a_twin():
    table, _, _ = _hand_made({("trained-vs-random", "v1/random"): (0.01, None),
                              ("trained-vs-random", "mm/random"): (0.001, 0.001)})
    # v1 has a twin (v2 has none): Bonferroni over one model; no language twin: p = 1.
    assert np.allclose(table["a_p_vision"], [0.01, 1.0])
    assert np.allclose(table["a_p_language"], [1.0, 1.0])


def test_site_p_combines_models_after_the_worst_alignment():
    idx = pd.Index(["e0", "e1"], name="electrode")
    model_p = {"vision": np.array([[0.001, 0.04], [0.2, 0.001]]),
               "language": np.array([[0.004, 0.001], [0.001, 0.3]])}
    tables = {a: pd.DataFrame({f"{a}_p_vision": [0.01, 1.0], f"{a}_p_language": [1.0, 0.2]},
                              index=idx) for a in model_p}
    resp = {a: np.array([[0.01, 0.5], [0.9, 0.8]]) for a in model_p}
    out = combine_alignments(model_p, tables, resp)
    # Model 0: max(0.001, 0.004) = 0.004 at e0, 0.04 at e1; model 1: 0.2, 0.3; x 2 models.
    assert np.allclose(out["p_site"], [0.008, 0.08])
    assert np.allclose(out["p_vision"], [0.02, 1.0])
    assert np.allclose(out["p_responsive"], [simes(np.array([0.01, 0.5, 0.01, 0.5])),
                                             simes(np.array([0.9, 0.8, 0.9, 0.8]))])
    single = combine_alignments({"vision": model_p["vision"]}, {"vision": tables["vision"]},
                                {"vision": resp["vision"]})
    # One alignment (a language-only study): its own claim, Bonferroni over the 2 models.
    assert np.allclose(single["p_site"], [0.002, 0.002])


def test_a_language_only_study_can_call_a_site():
    """No vision model and one alignment: the vision criterion has nothing to beat, so it is
    not part of the claim (NaN, not p = 1), and the site is the language alignment's claim."""
    names = ["e0", "e1"]
    rows = [{"alignment": "language", "comparison": comp, "model_a": ma, "model_b": mb,
             "electrode": e, "n_bins": 5, "delta_r": 0.1, "p": p, "q": p, "significant": True}
            for comp, ma, mb, ps in [("trained-vs-random", "mm", "mm/random", (1e-4, 1e-4)),
                                     ("multimodal-vs-language", "mm", "l1", (1e-4, 0.3))]
            for e, p in zip(names, ps, strict=True)]
    r, p = np.full((2, 3), 0.2), np.full((2, 3), 1e-4)
    trained = {m: _enc(names, r, p) for m in ("mm", "l1")}
    roles = {"vision": [], "language": ["l1"], "multimodal": ["mm"], "baselines": []}
    responsive = {"names": names, "bins": np.ones((2, 3), bool),
                  "electrodes": np.ones(2, bool), "models": ["mm", "l1"]}
    table, model_p, resp_p = classify_alignment(pd.DataFrame(rows), trained, dict(trained),
                                                roles, responsive, "language")
    assert np.isnan(table["language_vs_vision_p"]).all()
    np.testing.assert_allclose(model_p[0], [1e-4, 0.3])  # the IUT over random and language
    claims = combine_alignments({"language": model_p}, {"language": table},
                                {"language": resp_p})
    np.testing.assert_allclose(claims["p_site"], [1e-4, 0.3])
    full = pd.concat([table, claims], axis=1)
    for col in claim_columns(["language"]):
        full[q_column(col)] = full[col]
    classes = assign_classes(full, ["language"], 0.05)
    assert classes["class"].tolist()[0] == "multimodal"
    assert classes["class"].tolist()[1] != "multimodal"


def _qtable(**cols):
    aligns = ["language", "vision"]
    t = pd.DataFrame({q_column(c): 1.0 for c in claim_columns(aligns)}, index=range(1))
    for k, v in cols.items():
        t[k] = v
    return t, aligns


@pytest.mark.parametrize("cols, cls", [
    ({"q_site": 0.01, "language_q_multimodal": 0.01, "vision_q_multimodal": 0.01}, "multimodal"),
    ({"language_q_multimodal": 0.01, "q_vision": 0.01}, "multimodal-language-only"),
    ({"language_q_multimodal": 0.01, "vision_q_multimodal": 0.02}, "multimodal-partial"),
    ({"q_vision": 0.03, "q_language": 0.01}, "language"),
    ({"q_vision": 0.01, "q_language": 0.01}, "vision"),
    ({"q_vision": 0.06, "q_responsive": 0.04}, "responsive"),
    ({"q_responsive": 0.2}, "none"),
])
def test_classes_follow_the_q_of_each_claim(cols, cls):
    t, aligns = _qtable(**cols)
    assert assign_classes(t, aligns, 0.05).loc[0, "class"] == cls


def test_per_alignment_classes_and_missing_columns_are_named():
    t, aligns = _qtable(vision_q_multimodal=0.01, language_q_language=0.01)
    out = assign_classes(t, aligns, 0.05)
    assert out.loc[0, "vision_class"] == "multimodal"
    assert out.loc[0, "language_class"] == "language"
    assert out.loc[0, "class"] == "multimodal-vision-only"
    with pytest.raises(ValueError, match="no column 'q_site'"):
        assign_classes(t.drop(columns="q_site"), aligns, 0.05)
    with pytest.raises(ValueError, match="not a claim p column"):
        q_column("class")


def _subject_table(p_site, p_resp):
    n = len(p_site)
    aligns = ["language", "vision"]
    t = pd.DataFrame({"electrode": [f"e{i}" for i in range(n)], "region": "r", "x": 0.0,
                      "y": 0.0, "z": 0.0, "class": "none"})
    for c in claim_columns(aligns):
        t[c] = 1.0
    t["p_site"], t["p_responsive"] = p_site, p_resp
    t["language_p_multimodal"] = t["vision_p_multimodal"] = p_site
    for a in aligns:
        t[f"{a}_class"] = "none"
    return t


def test_pool_runs_bh_across_all_subjects():
    # Each subject alone: BH at 0.05 over 10 electrodes passes 0.004 (0.004 * 10 / 1 = 0.04);
    # pooled over 30 electrodes 0.004 * 30 / 3 = 0.04 still passes but 0.012 (x 30 / 3 = 0.12)
    # does not, whereas alone 0.012 * 10 / 1 = 0.12 never passed either: q is over the pool.
    s1 = _subject_table([0.004] + [0.9] * 9, [0.001] * 10)
    s2 = _subject_table([0.004] + [0.9] * 9, [0.9] * 10)
    s3 = _subject_table([0.004, 0.006] + [0.9] * 8, [0.9] * 10)
    pooled = build.pool_sites({"sub_1": s1, "sub_2": s2, "sub_3": s3}, 0.05)
    assert list(pooled.columns[:8]) == build.POOLED_BASE_COLUMNS
    assert len(pooled) == 30
    expect = bh_fdr(pooled["p_site"].to_numpy())
    assert np.allclose(pooled["q_site"], expect)
    sites = pooled.loc[pooled["class"] == "multimodal", ["subject", "electrode"]]
    assert sites.values.tolist() == [["sub_1", "e0"], ["sub_2", "e0"], ["sub_3", "e0"],
                                     ["sub_3", "e1"]]
    # Responsive of sub_1's other electrodes survives the pooled BH (10 of 30 at 0.001).
    assert (pooled.loc[(pooled["subject"] == "sub_1") & (pooled["electrode"] != "e0"),
                       "class"] == "responsive").all()
    assert (pooled["subject_class"] == "none").all()  # the per-subject column is kept
    with pytest.raises(ValueError, match="lacks the columns"):
        build.pool_sites({"sub_1": s1.drop(columns="p_site")})


def test_pool_job_reads_and_writes_files(tmp_path):
    from neuroalign.io import read_parquet_metadata, write_parquet

    paths = []
    for s in ("sub_1", "sub_2"):
        p = tmp_path / s / "sites.parquet"
        p.parent.mkdir()
        write_parquet(_subject_table([0.001, 0.9], [0.9, 0.9]), p, metadata={"subject": s})
        paths.append(p)
    cfg = {"stats": {"fdr_q": 0.05}, "seed": 0, "results": str(tmp_path), "sites": {}}
    out = tmp_path / "stats" / "sites.parquet"
    res = build.run_pool(cfg, paths, out)
    table = pd.read_parquet(out)
    assert res["n_electrodes"] == 4 and set(table["subject"]) == {"sub_1", "sub_2"}
    assert read_parquet_metadata(out)["subjects"] == ["sub_1", "sub_2"]
    with pytest.raises(ValueError, match="given twice"):
        build.run_pool(cfg, [paths[0], paths[0]], out)


def test_compare_alignment_tests_each_pair_on_its_own_selection():
    rng = np.random.default_rng(3)
    a, b = _sums(rng, signal=(0.0, 0.0, 0.6, 0.0, 0.5, 0.0))
    names = [f"e{i}" for i in range(6)]
    enc = {m: {"blockstats": s, "electrodes": names} for m, s in (("m", a), ("u", b))}
    roles = {"vision": ["u"], "language": [], "multimodal": ["m"], "baselines": []}
    comp = compare_alignment({"m": enc["m"], "u": enc["u"]}, {}, roles, "a",
                             n_permutations=199, min_bins=3, seed=0, subject="s")
    sel = pair_selection(a, b, 0.05, 3)
    assert set(comp["electrode"]) == {names[i] for i in np.flatnonzero(sel["electrodes"])}
    assert {"e2", "e4"} <= set(comp["electrode"])
    assert (comp["comparison"] == "multimodal-vs-vision").all()
    assert comp.set_index("electrode").loc["e2", "p"] < 0.05
