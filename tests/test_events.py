"""Events tables: contexts, frames, blocks."""

from pathlib import Path

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


def test_a_word_without_a_start_time_gives_no_event_but_stays_in_context(transcript):
    # "sat" was heard but its forced alignment failed: a blank start.
    transcript.loc[2, ["start", "end"]] = np.nan
    ev = make_events("language", transcript, context_words=20, block_s=2.0)
    assert "sat" not in ev["word"].tolist()
    assert len(ev) == len(transcript) - 1 and np.isfinite(ev["time_s"]).all()
    assert ev["event_id"].tolist() == list(range(len(ev)))
    assert ev.loc[ev["word"] == "down", "text"].item() == "the cat sat down"
    assert ev["block"].tolist() == assign_blocks(ev["time_s"].to_numpy(), 2.0).tolist()
    assert ev["block"].min() == 0


def test_a_sentence_starts_at_its_first_timed_word(transcript):
    transcript.loc[5, ["start", "end"]] = np.nan  # "then", the second sentence's first word
    ev = make_events("vision", transcript, cut_times=np.array([3.6, 4.5]), fps=10.0)
    # The second sentence now starts with "it" at 4.0 s: a cut at 3.6 s still shows the first.
    assert ev["text"].tolist() == ["the cat sat down .", "then it slept on the mat"]


def test_words_without_start_times_count_against_the_dropped_fraction(transcript, caplog):
    from neuroalign.config import validate_config
    from neuroalign.data.events import check_words_in_film

    cfg = validate_config({"dataset": {"root": "."}})
    files = [Path("words.tsv")]
    transcript.loc[[2], ["start", "end"]] = np.nan  # 1 of 11 words, over 5 %
    with pytest.raises(ValueError, match=r"of 11 words of words.tsv, 1 have no start time: "
                                         r"9%.*events.max_dropped_fraction.*forced alignment"):
        check_words_in_film(transcript, 60.0, cfg, files, "film", Path("film.mp4"))
    loose = validate_config({"dataset": {"root": "."}, "events": {"max_dropped_fraction": 0.1}})
    with caplog.at_level("WARNING", logger="neuroalign"):
        check_words_in_film(transcript, 60.0, loose, files, "film", Path("film.mp4"))
    assert "1 have no start time: words without a start time give no language" in caplog.text
    # One limit for all the words that give no event: 1 untimed + 1 after the end is 18 %.
    with pytest.raises(ValueError, match=r"1 have no start time and 1 start after the film's "
                                         r"end \(5.8 s, film.mp4\): 18%.*; or the transcript"):
        check_words_in_film(transcript, 5.8, loose, files, "film", Path("film.mp4"))
