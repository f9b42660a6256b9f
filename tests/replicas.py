"""Small replicas of other labs' published dataset layouts, with synthetic signals.

Only the layout is replicated: file names, entities, sidecar keys, tsv columns and the
annotation formats as the datasets publish them (read from their public sidecars); every
number in a recording, every word and every coordinate here is made up.

``build_ds003688``: OpenNeuro ds003688 (Berezutskaya et al. 2022, Sci Data; iEEG while
watching a 6.5-min film of 13 alternating 30 s music / speech blocks).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

# ds003688's film: 13 blocks of 30 s, music first, logged as events in recording time.
DS003688_BLOCK_S = 30.0
DS003688_BLOCKS = 13
DS003688_FILM = "chill"  # a name of our choosing: the dataset distributes no film file
# Recording time of the first block in the published events of sub-01.
DS003688_FIRST_ONSET = 21.325
# Published durations differ from 30 s by a few ms (e.g. 30.001, 30.003, 29.997, 30.051):
# the replica's rows disagree with their successors' onsets by as much.
_DURATION_JITTER = (0.0, 0.0, 0.0, 0.0, 0.0, 0.001, 0.0, 0.003, -0.003, 0.0, 0.001, 0.0, 0.051)

_DUTCH = ("pippi wil je mee ontbijten nee ik heb al driemaal ontbeten kleine witje dag pap "
          "wat gaan we vandaag doen dat kan ik jullie heel precies zeggen tommy en annika "
          "wieden de aardbeienbedden met een ladder in de tuin").split()


def _tsv(path: Path, table: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False, na_rep="n/a", float_format="%.3f")


def _json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def ds003688_events(first_onset: float = DS003688_FIRST_ONSET) -> pd.DataFrame:
    """The film run's events as ds003688 logs them: ``start task``, 13 blocks, ``end task``."""
    rows = [{"onset": first_onset - 0.019, "duration": 0.0, "trial_type": "start task",
             "value": 9}]
    onset = first_onset
    for k in range(DS003688_BLOCKS):
        music = k % 2 == 0
        duration = DS003688_BLOCK_S + _DURATION_JITTER[k]
        rows.append({"onset": onset, "duration": duration,
                     "trial_type": "music" if music else "speech", "value": 2 if music else 1})
        # The next block starts 30 s later: a longer row overlaps it by ms, a shorter one
        # leaves a gap of ms (both as published).
        onset = round(onset + DS003688_BLOCK_S + (0.051 if k == DS003688_BLOCKS - 1 else 0.0), 3)
    rows.append({"onset": onset, "duration": 0.0, "trial_type": "end task", "value": 4})
    return pd.DataFrame(rows)


def ds003688_annotations(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Words and sentences (``item, onset, offset`` in s of film time) inside the speech
    blocks, as in ``stimuli/annotations/sound/sound_annotation_{words,sentences}.tsv``."""
    words, sentences = [], []
    for k in range(1, DS003688_BLOCKS, 2):  # speech blocks: 30-60 s, 90-120 s, ...
        t = k * DS003688_BLOCK_S + 0.7
        while t < (k + 1) * DS003688_BLOCK_S - 3.0:
            n = int(rng.integers(3, 9))
            items, start = [], t
            for _ in range(n):
                duration = float(rng.uniform(0.15, 0.5))
                item = str(rng.choice(_DUTCH))
                words.append({"item": item, "onset": round(t, 3),
                              "offset": round(t + duration, 3)})
                items.append(item)
                t += duration + float(rng.uniform(0.0, 0.15))
            text = " ".join(items).capitalize() + "."
            sentences.append({"item": text, "onset": round(start, 3),
                              "offset": words[-1]["offset"]})
            t += float(rng.uniform(0.4, 1.5))
    return pd.DataFrame(words), pd.DataFrame(sentences)


def _write_run(folder: Path, stem: str, names: list[str], types: list[str], fs: float,
               duration_s: float, rng: np.random.Generator, *, line_freq: float,
               manufacturer: str, group: list[str]) -> None:
    import mne

    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    data = rng.standard_normal((len(names), n)) * 20.0  # µV
    # Mains hum, as a notch must remove it.
    data += 15.0 * np.sin(2 * np.pi * line_freq * t)[None, :]
    mne_types = [{"SEEG": "seeg", "ECOG": "ecog", "ECG": "ecg", "TRIG": "stim"}[k] for k in types]
    info = mne.create_info(names, fs, mne_types)
    raw = mne.io.RawArray(data * 1e-6, info, verbose="error")
    folder.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(folder / f"{stem}_ieeg.vhdr", raw, fmt="brainvision", overwrite=True,
                          verbose="error")
    counts = {f"{k}ChannelCount": types.count(k) for k in ("SEEG", "ECOG", "ECG") if k in types}
    _json(folder / f"{stem}_ieeg.json", {
        "InstitutionName": "replica", "Manufacturer": manufacturer, "TaskName": "film",
        "TaskDescription": "watching a film alternating speech and music",
        "SamplingFrequency": fs, "PowerLineFrequency": line_freq, "SoftwareFilters": "n/a",
        **counts, "iEEGReference": "n/a", "RecordingDuration": duration_s,
        "RecordingType": "continuous", "ElectricalStimulation": False})
    _tsv(folder / f"{stem}_channels.tsv", pd.DataFrame({
        "name": names, "type": types, "units": "µV", "low_cutoff": "n/a", "high_cutoff": 0.15,
        "reference": "n/a", "group": group, "notch": 0.0, "status": "good",
        "status_description": "n/a", "sampling_frequency": fs}))


def _electrodes(folder: Path, stem: str, names: list[str], rng: np.random.Generator,
                manufacturer: str) -> None:
    xyz = rng.uniform(-60, 60, (len(names), 3))
    _tsv(folder / f"{stem}_electrodes.tsv", pd.DataFrame({
        "name": names, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "size": 4.155,
        "manufacturer": manufacturer}))
    _json(folder / f"{stem}_coordsystem.json", {
        "iEEGCoordinateSystem": "ACPC", "iEEGCoordinateUnits": "mm",
        "iEEGCoordinateProcessingDescription": "surface_projection"})


def build_ds003688(root: Path, *, fs: float = 256.0, hd_fs: float = 250.0,
                   seed: int = 0) -> dict:
    """Write a ds003688-shaped dataset under ``root``.

    Two subjects: ``sub-01`` with SEEG shafts (clinical amplifier only) and ``sub-30`` with a
    clinical ECoG recording (a grid and a strip) and a simultaneous HD grid (``acq-HDgrid``, ``chan1..chan16``) that
    share one events file. Each has a film run and a rest run; the events files carry no
    ``acq`` entity (they are inherited), the sidecars say ``PowerLineFrequency: 50`` and
    the coordinates are ACPC. The sampling rates are lower than published (512 or 2048 Hz
    clinical, 2000 Hz HD grid) to keep the tests fast.

    Returns
    -------
    facts : dict
        ``film_s``, ``first_onset`` (recording time of film time 0), ``subjects``, and
        the channel names per subject and acquisition.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    _json(root / "dataset_description.json", {
        "Name": "replica of the ds003688 layout (synthetic signals)", "BIDSVersion": "1.2.0"})
    _tsv(root / "participants.tsv", pd.DataFrame({"participant_id": ["sub-01", "sub-30"],
                                                  "age": [20, 30], "sex": ["F", "M"]}))
    words, sentences = ds003688_annotations(rng)
    sound = root / "stimuli" / "annotations" / "sound"
    _tsv(sound / "sound_annotation_words.tsv", words)
    _tsv(sound / "sound_annotation_sentences.tsv", sentences)
    events = ds003688_events()
    film_s = DS003688_BLOCKS * DS003688_BLOCK_S
    record_s = DS003688_FIRST_ONSET + film_s + 9.0
    # sub-01: three depth shafts; sub-30: a 2 x 8 grid named as published (F01, F02, ...;
    # channels.tsv group F) and a strip IH1..IH6 (group IH).
    contacts = {"01": [f"{p}{i}" for p in ("AR", "HL", "TP") for i in range(1, 7)],
                "30": [f"F{i:02d}" for i in range(1, 17)] + [f"IH{i}" for i in range(1, 7)]}
    channels: dict[str, dict[str, list[str]]] = {}
    for label, names in contacts.items():
        folder = root / f"sub-{label}" / "ses-iemu" / "ieeg"
        kind = "SEEG" if label == "01" else "ECOG"
        run_names = names + ["ECG", "TRIG1"]
        run_types = [kind] * len(names) + ["ECG", "TRIG"]
        groups = [n.rstrip("0123456789") for n in names] + ["n/a", "n/a"]
        for task in ("film", "rest"):
            stem = f"sub-{label}_ses-iemu_task-{task}_acq-clinical_run-1"
            _write_run(folder, stem, run_names, run_types, fs, record_s if task == "film" else 60,
                       rng, line_freq=50.0, manufacturer="Micromed", group=groups)
            table = events if task == "film" else pd.DataFrame(
                [{"onset": 1.0, "duration": 0.0, "trial_type": "start task", "value": 9}])
            _tsv(folder / f"sub-{label}_ses-iemu_task-{task}_run-1_events.tsv", table)
        _electrodes(folder, f"sub-{label}_ses-iemu_acq-clinical", names, rng, "AdTech")
        channels[f"sub-{label}"] = {"clinical": names}
        if label == "30":
            hd = [f"chan{i}" for i in range(1, 17)]
            stem = f"sub-{label}_ses-iemu_task-film_acq-HDgrid_run-1"
            _write_run(folder, stem, hd, ["ECOG"] * len(hd), hd_fs, record_s, rng,
                       line_freq=50.0, manufacturer="BlackRock", group=["HD"] * len(hd))
            _electrodes(folder, f"sub-{label}_ses-iemu_acq-HDgrid", hd, rng,
                        "PMT (Chanhassen, MN)")
            channels[f"sub-{label}"]["HDgrid"] = hd
    return {"film_s": film_s, "first_onset": DS003688_FIRST_ONSET,
            "subjects": ["sub-01", "sub-30"], "channels": channels, "words": words,
            "sentences": sentences}


def write_film(path: Path, duration_s: float, *, fps: float = 2.0, size: int = 32,
               shot_s: float = 7.0, seed: int = 0) -> np.ndarray:
    """A synthetic film (one flat colour per shot) standing in for a film a dataset does not
    distribute; returns the cut times (s)."""
    import av

    rng = np.random.default_rng(seed)
    n_frames = int(round(duration_s * fps))
    per_shot = max(1, int(round(shot_s * fps)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=int(round(fps)))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        colour = rng.integers(0, 256, 3)
        for f in range(n_frames):
            if f % per_shot == 0:
                colour = rng.integers(0, 256, 3)
            frame = np.broadcast_to(colour.astype(np.uint8), (size, size, 3)).copy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return np.arange(per_shot, n_frames, per_shot) / fps


# ---------------------------------------------------------------------------------------------
# OpenNeuro ds005574, the "Podcast" ECoG dataset (Zada et al.): a 30-min audio story, no events
# file (each EDF is cropped to the story), words in stimuli/podcast_transcript.csv.

PODCAST = "podcast"


def write_edf(path: Path, names: list[str], data_uv: np.ndarray, fs: float) -> None:
    """Write an EDF (European Data Format) file: 1-s records of int16 samples in µV.

    The standard's header fields, ASCII and space-padded: 256 bytes, then 256 per signal.
    """
    n_signals, n_samples = data_uv.shape
    per_record = int(round(fs))
    n_records = n_samples // per_record
    data_uv = data_uv[:, :n_records * per_record]
    lo, hi = float(np.floor(data_uv.min())) - 1, float(np.ceil(data_uv.max())) + 1
    digital = np.round((data_uv - lo) / (hi - lo) * 65535 - 32768).astype("<i2")

    def field(value, width: int) -> bytes:
        return str(value)[:width].ljust(width).encode("ascii")

    header = b"".join([
        field(0, 8), field("X X X X", 80), field("Startdate 01-JAN-2020 X X X", 80),
        field("01.01.20", 8), field("00.00.00", 8), field(256 * (1 + n_signals), 8),
        field("", 44), field(n_records, 8), field(1, 8), field(n_signals, 4)])
    columns = [
        [field(n, 16) for n in names], [field("", 80)] * n_signals, [field("uV", 8)] * n_signals,
        [field(f"{lo:g}", 8)] * n_signals, [field(f"{hi:g}", 8)] * n_signals,
        [field(-32768, 8)] * n_signals, [field(32767, 8)] * n_signals,
        [field("", 80)] * n_signals, [field(per_record, 8)] * n_signals,
        [field("", 32)] * n_signals]
    header += b"".join(b"".join(c) for c in columns)
    records = digital.reshape(n_signals, n_records, per_record).transpose(1, 0, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + records.tobytes())


def write_wav(path: Path, duration_s: float, rate: int = 8000) -> None:
    """A mono 16-bit PCM tone standing in for the story's audio (only its length is read)."""
    import wave

    t = np.arange(int(duration_s * rate)) / rate
    samples = (3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def build_podcast(root: Path, *, duration_s: float = 360.0, fs: float = 256.0,
                  seed: int = 0) -> dict:
    """Write a ds005574-shaped dataset under ``root``: two subjects, one EDF run each of task
    ``podcast`` covering the whole story (no events file), channels.tsv with a byte-order mark
    and a contact marked bad, ECoG grids/strips and depth contacts all typed ``ECOG`` with their
    ``group`` in the electrodes file, MNI152NLin2009aSym and ``Other`` coordinates, 60 Hz mains,
    ``stimuli/podcast.wav`` and ``stimuli/podcast_transcript.csv`` (index, word_idx, word,
    start, end). The story is shorter than published (30 min) and the rate lower (512 Hz).

    Returns
    -------
    facts : dict
        ``duration_s``, ``subjects``, ``words`` (the transcript) and per subject the clean
        channel names.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    _json(root / "dataset_description.json", {
        "Name": "replica of the ds005574 Podcast layout (synthetic signals)",
        "BIDSVersion": "1.10.0", "DatasetType": "raw"})
    _tsv(root / "participants.tsv", pd.DataFrame({"participant_id": ["sub-01", "sub-02"],
                                                  "nyu_id": [1, 2]}))
    rows, t, k = [], 3.71, 0
    while t < duration_s - 2:
        duration = float(rng.uniform(0.08, 0.4))
        word = str(rng.choice(["act", "one,", "monkey", "in", "the", "story", "and", "then",
                               "he", "said.", "so", "we", "went", "home"]))
        rows.append({"word_idx": k, "word": word, "start": round(t, 3),
                     "end": round(t + duration, 3)})
        t += duration + float(rng.uniform(0.05, 0.5))
        k += 1
    words = pd.DataFrame(rows)
    (root / "stimuli").mkdir(parents=True, exist_ok=True)
    words.to_csv(root / "stimuli" / f"{PODCAST}_transcript.csv")  # with its index column
    write_wav(root / "stimuli" / f"{PODCAST}.wav", duration_s)
    clean: dict[str, list[str]] = {}
    for label in ("01", "02"):
        folder = root / f"sub-{label}" / "ieeg"
        # Two grids, a strip and a depth shaft, all typed ECOG, whose `group` in the
        # electrodes file is the electrode kind (G, S, D) as published, not the grid.
        grid = [f"G{g}{i}" for g in "AB" for i in range(1, 9)]
        depth = [f"SA{i}" for i in range(1, 5)] + [f"DAMT{i}" for i in range(1, 7)]
        names = grid + depth + ["EKG1", "DC1"]
        types = ["ECOG"] * (len(grid) + len(depth)) + ["ECG", "MISC"]
        n = int(round(duration_s * fs))
        data = rng.standard_normal((len(names), n)) * 20.0
        data += 15.0 * np.sin(2 * np.pi * 60.0 * np.arange(n) / fs)[None, :]
        stem = f"sub-{label}_task-{PODCAST}"
        write_edf(folder / f"{stem}_ieeg.edf", names, data, fs)
        _json(folder / f"{stem}_ieeg.json", {
            "TaskName": PODCAST, "TaskDescription": "Passive listening to an audio story.",
            "PowerLineFrequency": 60, "RecordingType": "continuous", "SoftwareFilters": "n/a",
            "SamplingFrequency": fs, "RecordingDuration": duration_s,
            "iEEGReference": "Two-contact subdural strip facing toward the skull"})
        status = ["bad" if name == "GA1" else "good" for name in names]
        table = pd.DataFrame({"name": names, "type": types, "units": "n/a", "low_cutoff": "n/a",
                              "high_cutoff": "n/a", "sampling_frequency": fs, "status": status,
                              "status_description": ["no localization" if s == "bad" else "n/a"
                                                     for s in status]})
        path = folder / f"{stem}_channels.tsv"
        table.to_csv(path, sep="\t", index=False, na_rep="n/a", encoding="utf-8-sig")
        located = grid[1:] + depth  # GA1 has no localization, as published
        for space, units in (("MNI152NLin2009aSym", "mm"), ("Other", "n/a")):
            xyz = rng.uniform(-70, 70, (len(located), 3))
            _tsv(folder / f"sub-{label}_space-{space}_electrodes.tsv", pd.DataFrame({
                "name": located, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "size": 4.15,
                "group": [n[0] for n in located]}))
            _json(folder / f"sub-{label}_space-{space}_coordsystem.json", {
                "iEEGCoordinateSystem": space, "iEEGCoordinateUnits": units})
        clean[f"sub-{label}"] = located
    return {"duration_s": duration_s, "subjects": ["sub-01", "sub-02"], "words": words,
            "channels": clean}


def write_tiny_multilingual_minilm(folder: Path, sentences: list[str]) -> Path:
    """A ``save_pretrained`` folder in the layout of sentence-transformers'
    paraphrase-multilingual-MiniLM-L12-v2, built with the upstream libraries: a BERT of its 12
    layers (width 16) and an XLM-R-style SentencePiece-Unigram fast tokenizer trained on
    ``sentences``. Stands in for the real checkpoint, which cannot be downloaded here."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(sentences, trainers.UnigramTrainer(
        vocab_size=120, special_tokens=specials, unk_token="<unk>"))
    fast = XLMRobertaTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>")
    config = BertConfig(vocab_size=len(fast), hidden_size=16, num_hidden_layers=12,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=130,
                        pad_token_id=fast.pad_token_id)
    import torch

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    BertModel(config, add_pooling_layer=True).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def example_config(name: str, roots: dict[tuple[str, str], str], **sections) -> dict:
    """``config/{name}.yaml`` as a user runs it: only ``roots`` changed (``(section, key)`` ->
    path), then ``sections`` merged in (a dict updates that section, anything else replaces
    the key), validated."""
    import yaml

    from neuroalign.config import validate_config

    repo = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((repo / "config" / f"{name}.yaml").read_text())
    for (section, key), value in roots.items():
        if section:
            cfg[section][key] = value
        else:
            cfg[key] = value
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return validate_config(cfg)
