"""Events tables: contexts, frames, blocks."""

import numpy as np
import pandas as pd
import pytest

from neuroalign.data.events import assign_blocks, make_events


@pytest.fixture
def transcript():
    words = "the cat sat down . then it slept on the mat".split()
    sentence = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    return pd.DataFrame({"start": np.arange(len(words)) * 0.5 + 1.0,
                         "end": np.arange(len(words)) * 0.5 + 1.3,
                         "text": words, "sentence_idx": sentence})


def test_language_context_is_sentence_so_far(transcript):
    ev = make_events("language", transcript, context_words=3, block_s=2.0)
    assert ev["event_id"].tolist() == list(range(len(transcript)))
    assert ev.loc[0, "text"] == "the"
    assert ev.loc[3, "text"] == "cat sat down"  # capped at 3 words, ends with the word
    assert ev.loc[5, "text"] == "then"  # a new sentence starts afresh
    assert ev.loc[7, "text"] == "then it slept"
    assert (ev["frame_time_s"] == ev["time_s"]).all()
    assert ev["word"].tolist() == transcript["text"].tolist()


def test_vision_events_use_first_frame_after_cut_and_preceding_sentence(transcript):
    cuts = np.array([0.5, 2.2, 4.0])
    ev = make_events("vision", transcript, cut_times=cuts, fps=10.0, block_s=30.0)
    assert np.all(ev["frame_time_s"] > ev["time_s"])
    assert np.allclose(ev["frame_time_s"] - ev["time_s"], 0.05)
    assert ev.loc[0, "text"] == ""  # no sentence has started yet
    assert ev.loc[1, "text"] == "the cat sat down ."
    assert ev.loc[2, "text"] == "then it slept on the mat"  # sentence 1 started at 3.5 s
    assert ev["scene_idx"].tolist() == [1, 2, 3]


def test_events_after_movie_end_are_dropped(transcript):
    ev = make_events("language", transcript, duration_s=3.0)
    assert ev["time_s"].max() < 3.0
    assert ev["event_id"].tolist() == list(range(len(ev)))


def test_blocks_are_dense_and_contiguous():
    times = np.array([0.0, 1.0, 29.9, 30.0, 95.0, 96.0])
    assert assign_blocks(times, 30.0).tolist() == [0, 0, 0, 1, 2, 2]


def test_unknown_alignment(transcript):
    with pytest.raises(ValueError, match="Allowed values are 'language' and 'vision'"):
        make_events("audio", transcript)
