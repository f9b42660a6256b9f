"""Events: the movie moments at which networks and brain are compared.

Per movie and alignment (docs/DESIGN.md §5):

- ``language``: one event per word onset; frame = the frame on screen at the
  onset; text = the sentence so far, up to ``context_words`` words, ending with
  the word itself.
- ``vision``: one event per scene cut; frame = the first frame after the cut;
  text = the nearest preceding sentence (the last one that started before the cut).

Events carry contiguous ``block`` ids of ``block_s`` seconds of movie time, the
unit of every resampling in the encoding and stats stages.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import EVENT_COLUMNS
from ..utils import _check_option, logger

__all__ = ["language_events", "vision_events", "make_events", "assign_blocks", "check_dropped",
           "check_words_in_film", "audio_only_vision", "read_scene_cuts",
           "detect_scene_cuts", "find_movie", "movie_duration", "EVENT_COLUMNS"]

MOVIE_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov")
# A stimulus without pictures (an audio story, as OpenNeuro ds005574's podcast.wav) serves
# the language alignment and text-only models; it has no frames.
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")


def _sentence_ids(transcript: pd.DataFrame) -> np.ndarray:
    """Sentence number of every word, from ``sentence_idx`` or ``is_onset``."""
    if "sentence_idx" in transcript:
        return transcript["sentence_idx"].to_numpy()
    if "is_onset" in transcript:
        return np.cumsum(transcript["is_onset"].fillna(0).to_numpy(int) > 0)
    return np.zeros(len(transcript), dtype=int)


def check_dropped(n_dropped: int, n_total: int, config: dict, what: str, why: str) -> None:
    """Refuse losing more than ``events.max_dropped_fraction`` of a movie's events.

    Parameters
    ----------
    n_dropped, n_total : int
        Events lost and events in all.
    config : dict
        Validated configuration.
    what, why : str
        What was lost (file, run and alignment) and its likely cause, for the message.

    Raises
    ------
    ValueError
        When ``n_dropped / n_total`` exceeds the configured fraction.
    """
    limit = config["events"]["max_dropped_fraction"]
    if n_total and n_dropped > limit * n_total:
        raise ValueError(f"{what}: {n_dropped / n_total:.0%}, more than the {limit:.0%} allowed "
                         f"(config events.max_dropped_fraction). Most likely {why}.")


def check_words_in_film(transcript: pd.DataFrame, duration: float, config: dict,
                        files: list[Path], movie: str, movie_path: Path) -> None:
    """Refuse a transcript whose words lack start times or start after the film's end.

    Refused when the two together are more than ``events.max_dropped_fraction`` of the
    words (:func:`check_dropped`); fewer words without a start time are logged, since they
    give no event (:func:`language_events`).

    Raises
    ------
    ValueError
        Naming the transcript files and the film.
    """
    start = transcript["start"].to_numpy(float)
    names = ", ".join(map(str, files))
    untimed = int((~np.isfinite(start)).sum())
    beyond = int((start >= duration).sum())
    # One limit for both: together they are the words that give no event.
    causes = [(untimed, "have no start time", "their forced alignment failed, or the start "
               "column is not the words' onsets (config dataset.transcript.columns)"),
              (beyond, f"start after the film's end ({duration:.1f} s, {movie_path})",
               "the transcript is not of this film, or its times are not film time")]
    lost = [(n, what, why) for n, what, why in causes if n]
    what = (f"movie {movie!r}: of {len(transcript)} words of {names}, "
            + " and ".join(f"{n} {what}" for n, what, _ in lost))
    check_dropped(untimed + beyond, len(transcript), config, what,
                  "; or ".join(why for *_, why in lost))
    if untimed:
        logger.warning("%s: words without a start time give no language event (they stay in "
                       "the context of the words after them)", what)


def audio_only_vision(movie: str, movie_path: Path) -> str:
    """Why the vision alignment cannot run on an audio-only stimulus (for messages)."""
    return (f"movie {movie!r}: {movie_path} is audio only, so it has no scene cuts for the "
            "vision alignment; set config events.alignments: [language]")


def assign_blocks(times: np.ndarray, block_s: float) -> np.ndarray:
    """Contiguous block ids (dense, 0..n_blocks-1) of ``block_s`` s of movie time.

    Parameters
    ----------
    times : array of shape (n_events,)
        Sorted movie times in s.
    block_s : float

    Returns
    -------
    block : array of int64, shape (n_events,)
    """
    raw = np.floor(np.asarray(times, float) / block_s).astype(np.int64)
    _, dense = np.unique(raw, return_inverse=True)
    return dense.astype(np.int64)


def language_events(transcript: pd.DataFrame, context_words: int = 20,
                    frame_lag_s: float = 0.0) -> pd.DataFrame:
    """One event per word onset with its sentence context.

    Parameters
    ----------
    transcript : DataFrame
        Words with ``start``, ``text`` and ``sentence_idx`` or ``is_onset``.
    context_words : int
        Maximum number of words of context (the word itself included).
    frame_lag_s : float
        Offset of the frame from the word onset (0: the frame on screen at onset).

    Returns
    -------
    events : DataFrame with columns time_s, frame_time_s, text, word
        A word without a start time (blank in the transcript: a word its forced alignment
        missed) gives no event, but stays in the context of the words after it: it was
        heard. :func:`check_words_in_film` counts such words against
        ``events.max_dropped_fraction``.
    """
    words = transcript["text"].astype(str).str.strip().to_numpy()
    sentences = _sentence_ids(transcript)
    texts = []
    start_of_sentence = 0
    for i in range(len(words)):
        if i == 0 or sentences[i] != sentences[i - 1]:
            start_of_sentence = i
        lo = max(start_of_sentence, i - context_words + 1)
        texts.append(" ".join(words[lo:i + 1]))
    times = transcript["start"].to_numpy(float)
    timed = np.isfinite(times)
    return pd.DataFrame({"time_s": times[timed], "frame_time_s": times[timed] + frame_lag_s,
                         "text": np.asarray(texts, dtype=object)[timed], "word": words[timed]})


def vision_events(cut_times: np.ndarray, transcript: pd.DataFrame, fps: float,
                  context_words: int = 20) -> pd.DataFrame:
    """One event per scene cut, with the first frame after it and the preceding sentence.

    Parameters
    ----------
    cut_times : array of shape (n_cuts,)
        Scene-cut times in s of movie.
    transcript : DataFrame
        Words (see :func:`language_events`).
    fps : float
        Frame rate, to place the frame strictly after the cut.
    context_words : int
        Maximum words of the preceding sentence to keep (its last words).

    Returns
    -------
    events : DataFrame with columns time_s, frame_time_s, text, scene_idx
    """
    cut_times = np.sort(np.asarray(cut_times, float))
    starts = transcript["start"].to_numpy(float)
    words = transcript["text"].astype(str).str.strip().to_numpy()
    sentences = _sentence_ids(transcript)
    # First word of every sentence, and the sentence's full text.
    first = np.flatnonzero(np.r_[True, sentences[1:] != sentences[:-1]]) if len(words) else []
    bounds = list(first) + [len(words)]
    sentence_text = [" ".join(words[bounds[k]:bounds[k + 1]][-context_words:])
                     for k in range(len(first))]
    # A sentence starts at its first timed word (words without a start time have none).
    sentence_start = np.array([starts[a:b][np.isfinite(starts[a:b])].min(initial=np.inf)
                               for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    timed = np.flatnonzero(np.isfinite(sentence_start))
    texts = []
    for t in cut_times:
        k = np.searchsorted(sentence_start[timed], t, side="right") - 1
        texts.append(sentence_text[timed[k]] if k >= 0 else "")
    # Half a frame past the cut lands inside the first frame of the new scene.
    frame_times = cut_times + 0.5 / fps
    return pd.DataFrame({"time_s": cut_times, "frame_time_s": frame_times, "text": texts,
                         "scene_idx": np.arange(1, len(cut_times) + 1)})


def make_events(alignment: str, transcript: pd.DataFrame, *, cut_times: np.ndarray | None = None,
                fps: float = 25.0, context_words: int = 20, block_s: float = 30.0,
                duration_s: float | None = None) -> pd.DataFrame:
    """Build the events table of one movie and alignment (docs/DESIGN.md §4).

    Events after ``duration_s`` (the movie's end), when given, are dropped with
    a warning: they cannot have a frame.

    Returns
    -------
    events : DataFrame
        Sorted by ``time_s``, with ``event_id`` dense 0..n-1 and ``block``.
    """
    _check_option("alignment", alignment, ["language", "vision"])
    if alignment == "language":
        events = language_events(transcript, context_words=context_words)
    else:
        if cut_times is None:
            raise ValueError("vision events need scene-cut times (cut_times)")
        if fps is None:
            raise ValueError("the vision alignment needs a movie with pictures, but the "
                             "stimulus is audio only (config events.alignments)")
        events = vision_events(cut_times, transcript, fps=fps, context_words=context_words)
    events = events.sort_values("time_s", kind="stable").reset_index(drop=True)
    if duration_s is not None:
        late = events["frame_time_s"] >= duration_s
        if late.any():
            logger.warning("%d %s event(s) fall after the movie's end (%.2f s) and are dropped",
                           int(late.sum()), alignment, duration_s)
            events = events[~late].reset_index(drop=True)
    events.insert(0, "event_id", np.arange(len(events), dtype=np.int64))
    events["block"] = assign_blocks(events["time_s"].to_numpy(), block_s)
    return events


def read_scene_cuts(path: str | os.PathLike) -> np.ndarray:
    """Read a ``scene_cuts/{movie}.csv`` table (column ``time_s``), sorted."""
    path = Path(path)
    df = pd.read_csv(path)
    if "time_s" not in df:
        raise ValueError(f"{path}: missing column 'time_s' (found {list(df.columns)})")
    times = df["time_s"].to_numpy(float)
    if not np.isfinite(times).all():
        raise ValueError(f"{path}: field 'time_s' holds non-numeric values")
    return np.sort(times)


def find_movie(movies_root: str | os.PathLike, movie: str) -> Path:
    """Locate ``{movie}.mp4|mkv|avi|mov`` or a ``{movie}/`` frames folder under ``movies_root``,
    else an audio-only ``{movie}.wav|flac|mp3|ogg|m4a`` (no frames: see :func:`movie_info`)."""
    root = Path(movies_root)
    for ext in MOVIE_EXTENSIONS:
        if (root / f"{movie}{ext}").exists():
            return root / f"{movie}{ext}"
    if (root / movie).is_dir():
        return root / movie
    for ext in AUDIO_EXTENSIONS:
        if (root / f"{movie}{ext}").exists():
            return root / f"{movie}{ext}"
    raise FileNotFoundError(
        f"{root}: no movie file for {movie!r} (looked for {movie}{{{','.join(MOVIE_EXTENSIONS)}}}, "
        f"a {movie}/ frames folder and, for a story without pictures, "
        f"{movie}{{{','.join(AUDIO_EXTENSIONS)}}}; set movies.root in the config)")


def movie_info(path: str | os.PathLike) -> tuple[float, float | None]:
    """(duration in s, frames per second) of a movie file or frames folder; the frame rate is
    None for an audio-only stimulus."""
    path = Path(path)
    if path.is_dir():
        fps_file = path / "fps.txt"
        if not fps_file.exists():
            raise FileNotFoundError(f"{fps_file}: frames folders need an fps.txt")
        fps = float(fps_file.read_text().strip())
        return len(list(path.glob("frame_*.png"))) / fps, fps
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video and container.streams.audio:
                stream = container.streams.audio[0]
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base), None
                if container.duration is not None:
                    return container.duration / 1e6, None
                raise ValueError("no duration in its audio stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25.0)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1e6
            else:
                duration = (stream.frames or 0) / fps
    except (av.error.FFmpegError, IndexError, ValueError) as err:
        raise ValueError(f"{path}: unreadable video or audio ({err})") from err
    return duration, fps


def movie_duration(path: str | os.PathLike) -> float:
    """Duration of a movie in s."""
    return movie_info(path)[0]


def detect_scene_cuts(path: str | os.PathLike, threshold: float = 27.0) -> np.ndarray:
    """Scene-cut times (s) found by PySceneDetect's ContentDetector.

    Parameters
    ----------
    path : path-like
        Movie file.
    threshold : float
        ContentDetector threshold (PySceneDetect's default 27).

    Returns
    -------
    cut_times : array of shape (n_cuts,)
        Start times of every scene but the first.
    """
    from scenedetect import ContentDetector, detect

    logger.info("Detecting scene cuts in %s with PySceneDetect (threshold %.1f)", path, threshold)
    scenes = detect(str(path), ContentDetector(threshold=threshold), show_progress=False)
    # FrameTimecode.seconds (PySceneDetect >= 0.7) replaced get_seconds().
    return np.array([getattr(start, "seconds", None) or start.get_seconds()
                     for start, _ in scenes[1:]], dtype=float)
