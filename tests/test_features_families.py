"""Registry families beyond the first slice: timm vision (BEiT, ConvNeXt), HF language (SBERT,
SimCSE) and HF cross-attention multimodal (BLIP, FLAVA) towers, through their tiny configs."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from neuroalign.features import REGISTRY, extract_features, get_model, load_model, read_features
from neuroalign.features._base import WeightsNotFoundError
from neuroalign.features.registry import weights_id
from neuroalign.io import sha256_file

MOVIE = "sim-movie-b"
# pooled width of each named layer of the tiny networks (before projection)
TINY_WIDTHS = {
    "tiny-beit": [32, 32, 32],
    "tiny-convnext": [8, 8, 16, 32, 64, 64],
    "tiny-sbert": [32, 32, 32],
    "tiny-simcse": [32, 32, 32],
    "tiny-blip": [32, 32],
    "tiny-flava": [32, 32, 32],
}
REAL = {"beit": "timm--beit_base_patch16_224", "convnext": "timm--convnext_base",
        "sbert": "sentence-transformers--all-mpnet-base-v2",
        "simcse": "princeton-nlp--sup-simcse-roberta-base",
        "blip": "Salesforce--blip-itm-base-coco", "flava": "facebook--flava-full"}
HF_TINY = ["tiny-sbert", "tiny-simcse", "tiny-blip", "tiny-flava"]


@pytest.fixture(scope="module")
def env(tiny_dataset, tiny_events):
    """Events of one tiny simulated movie: vision events (frames + text) and 16 word events."""
    _, paths = tiny_events
    events = {a: pd.read_parquet(p) for a, p in paths[MOVIE].items()}
    return {"root": tiny_dataset, "vision": events["vision"].head(12),
            "language": events["language"].head(16)}


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, so the tests never see (or depend on) this machine's."""
    from huggingface_hub import constants

    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _events(env, model):
    return env["language"] if get_model(model).inputs == "text" else env["vision"]


def _extract(env, model, init, out, **kw):
    return extract_features(model, init, _events(env, model), env["root"] / "movies", out,
                            movie=MOVIE, verbose="warning", **kw)


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_family_entries_are_registered():
    for name in list(TINY_WIDTHS) + list(REAL):
        spec = REGISTRY[name]
        assert spec.random_init and spec.trained_id is not None and not spec.is_control
        assert "manual_seed(seed)" in spec.random_init
    assert get_model("blip").inputs == get_model("flava").inputs == "image+text"
    assert get_model("beit").layers[-1] == "fc_norm" and len(get_model("beit").layers) == 13
    assert get_model("convnext").layers == ("stem", "stages.0", "stages.1", "stages.2",
                                            "stages.3", "head.norm")
    assert get_model("sbert").layers[1:] == tuple(f"encoder.layer.{i}" for i in range(12))
    assert get_model("flava").layers[0] == "multimodal_model.encoder.layer.0"
    assert get_model("blip").layers[-1] == "text_encoder.encoder.layer.11"
    for name in REAL:
        assert get_model(f"tiny-{name}").layers[-1].rsplit(".", 1)[0] == \
            get_model(name).layers[-1].rsplit(".", 1)[0]


# --- every named layer, documented shape -------------------------------------------------

@pytest.mark.parametrize("init", ["trained", "random"])
@pytest.mark.parametrize("model", sorted(TINY_WIDTHS))
def test_tiny_families_yield_every_named_layer(env, tmp_path, model, init):
    spec = get_model(model)
    n = len(_events(env, model))
    feats, attrs = read_features(_extract(env, model, init, tmp_path / "f.h5", batch_size=5,
                                          pooling=None))
    assert list(feats) == list(spec.layers) == list(attrs["layers"])
    assert [f.shape for f in feats.values()] == [(n, w) for w in TINY_WIDTHS[model]]
    assert all(f.dtype == np.float32 and np.isfinite(f).all() for f in feats.values())
    assert attrs["inputs"] == spec.inputs and attrs["pooling"] == spec.default_pooling
    assert (attrs["weights_sha256"] == "random-init") == (init == "random")
    # events differ, so features do too (frames and texts really reach the network)
    assert np.ptp(feats[spec.layers[-1]], axis=0).max() > 1e-3
    again, _ = read_features(_extract(env, model, init, tmp_path / "g.h5", batch_size=64,
                                      pooling=None))
    for layer in feats:
        np.testing.assert_allclose(feats[layer], again[layer], rtol=1e-4, atol=1e-5)


# --- trained weights: state-dict files and save_pretrained folders ------------------------

@pytest.mark.parametrize("model", sorted(TINY_WIDTHS))
def test_saved_state_dict_reloads_with_identical_features(env, tmp_path, model):
    reference = load_model(model, "trained").model
    path = tmp_path / f"{model}.pth"
    torch.save(reference.state_dict(), path)
    want, _ = read_features(_extract(env, model, "trained", tmp_path / "ref.h5"))
    got, attrs = read_features(_extract(env, model, "trained", tmp_path / "file.h5",
                                        weights=path))
    assert attrs["weights_sha256"] == sha256_file(path) == weights_id(get_model(model),
                                                                      "trained", str(path))
    assert attrs["weights_source"] == str(path)
    for layer in want:
        np.testing.assert_array_equal(got[layer], want[layer])


def _save_folder(model, folder):
    """A save_pretrained folder of ``model``'s reference weights, with MiniLM's tokenizer."""
    from neuroalign.features._hf_text import minilm_tokenizer

    loaded = load_model(model, "trained").model
    loaded.save_pretrained(folder)
    minilm_tokenizer().save_pretrained(folder)
    return loaded


@pytest.mark.parametrize("model", HF_TINY)
def test_hf_folder_goes_through_the_real_loader(env, tmp_path, model):
    folder = tmp_path / "ckpt"
    _save_folder(model, folder)
    want, _ = read_features(_extract(env, model, "trained", tmp_path / "ref.h5"))
    got, attrs = read_features(_extract(env, model, "trained", tmp_path / "dir.h5",
                                        weights=folder))
    assert attrs["weights_source"] == str(folder)
    assert attrs["weights_sha256"] == sha256_file(folder / "model.safetensors")
    for layer in want:
        np.testing.assert_array_equal(got[layer], want[layer])


def test_real_entry_reads_the_hub_cache(env, tmp_path, empty_hub_cache):
    """``sbert`` with no ``weights`` finds a (tiny) checkpoint in the hub cache layout."""
    repo = empty_hub_cache / "models--sentence-transformers--all-mpnet-base-v2"
    snapshot = repo / "snapshots" / ("0" * 40)
    reference = _save_folder("tiny-sbert", snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    loaded = load_model("sbert", "trained")
    assert _same_weights(loaded.model, reference)
    assert loaded.weights_sha256 == sha256_file(snapshot / "model.safetensors")
    assert weights_id(get_model("sbert"), "trained") == loaded.weights_sha256
    twin = load_model("sbert", "random", seed=1).model  # architecture from the cached config
    assert twin.config.hidden_size == 32 and not _same_weights(twin, reference)


# --- random twins --------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(TINY_WIDTHS))
def test_random_twin_is_seeded_and_differs_from_trained(model):
    twin = load_model(model, "random", seed=3).model
    assert _same_weights(twin, load_model(model, "random", seed=3).model)
    assert not _same_weights(twin, load_model(model, "random", seed=4).model)
    assert not _same_weights(twin, load_model(model, "trained").model)


def test_timm_random_twin_needs_no_weights():
    model = load_model("convnext", "random", seed=0).model  # real-size architecture
    assert len(model.stages) == 4 and model.head.norm.normalized_shape == (1024,)


# --- errors: missing and mismatched weights -----------------------------------------------

@pytest.mark.parametrize("model", sorted(REAL))
def test_real_entry_without_weights_is_a_clear_error(model, empty_hub_cache, tmp_path):
    entry = f"models--{REAL[model]}"
    for call in (lambda: load_model(model, "trained"),
                 lambda: weights_id(get_model(model), "trained")):
        with pytest.raises(WeightsNotFoundError) as err:
            call()
        msg = str(err.value)
        assert f"model {model!r}" in msg and entry in msg and str(empty_hub_cache) in msg
        assert "huggingface-cli download" in msg and "models[].weights" in msg
    with pytest.raises(WeightsNotFoundError, match=rf"{model}.*nowhere"):
        load_model(model, "trained", weights=str(tmp_path / "nowhere"))
    if get_model(model).family not in ("beit", "convnext"):  # HF twins read config.json
        with pytest.raises(WeightsNotFoundError, match=entry):
            load_model(model, "random")


@pytest.mark.parametrize("model", ["tiny-beit", "tiny-convnext", "tiny-simcse", "tiny-blip"])
def test_mismatched_state_dict_lists_keys(tmp_path, model):
    state = load_model(model, "random").model.state_dict()
    dropped = sorted(state)[-1]
    state.pop(dropped)
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=rf"{model}.*1 missing key\(s\) \['{dropped}'\].*"
                                         r"1 unexpected key\(s\) \['extra.weight'\]"):
        load_model(model, "trained", weights=str(tmp_path / "bad.pth"))


def test_mismatched_hf_folder_lists_keys(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "ckpt"
    _save_folder("tiny-flava", folder)
    state = load_file(folder / "model.safetensors")
    state.pop("multimodal_model.layernorm.weight")
    state["mim_head.bias"] = torch.zeros(1)  # a pretraining head: allowed to go unused
    state["surprise.weight"] = torch.zeros(1)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"tiny-flava.*missing key\(s\) "
                                         r"\['multimodal_model.layernorm.weight'\].*"
                                         r"1 unexpected key\(s\) \['surprise.weight'\]"):
        load_model("tiny-flava", "trained", weights=str(folder))


# --- preprocessing -------------------------------------------------------------------------

def test_timm_transform_matches_timms_own_eval_transform():
    import timm.data
    from PIL import Image

    frame = np.random.default_rng(0).integers(0, 256, (90, 160, 3), np.uint8)
    frame = np.asarray(Image.fromarray(frame).resize((320, 180), Image.BICUBIC))  # smooth-ish
    for model in ("beit", "convnext"):
        transform = get_model(model).preprocess(None)
        cfg = timm.data.resolve_data_config(pretrained_cfg=__import__(
            "timm").models.get_pretrained_cfg(get_model(model).extra["timm_name"]).to_dict())
        want = timm.data.create_transform(**cfg)(Image.fromarray(frame))[None]
        got = transform([frame])
        assert got.shape == want.shape == (1, 3, 224, 224)
        # PIL's and torch's antialiased bicubic differ slightly; the recipe must agree
        assert float((got - want).abs().mean()) < 0.03, model


def test_multimodal_transform_uses_the_models_processor(env):
    spec = get_model("tiny-flava")
    batch = spec.preprocess(None)([np.zeros((90, 160, 3), np.uint8)] * 2, ["a cat", "a dog sat"])
    assert set(batch) == {"pixel_values", "input_ids", "attention_mask"}
    assert batch["pixel_values"].shape == (2, 3, 32, 32)
    # black pixels -> -mean/std with OpenAI-CLIP constants
    np.testing.assert_allclose(batch["pixel_values"][0, :, 0, 0].numpy(),
                               [-0.48145466 / 0.26862954, -0.4578275 / 0.26130258,
                                -0.40821073 / 0.27577711], rtol=1e-4)
    lengths = batch["attention_mask"].sum(1).tolist()  # padded to the longer text
    assert lengths[0] < lengths[1] == batch["input_ids"].shape[1]


def test_multilingual_entry_reads_dutch_from_a_local_folder(env, tmp_path, empty_hub_cache):
    """``multilingual-minilm`` (a BERT with XLM-R's SentencePiece tokenizer) through the real
    loader: a local folder, then the hub-cache layout, with a tiny checkpoint of its layout."""
    from replicas import _DUTCH, write_tiny_multilingual_minilm

    from neuroalign.features.registry import language_problems

    sentences = [" ".join(_DUTCH[i:i + 6]) for i in range(0, len(_DUTCH), 3)]
    folder = write_tiny_multilingual_minilm(tmp_path / "ckpt", sentences)
    events = env["language"].assign(text=[sentences[i % len(sentences)]
                                          for i in range(len(env["language"]))])
    spec = get_model("multilingual-minilm")
    assert spec.reads("nl") and not get_model("minilm").reads("nl")
    tokens = spec.preprocess(str(folder))(list(events["text"]))
    unk = spec.preprocess(str(folder)).tokenizer.unk_token_id
    assert (tokens["input_ids"] != unk).float().mean() > 0.9  # its own vocabulary, not MiniLM's
    out = extract_features("multilingual-minilm", "trained", events, env["root"] / "movies",
                           tmp_path / "f.h5", movie=MOVIE, verbose="warning",
                           weights=str(folder))
    feats, attrs = read_features(out)
    assert list(feats) == list(spec.layers) and len(feats) == 13
    assert attrs["weights_sha256"] == sha256_file(folder / "model.safetensors")
    # The same checkpoint found in the hub cache under the real repo id.
    repo = empty_hub_cache / "models--sentence-transformers--paraphrase-multilingual-MiniLM-L12-v2"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(folder, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    assert load_model("multilingual-minilm", "trained").weights_sha256 == attrs["weights_sha256"]
    # English-only text models are refused for a Dutch transcript, naming the alternative.
    problems = language_problems(["minilm", "multilingual-minilm", "efficientnet-lite0"], "nl")
    assert len(problems) == 1 and "'minilm' reads en text only" in problems[0]
    assert "multilingual-minilm" in problems[0]
