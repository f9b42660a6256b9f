"""SLIP and CLIP towers: checkpoint layout, parity with timm / open_clip references, registry."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from neuroalign.features import extract_features, get_model, load_model, read_features
from neuroalign.features._base import WeightsNotFoundError
from neuroalign.features._clip import TINY_CLIP, parse_clip_weights
from neuroalign.features._slip import SLIP_URL, TINY, load_slip_tower
from neuroalign.features.registry import weights_id

MOVIE = "sim-movie-b"
TINY_WIDTHS = {"tiny-slip.vision": [32] * 4, "tiny-slip.text": [32] * 4,
               "tiny-clip.vision": [32] * 3, "tiny-clip.text": [32] * 4}
ENTRIES = {"slip-combo.vision": ("multimodal", True), "slip-combo.text": ("multimodal", True),
           "slip-clip.vision": ("multimodal", True), "slip-clip.text": ("multimodal", True),
           "slip-simclr.vision": ("vision", False), "clip.vision": ("multimodal", True),
           "clip.text": ("multimodal", True)}
# tiny SLIP dims (as in the spec TINY): ViT width 32, text width 32, context 16, embed 16
W, CTX, VOCAB, EMB, MLP, SSL = 32, 16, 49408, 16, 64, 16


@pytest.fixture(scope="module")
def env(tiny_dataset, tiny_events):
    _, events = tiny_events
    events = events[MOVIE]
    short = pd.read_parquet(events["language"]).head(12)
    return {"root": tiny_dataset, "events": events, "short": short}


def _extract(env, model, init, out, events=None, **kw):
    events = env["events"]["vision"] if events is None else events
    return extract_features(model, init, events, env["root"] / "movies", out, movie=MOVIE,
                            dataset_root=env["root"], verbose="warning", **kw)


# --- a SLIP-layout checkpoint in the original key names and nesting ----------------------

def _slip_state(kind: str, seed: int = 0) -> dict:
    """Random weights named as SLIP's models.py names them (``module.`` from DDP)."""
    import timm
    import torch

    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=0.05):
        return torch.randn(*shape, generator=g) * scale

    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0,
                            img_size=64, embed_dim=32, depth=2, num_heads=2)
    state = {f"visual.{k}": rnd(*v.shape) + (1.0 if k.endswith("norm.weight") or ".norm" in k
                                              and k.endswith("weight") else 0.0)
             for k, v in vit.state_dict().items()}
    if kind in ("slip", "clip"):
        state.update({"token_embedding.weight": rnd(VOCAB, W, scale=0.02),
                      "positional_embedding": rnd(CTX, W, scale=0.01),
                      "ln_final.weight": 1 + rnd(W), "ln_final.bias": rnd(W),
                      "image_projection": rnd(W, EMB), "text_projection": rnd(W, EMB),
                      "logit_scale": torch.tensor(2.66)})
        for i in range(2):
            p = f"transformer.resblocks.{i}."
            state.update({p + "attn.in_proj_weight": rnd(3 * W, W),
                          p + "attn.in_proj_bias": rnd(3 * W),
                          p + "attn.out_proj.weight": rnd(W, W), p + "attn.out_proj.bias": rnd(W),
                          p + "ln_1.weight": 1 + rnd(W), p + "ln_1.bias": rnd(W),
                          p + "mlp.c_fc.weight": rnd(4 * W, W), p + "mlp.c_fc.bias": rnd(4 * W),
                          p + "mlp.c_proj.weight": rnd(W, 4 * W), p + "mlp.c_proj.bias": rnd(W),
                          p + "ln_2.weight": 1 + rnd(W), p + "ln_2.bias": rnd(W)})
    if kind in ("slip", "simclr"):
        sizes = {"layer1": (MLP, W), "layer2": (MLP, MLP), "layer3": (SSL, MLP)}
        for layer, (o, i) in sizes.items():
            state[f"image_mlp.{layer}.weight"] = rnd(o, i)
            state[f"image_mlp.{layer}.bias"] = rnd(o)
        for bn in ("bn1", "bn2"):
            state.update({f"image_mlp.{bn}.weight": 1 + rnd(MLP), f"image_mlp.{bn}.bias": rnd(MLP),
                          f"image_mlp.{bn}.running_mean": rnd(MLP),
                          f"image_mlp.{bn}.running_var": 1 + rnd(MLP).abs(),
                          f"image_mlp.{bn}.num_batches_tracked": torch.tensor(100)})
    return state


def _write_slip(path, kind="slip", state=None, model=None):
    import torch

    state = _slip_state(kind) if state is None else state
    args = argparse.Namespace(model=model or {"slip": "SLIP_VITB16", "clip": "CLIP_VITB16",
                                              "simclr": "SIMCLR_VITB16"}[kind],
                              ssl_mlp_dim=MLP, ssl_emb_dim=SSL, epochs=25, lr=3e-3,
                              output_dir="/checkpoints/slip", dataset="yfcc15m")
    torch.save({"epoch": 25, "state_dict": {f"module.{k}": v for k, v in state.items()},
                "optimizer": {"state": {}, "param_groups": [{"lr": 3e-3, "params": [0, 1]}]},
                "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0},
                "best_acc1": 0.0, "args": args}, path)
    return path


@pytest.fixture(scope="module")
def slip_file(tmp_path_factory):
    return _write_slip(tmp_path_factory.mktemp("slip") / "slip_base_25ep.pt")


def _references(state):
    """timm ViT and open_clip QuickGELU text transformer holding the checkpoint's weights."""
    import timm
    from open_clip.transformer import QuickGELU, TextTransformer

    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0,
                            img_size=64, embed_dim=32, depth=2, num_heads=2)
    vit.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("visual.")})
    text = TextTransformer(context_length=CTX, vocab_size=VOCAB, width=W, heads=2, layers=2,
                           output_dim=EMB, act_layer=QuickGELU, output_tokens=True)
    keys = set(text.state_dict())
    text.load_state_dict({k: v for k, v in state.items() if k in keys})
    return vit.eval(), text.eval()


def test_slip_checkpoint_matches_timm_and_open_clip_references(env, slip_file, tmp_path):
    import torch

    from neuroalign.features import read_frames

    vit_ref, text_ref = _references(_slip_state("slip"))
    vis = load_model("tiny-slip.vision", "trained", weights=str(slip_file))
    txt = load_model("tiny-slip.text", "trained", weights=str(slip_file))
    assert len(vis.weights_sha256) == 64 and vis.weights_sha256 == txt.weights_sha256
    spec = get_model("tiny-slip.vision")
    assert weights_id(spec, "trained", str(slip_file)) == vis.weights_sha256
    # a folder holding the release's file name works too
    folder = load_model("tiny-slip.vision", "trained", weights=str(slip_file.parent))
    assert folder.weights_sha256 == vis.weights_sha256

    # vision: the hooked `norm` CLS token of real movie frames = timm's forward_features
    events = pd.read_parquet(env["events"]["vision"])
    feats, attrs = read_features(_extract(env, "tiny-slip.vision", "trained", tmp_path / "v.h5",
                                          weights=str(slip_file), batch_size=7))
    frames = read_frames(env["root"] / "movies" / f"{MOVIE}.mp4", events["frame_time_s"])
    x = get_model("tiny-slip.vision").preprocess(None)(list(frames))
    with torch.no_grad():
        ref_tokens = vit_ref.forward_features(x)  # (n, 1 + 16, 32)
        np.testing.assert_allclose(vis.model.forward_features(x), ref_tokens, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats["norm"], ref_tokens[:, 0].numpy(), rtol=1e-4, atol=1e-5)
    assert attrs["weights_sha256"] == vis.weights_sha256

    # text: the CLIP embedding (EOT token, projected) and the masked mean of ln_final's tokens
    texts = ["the cat sat on the mat", "", "a " * 40 + "kitten"]
    batch = get_model("tiny-slip.text").preprocess(None)(texts)
    assert batch["input_ids"].shape == (3, CTX)
    assert batch["input_ids"][2, -1] == 49407 and batch["attention_mask"][2].all()
    with torch.no_grad():
        pooled, tokens = text_ref(batch["input_ids"])
        np.testing.assert_allclose(txt.model(**batch), pooled, rtol=1e-5, atol=1e-6)
    short = env["short"]
    feats, _ = read_features(_extract(env, "tiny-slip.text", "trained", tmp_path / "t.h5",
                                      events=short, weights=str(slip_file), pooling=None))
    batch = get_model("tiny-slip.text").preprocess(None)(list(short["text"].astype(str)))
    with torch.no_grad():
        tokens = text_ref(batch["input_ids"])[1]  # (n, CTX, W) after ln_final
    m = batch["attention_mask"].unsqueeze(-1).float()
    np.testing.assert_allclose(feats["ln_final"], ((tokens * m).sum(1) / m.sum(1)).numpy(),
                               rtol=1e-4, atol=1e-5)
    assert feats["ln_final"].std(0).max() > 0  # texts differ -> features differ


@pytest.mark.parametrize("kind", ["clip", "simclr"])
def test_slip_clip_and_simclr_layouts(tmp_path, kind):
    import torch

    path = _write_slip(tmp_path / f"{kind}.pt", kind)
    state = _slip_state(kind)
    vit_ref, text_ref = _references({**_slip_state("slip"), **state})
    x = torch.randn(2, 3, 64, 64)
    vis = load_slip_tower(path, kind, "vision", TINY, f"tiny-{kind}")
    with torch.no_grad():
        np.testing.assert_allclose(vis(x), vit_ref(x), rtol=1e-5, atol=1e-6)
    if kind == "clip":
        ids = torch.randint(0, VOCAB, (2, CTX))
        with torch.no_grad():
            np.testing.assert_allclose(load_slip_tower(path, kind, "text", TINY, "t")(ids),
                                       text_ref(ids)[0], rtol=1e-5, atol=1e-6)
    # the SimCLR file lacks the text keys; the CLIP file lacks the SimCLR head
    other = "slip"
    with pytest.raises(ValueError, match="args.model"):
        load_slip_tower(path, other, "vision", TINY, "tiny-slip.vision")
    _write_slip(tmp_path / "relabelled.pt", kind, model="SLIP_VITB16")
    missing = "token_embedding.weight" if kind == "simclr" else "image_mlp.bn1.bias"
    with pytest.raises(ValueError, match=rf"missing key\(s\) \[.*'{missing}'"):
        load_model("tiny-slip.vision", "trained", weights=str(tmp_path / "relabelled.pt"))


def test_corrupted_mismatched_and_missing_slip_checkpoints(tmp_path, monkeypatch):
    import torch

    state = _slip_state("slip")
    state.pop("visual.blocks.1.mlp.fc2.bias")
    state["visual.head.weight"] = torch.zeros(3, 32)
    bad = _write_slip(tmp_path / "bad.pt", state=state)
    with pytest.raises(ValueError, match=r"1 missing key\(s\) \['visual.blocks.1.mlp.fc2.bias'\]"
                                         r".*1 unexpected key\(s\) \['visual.head.weight'\]"):
        load_model("tiny-slip.vision", "trained", weights=str(bad))
    (tmp_path / "trunc.pt").write_bytes(b"PK\x03\x04 not a checkpoint" * 10)
    with pytest.raises(ValueError, match="not a readable SLIP checkpoint"):
        load_model("tiny-slip.text", "trained", weights=str(tmp_path / "trunc.pt"))
    # arbitrary pickled objects are refused (weights_only), never unpickled
    torch.save({"state_dict": {}, "args": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="weights_only"):
        load_model("tiny-slip.text", "trained", weights=str(tmp_path / "evil.pt"))
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(ValueError, match="expected a dict with a 'state_dict'"):
        load_model("tiny-slip.text", "trained", weights=str(tmp_path / "tensor.pt"))

    # missing: every path looked for and how to get the file; no random fallback
    monkeypatch.setenv("NEUROALIGN_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    url = SLIP_URL.format(file="simclr_base_25ep.pt")
    with pytest.raises(WeightsNotFoundError) as err:
        load_model("slip-simclr.vision", "trained")
    msg = str(err.value)
    for part in ("slip-simclr.vision", str(tmp_path / "w" / "slip" / "simclr_base_25ep.pt"),
                 str(tmp_path / "home" / ".cache" / "neuroalign" / "slip"), url):
        assert part in msg
    with pytest.raises(WeightsNotFoundError, match="nowhere.pt"):
        load_model("tiny-slip.vision", "trained", weights=str(tmp_path / "nowhere.pt"))
    # found via $NEUROALIGN_WEIGHTS: the tiny file does not fit ViT-B/16, named key by key
    (tmp_path / "w" / "slip").mkdir(parents=True)
    _write_slip(tmp_path / "w" / "slip" / "slip_base_25ep.pt")
    with pytest.raises(ValueError, match=r"240 missing key.*mis-shaped key\(s\) "
                                         r".*'visual.cls_token: "
                                         r"\(1, 1, 32\) in the file, \(1, 1, 768\) expected"):
        load_model("slip-combo.vision", "trained")


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


# --- every tiny entry through extract_features ------------------------------------------

@pytest.mark.parametrize("init", ["trained", "random"])
@pytest.mark.parametrize("model", sorted(TINY_WIDTHS))
def test_tiny_towers_yield_every_named_layer(env, tmp_path, model, init):
    spec = get_model(model)
    events = env["short"] if spec.inputs == "text" else env["events"]["vision"]
    n = len(events) if isinstance(events, pd.DataFrame) else len(pd.read_parquet(events))
    feats, attrs = read_features(_extract(env, model, init, tmp_path / "f.h5", events=events,
                                          batch_size=5, pooling=None))
    assert list(feats) == list(spec.layers) == list(attrs["layers"])
    assert [f.shape for f in feats.values()] == [(n, w) for w in TINY_WIDTHS[model]]
    assert all(f.dtype == np.float32 and np.isfinite(f).all() for f in feats.values())
    assert attrs["modality"] == "multimodal" and spec.extra["language_supervised"]
    assert attrs["pooling"] == ("mean" if spec.inputs == "text" else "cls")
    assert (attrs["weights_sha256"] == "random-init") == (init == "random")
    last = feats[spec.layers[-1]]
    assert last.std(0).max() > 1e-6  # events differ -> features differ


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)


@pytest.mark.parametrize("model", sorted(TINY_WIDTHS))
def test_random_twins_are_seeded_and_differ_from_trained(model):
    twin = load_model(model, "random", seed=3).model
    assert _same_weights(twin, load_model(model, "random", seed=3).model)
    assert not _same_weights(twin, load_model(model, "random", seed=4).model)
    assert not _same_weights(twin, load_model(model, "trained").model)


def test_registry_entries():
    for name, (modality, language) in ENTRIES.items():
        spec = get_model(name)
        assert spec.modality == modality and spec.extra["language_supervised"] is language
        assert spec.random_init and not spec.is_control
        assert spec.default_pooling == ("mean" if spec.inputs == "text" else "cls")
    assert get_model("slip-combo.vision").layers == (
        ("patch_embed",) + tuple(f"blocks.{i}" for i in range(12)) + ("norm",))
    assert get_model("slip-clip.text").layers == (
        ("token_embedding",) + tuple(f"transformer.resblocks.{i}" for i in range(12))
        + ("ln_final",))
    assert get_model("clip.vision").layers[-2:] == ("visual.transformer.resblocks.11",
                                                    "visual.ln_post")
    assert get_model("clip.text").layers[-2:] == ("transformer.resblocks.11", "ln_final")


# --- open_clip ---------------------------------------------------------------------------

def test_parse_clip_weights(tmp_path):
    assert parse_clip_weights(None) == ("ViT-B-16", "openai", None)
    assert parse_clip_weights("ViT-L-14/laion2b_s32b_b82k") == ("ViT-L-14", "laion2b_s32b_b82k",
                                                                None)
    f = tmp_path / "w.safetensors"
    assert parse_clip_weights(str(f)) == ("ViT-B-16", None, f)
    assert parse_clip_weights(f"ViT-B-32-quickgelu={f}") == ("ViT-B-32-quickgelu", None, f)


def test_open_clip_state_dict_loads_through_the_clip_loader(tmp_path):
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(5)
    ref = open_clip.CLIP(embed_dim=TINY_CLIP["embed_dim"], vision_cfg=TINY_CLIP["vision_cfg"],
                         text_cfg=TINY_CLIP["text_cfg"], quick_gelu=True).eval()
    state = ref.state_dict()
    torch.save(state, tmp_path / "tiny_clip.pt")
    save_file({k: v.contiguous() for k, v in state.items()},
              str(tmp_path / "tiny_clip.safetensors"))
    x = torch.randn(2, 3, 32, 32)
    batch = get_model("tiny-clip.text").preprocess(None)(["a dog", "the stock market fell"])
    for file in ("tiny_clip.pt", "tiny_clip.safetensors"):
        vis = load_model("tiny-clip.vision", "trained", weights=str(tmp_path / file))
        txt = load_model("tiny-clip.text", "trained", weights=str(tmp_path / file))
        assert _same_weights(vis.model, ref) and vis.weights_sha256 != "random-init"
        with torch.no_grad():
            np.testing.assert_allclose(vis.model(x), ref.encode_image(x), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(txt.model(**batch), ref.encode_text(batch["input_ids"]),
                                       rtol=1e-5, atol=1e-6)
    state.pop("ln_final.bias")
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError,
                       match="(?s)does not match model 'tiny-clip.text'.*ln_final.bias"):
        load_model("tiny-clip.text", "trained", weights=str(tmp_path / "bad.pt"))
    with pytest.raises(WeightsNotFoundError, match="nowhere.pt"):
        load_model("tiny-clip.vision", "trained", weights=str(tmp_path / "nowhere.pt"))


def test_clip_tag_offline_names_the_cache_entry():
    from neuroalign.features._clip import _clip_file

    try:
        _clip_file("clip.vision", None, "ViT-B-16", "openai")
    except WeightsNotFoundError as err:
        msg = str(err)
    else:
        pytest.skip("ViT-B-16/openai is cached on this machine")
    assert "clip.vision" in msg and "timm/vit_base_patch16_clip_224.openai" in msg
    assert "allow_download" in msg
    with pytest.raises(WeightsNotFoundError, match="ViT-B-16/openai"):
        load_model("clip.text", "trained", weights="ViT-B-16/openai")
    with pytest.raises(ValueError, match="no pretrained tag 'nope'"):
        load_model("clip.text", "trained", weights="ViT-B-16/nope")
