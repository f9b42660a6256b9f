"""The frame on screen at each event: decoded with PyAV, or read from a frames folder.

"On screen at t" means the last frame whose presentation time is at or before ``t``.
Events are sorted by time, so the video is decoded once, forward; when the next wanted
time is more than ``seek_gap_s`` ahead, we seek to the keyframe before it instead of
decoding every frame in between (long movies, sparse vision events).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..data.events import movie_info

__all__ = ["iter_frames", "read_frames", "check_frame_times"]

_EPS = 1e-6  # s; frame times and event times are rounded independently


def check_frame_times(times: np.ndarray, duration_s: float, path: str | os.PathLike,
                      event_ids: Sequence[int] | None = None) -> None:
    """Raise a ValueError naming the first event whose time lies outside ``[0, duration_s]``."""
    times = np.asarray(times, float)
    ids = np.arange(len(times)) if event_ids is None else np.asarray(event_ids)
    bad = np.flatnonzero(~np.isfinite(times) | (times < 0) | (times > duration_s + _EPS))
    if len(bad):
        i = bad[0]
        raise ValueError(
            f"{path}: event {int(ids[i])} has frame_time_s = {times[i]:.3f} s, outside the movie "
            f"(duration {duration_s:.3f} s); {len(bad)} event(s) affected. Were the events built "
            "for another movie?")


def _folder_frames(path: Path, times: np.ndarray, fps: float) -> Iterator[np.ndarray]:
    from PIL import Image

    files = {}
    for f in path.glob("frame_*.png"):
        m = re.fullmatch(r"frame_(\d+)", f.stem)
        if m:
            files[int(m.group(1))] = f
    if not files:
        raise ValueError(f"{path}: frames folder holds no frame_<n>.png files")
    first, last = min(files), max(files)  # numbering may start at 0 or 1
    for t in times:
        n = min(first + int(np.floor(t * fps + _EPS)), last)
        if n not in files:
            raise ValueError(f"{path}: frame_{n}.png is missing (needed for t = {t:.3f} s)")
        with Image.open(files[n]) as im:
            yield np.asarray(im.convert("RGB"))


class _VideoCursor:
    """Forward-only cursor over a video stream that can jump ahead by seeking."""

    def __init__(self, container, stream) -> None:
        self.container, self.stream = container, stream
        self.tb = float(stream.time_base)
        self.t0 = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        self.fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        self.restart(0.0)

    def restart(self, t: float) -> None:
        # backward=True lands on the keyframe at or before t, so no wanted frame is skipped
        self.container.seek(int((t + self.t0) / self.tb), stream=self.stream, backward=True,
                            any_frame=False)
        self.frames = self.container.decode(self.stream)
        self.cur = self.nxt = None
        self.cur_rgb = None
        self.count = 0
        self.seeked = t > 0

    def _time(self, frame) -> float:
        if frame.pts is None:  # rare streams without timestamps: count frames (from start only)
            return self.count / self.fps
        return frame.pts * self.tb - self.t0

    def advance_to(self, t: float) -> None:
        """Make ``cur`` the last frame at or before ``t`` (``nxt`` the first one after)."""
        while True:
            if self.nxt is None:
                self.nxt = next(self.frames, None)
                if self.nxt is None:
                    return
                self.nxt_t = self._time(self.nxt)
                self.count += 1
            if self.nxt_t <= t + _EPS:
                self.cur, self.cur_t, self.cur_rgb, self.nxt = self.nxt, self.nxt_t, None, None
            else:
                return

    def position(self) -> float:
        return self.cur_t if self.cur is not None else (self.nxt_t if self.nxt is not None else 0.0)

    def frame(self) -> np.ndarray:
        if self.cur_rgb is None:
            self.cur_rgb = self.cur.to_ndarray(format="rgb24")
        return self.cur_rgb


def _video_frames(path: Path, times: np.ndarray, seek_gap_s: float) -> Iterator[np.ndarray]:
    import av

    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError) as err:
        raise ValueError(f"{path}: unreadable video ({err})") from err
    with container:
        stream.thread_type = "AUTO"
        cursor = _VideoCursor(container, stream)
        try:
            for t in times:
                if t - cursor.position() > seek_gap_s:
                    cursor.restart(t)
                cursor.advance_to(t)
                if cursor.cur is None and cursor.nxt is not None and cursor.seeked:
                    # the seek overshot (keyframe index missing): decode from the start instead
                    cursor.restart(0.0)
                    cursor.advance_to(t)
                if cursor.cur is None:
                    if cursor.nxt is None:
                        raise ValueError(f"{path}: no frame decoded at or before t = {t:.3f} s")
                    # t precedes the first frame's timestamp (a few ms): that frame is on screen
                    cursor.cur, cursor.cur_t, cursor.nxt = cursor.nxt, cursor.nxt_t, None
                yield cursor.frame()
        except av.error.FFmpegError as err:
            raise ValueError(f"{path}: unreadable video ({err})") from err


def iter_frames(path: str | os.PathLike, times: Sequence[float], *,
                event_ids: Sequence[int] | None = None,
                seek_gap_s: float = 10.0) -> Iterator[np.ndarray]:
    """Yield the RGB frame on screen at each time, in order.

    Parameters
    ----------
    path : path-like
        Movie file (anything FFmpeg reads) or a folder of ``frame_<n>.png`` + ``fps.txt``.
    times : array of shape (n_events,)
        Non-decreasing movie times in s (events' ``frame_time_s``).
    event_ids : array of shape (n_events,), optional
        Named in the error when a time lies beyond the movie's end.
    seek_gap_s : float
        Seek instead of decoding forward when the next time is further ahead than this.

    Yields
    ------
    frame : array of shape (H, W, 3), uint8
        RGB; consecutive events on the same frame share one array (do not modify it).
    """
    path = Path(path)
    times = np.asarray(times, float)
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise ValueError("iter_frames needs non-decreasing times (sort the events first)")
    duration, fps = movie_info(path)
    if fps is None:
        raise ValueError(f"{path}: an audio-only stimulus has no frames; models with image "
                         "inputs cannot run on it (config models; text-only models can)")
    check_frame_times(times, duration, path, event_ids)
    if path.is_dir():
        yield from _folder_frames(path, times, fps)
    else:
        yield from _video_frames(path, times, seek_gap_s)


def read_frames(path: str | os.PathLike, times: Sequence[float], **kwargs) -> np.ndarray:
    """The frames at ``times`` (any order) as one array of shape (n_events, H, W, 3), uint8."""
    times = np.asarray(times, float)
    order = np.argsort(times, kind="stable")
    out = None
    for i, frame in zip(order, iter_frames(path, times[order], **kwargs), strict=True):
        if out is None:
            out = np.empty((len(times),) + frame.shape, np.uint8)
        out[i] = frame
    return np.empty((0, 0, 0, 3), np.uint8) if out is None else out
