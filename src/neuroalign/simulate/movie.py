"""Synthetic movie: shots composed from images bundled with scikit-image / scikit-learn.

Shots are nested in scenes, as in a film. A scene has a setting (``_SETTING`` source images,
like the shot / reverse-shot of a dialogue) and a palette (a colour tint); each of its shots
shows one of the setting's images with a random crop, flip and a small tint jitter, and a
slow pan/zoom within the shot. Consecutive shots use different images, so every cut is
sharp (PySceneDetect's ``ContentDetector`` finds them), while frame statistics stay close
within a scene and jump between scenes. Shot and scene boundaries fall on frames.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..io import atomic_path

__all__ = ["image_pool", "plan_scenes", "plan_shots", "scene_setting", "scene_base",
           "render_frame", "write_movie"]

_SETTING = 2  # source images per scene (shot / reverse shot)
_JITTER = 0.1  # per-shot tint jitter around the scene's palette (fraction)
_GRADE = 0.3  # weight of the scene's colour grade (a uniform colour blended into every frame)

# Only images whose files ship inside the scikit-image wheel (no pooch download).
_SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "page", "text",
            "hubble_deep_field", "immunohistochemistry", "retina", "grass", "gravel", "brick",
            "colorwheel", "logo", "horse", "clock")


@lru_cache(maxsize=1)
def image_pool() -> tuple[np.ndarray, ...]:
    """Source images, each ``(H, W, 3)`` uint8 RGB (grey images are replicated)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    out = []
    for name in _SKIMAGE:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception:  # noqa: BLE001 - a missing image only shrinks the pool
            continue
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(np.ascontiguousarray(img[..., :3].astype(np.uint8)))
    out += [np.asarray(im, dtype=np.uint8) for im in load_sample_images().images]
    return tuple(out)


def plan_scenes(duration: float, fps: float, scene_s: tuple[float, float],
                rng: np.random.Generator) -> np.ndarray:
    """Frame index of each scene start.

    Parameters
    ----------
    duration : float
        Movie duration in s.
    fps : float
        Frame rate.
    scene_s : tuple of float
        Range of scene durations in s.
    rng : numpy.random.Generator
        Draws the durations.

    Returns
    -------
    numpy.ndarray, shape (n_scenes,)
        Start frames, first 0; the last scene is at least ``scene_s[0]`` long.
    """
    n_frames = int(round(duration * fps))
    starts, f = [0], 0
    while True:
        f += int(round(rng.uniform(*scene_s) * fps))
        if f > n_frames - scene_s[0] * fps:
            return np.array(starts, dtype=int)
        starts.append(f)


def plan_shots(duration: float, fps: float, shot_s: tuple[float, float],
               scene_len_s: tuple[float, float] | None,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shots nested in scenes.

    Parameters
    ----------
    duration : float
        Movie duration in s.
    fps : float
        Frame rate.
    shot_s : tuple of float
        Range of shot durations in s (uniform).
    scene_len_s : tuple of float | None
        Range of scene durations in s (uniform); the last scene is at least
        ``scene_len_s[0]`` long. ``None``: every shot is its own scene.
    rng : numpy.random.Generator
        Draws the durations.

    Returns
    -------
    shot_starts : numpy.ndarray, shape (n_shots,)
        Start frame of each shot, first 0, increasing; every scene starts with a shot.
    shot_scene : numpy.ndarray, shape (n_shots,)
        Scene of each shot (0, 1, ...; non-decreasing).
    """
    n_frames = int(round(duration * fps))
    if scene_len_s is None:
        starts = plan_scenes(duration, fps, shot_s, rng)
        return starts, np.arange(len(starts))
    scenes = np.append(plan_scenes(duration, fps, scene_len_s, rng), n_frames)
    shots, scene_of = [], []
    for j in range(len(scenes) - 1):
        a, b = int(scenes[j]), int(scenes[j + 1])
        within = plan_scenes((b - a) / fps, fps, shot_s, rng)
        shots += [a + int(f) for f in within]
        scene_of += [j] * len(within)
    return np.array(shots, dtype=int), np.array(scene_of, dtype=int)


def scene_setting(rng: np.random.Generator, prev: tuple[int, ...] = ()) -> dict:
    """Draw one scene's setting: its source images and palette.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the setting.
    prev : tuple of int
        Images of the previous scene (avoided, so that scenes differ).

    Returns
    -------
    dict
        ``images``: ``_SETTING`` distinct indices into ``image_pool()`` (at most one grey);
        ``tint``: RGB gains, shape (3,), and ``grade``: an RGB colour, shape (3,), blended
        into every frame with weight ``_GRADE`` (the scene's lighting / colour grading),
        both shared by the scene's shots.
    """
    pool = image_pool()
    grey = _grey_images()
    choices = [i for i in range(len(pool)) if i not in prev]
    if len(choices) < _SETTING:
        choices = list(range(len(pool)))
    # At most one grey source image per setting: two grey images under the scene's common
    # tint differ in texture only, and ContentDetector misses the cuts between them.
    colour = [i for i in choices if i not in grey]
    if len(colour) >= _SETTING - 1:
        order = [int(i) for i in rng.permutation(choices)]
        images: list[int] = []
        for i in order:
            if len(images) < _SETTING and (i not in grey or not any(j in grey for j in images)):
                images.append(i)
    else:
        images = [int(i) for i in rng.choice(choices, size=min(_SETTING, len(choices)),
                                             replace=False)]
    return {"images": tuple(images), "tint": rng.uniform(0.55, 1.45, size=3),
            "grade": rng.uniform(40.0, 215.0, size=3)}


@lru_cache(maxsize=1)
def _grey_images() -> frozenset[int]:
    """Indices of the pool images whose three channels are equal."""
    return frozenset(i for i, img in enumerate(image_pool())
                     if np.array_equal(img[..., 0], img[..., 1])
                     and np.array_equal(img[..., 0], img[..., 2]))


def scene_base(rng: np.random.Generator, size: int, prev: int | None,
               setting: dict | None = None) -> dict:
    """Draw one shot's look: image, crop, flip, tint and pan/zoom path.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the look.
    size : int
        Frame side in pixels.
    prev : int | None
        Image of the previous shot (not reused, so that the cut is sharp).
    setting : dict | None
        The scene's setting (:func:`scene_setting`): the image is one of its ``images``
        and the tint its ``tint`` times a +/-10 % jitter. ``None``: any image of the pool
        and an independent tint.

    Returns
    -------
    dict
        ``image`` index, ``base`` (``(B, B, 3)`` uint8, ``B = 1.4 * size``) and the
        pan/zoom start/end windows (fractions of ``B``).
    """
    from skimage.transform import resize

    pool = image_pool()
    allowed = range(len(pool)) if setting is None else setting["images"]
    choices = [i for i in allowed if i != prev] or list(allowed)
    idx = int(rng.choice(choices))
    img = pool[idx]
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.55, 1.0))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y0:y0 + side, x0:x0 + side].astype(np.float32)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if setting is None:
        tint = rng.uniform(0.55, 1.45, size=3).astype(np.float32)
    else:
        tint = (np.asarray(setting["tint"])
                * rng.uniform(1 - _JITTER, 1 + _JITTER, size=3)).astype(np.float32)
    b = int(round(1.4 * size))
    base = resize(crop * tint, (b, b), order=1, preserve_range=True, anti_aliasing=True)
    if setting is not None:
        base = (1.0 - _GRADE) * base + _GRADE * np.asarray(setting["grade"], np.float32)
    base = np.clip(base, 0, 255).astype(np.uint8)
    z0, z1 = rng.uniform(0.72, 1.0, size=2)  # window side, fraction of the base
    c0, c1 = rng.uniform(0.0, 1.0, size=(2, 2))  # window position within the free margin
    return {"image": idx, "base": base, "zoom": (float(z0), float(z1)),
            "pos0": c0.tolist(), "pos1": c1.tolist()}


def render_frame(scene: dict, frac: float, size: int) -> np.ndarray:
    """Frame at fraction ``frac`` in [0, 1] of a scene, ``(size, size, 3)`` uint8."""
    base = scene["base"]
    b = base.shape[0]
    z = scene["zoom"][0] + (scene["zoom"][1] - scene["zoom"][0]) * frac
    win = z * b
    p = [a + (c - a) * frac for a, c in zip(scene["pos0"], scene["pos1"], strict=True)]
    y0, x0 = p[0] * (b - win), p[1] * (b - win)
    grid = (np.arange(size) + 0.5) * (win / size)
    rows = np.clip((y0 + grid).astype(int), 0, b - 1)
    cols = np.clip((x0 + grid).astype(int), 0, b - 1)
    return base[rows][:, cols]


def write_movie(path: Path, scene_starts: np.ndarray, n_frames: int, fps: float, size: int,
                rng: np.random.Generator, shot_scene: np.ndarray | None = None) -> list[dict]:
    """Render and encode the movie with PyAV (H.264 if available, else MPEG-4).

    Parameters
    ----------
    path : pathlib.Path
        Destination ``.mp4``.
    scene_starts : numpy.ndarray, shape (n_shots,)
        Start frame of each shot (each is a scene cut event).
    n_frames : int
        Total number of frames.
    fps : float
        Frame rate (an integer rate is used by the container).
    size : int
        Frame side in pixels (even).
    rng : numpy.random.Generator
        Draws each scene's setting and each shot's look.
    shot_scene : numpy.ndarray, shape (n_shots,) | None
        Scene of each shot (see :func:`plan_shots`); ``None``: no scene structure (every
        shot draws its image from the whole pool).

    Returns
    -------
    list of dict
        Per shot: ``image`` index and the ``mid`` frame (``(size, size, 3)`` uint8).
    """
    import av

    bounds = list(scene_starts) + [n_frames]
    info, prev = [], None
    with atomic_path(path, suffix=".mp4") as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            stream = container.add_stream(codec, rate=int(round(fps)))
            stream.width = stream.height = size
            stream.pix_fmt = "yuv420p"
            # Fixed thread count: encoder output then does not depend on the machine's cores.
            stream.codec_context.thread_count = 2
            if codec == "libx264":
                stream.options = {"crf": "20", "preset": "veryfast"}
            else:
                stream.bit_rate = 2_000_000
            setting, current = None, None
            for s in range(len(scene_starts)):
                if shot_scene is not None and shot_scene[s] != current:
                    current = shot_scene[s]
                    setting = scene_setting(rng, () if setting is None else setting["images"])
                scene = scene_base(rng, size, prev, setting)
                prev = scene["image"]
                a, b = bounds[s], bounds[s + 1]
                for f in range(a, b):
                    frame = render_frame(scene, (f - a) / max(b - a - 1, 1), size)
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        container.mux(packet)
                info.append({"image": scene["image"],
                             "mid": render_frame(scene, 0.5, size)})
            for packet in stream.encode():
                container.mux(packet)
    return info
