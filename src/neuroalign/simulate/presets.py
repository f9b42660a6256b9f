"""Size presets of the simulated Brain TreeBank dataset.

=========  ========  =============  ==========================  ==============================
preset     subjects  fs (Hz)        brain electrodes / subject  movies (duration)
=========  ========  =============  ==========================  ==============================
``tiny``   2         2048, 2048     >= 16 (whole shafts)        sub_1: a; sub_2: a, b
                                                                (a 150 s, b 60 s)
``demo``   2         2048, 1024     >= 48 (whole shafts)        both: a (600 s, >= 1,500 words,
                                                                >= 300 scene cuts)
``paper``  10        2048 (sub_2:   all contacts of the         one ~1 h movie per subject
                     1024)          neuroprobe layout
=========  ========  =============  ==========================  ==============================

The class mix (fractions of the *clean* brain electrodes that are vision, language
and multimodal; the rest are null) and the default ``snr`` are preset fields too, as is
the realistic structure every preset plants by default (``ground_truth.json`` records it):

- slow envelope drifts (``drift_sd``, ``drift_tau_s``, ``drift_shared``): every clean
  brain electrode's high-gamma envelope is multiplied by a log-normal gain that follows
  ``simulate.drift.slow_drift`` (minutes-long Ornstein-Uhlenbeck processes);
- scene structure (``scene_len_s``, ``scene_share``): shots (``scene_s``, the cuts) are
  nested in scenes that share their source images, palette and a latent component;
- interictal-like spikes (``spike_frac``, ``spike_rate_per_min``) on a fraction of the
  electrodes, at Poisson times independent of the movie.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Preset", "PRESETS"]


@dataclass(frozen=True)
class Preset:
    """Parameters of one simulated dataset size.

    Attributes
    ----------
    name : str
        Preset name.
    fs : tuple of float
        Sampling rate of each subject (its length is the number of subjects).
    n_electrodes : int | None
        Minimum number of brain contacts per subject; whole shafts are taken until at
        least this many are reached. ``None`` keeps every contact of the layout.
    trials : tuple of tuple of str
        Movie of each trial, per subject (``trials[s][t]`` is trial ``t`` of ``sub_{s+1}``).
    movies : dict of str to float
        Movie id -> duration in seconds.
    min_words : dict of str to int
        Movie id -> minimum number of words (real transcripts are sped up if needed).
    class_frac : tuple of float
        Fractions of clean brain electrodes planted as (vision, language, multimodal).
    snr : float
        Default modulation depth of the high-gamma envelope (see ``simulate_dataset``).
    latent_dim : int
        Dimension ``k`` of the vision and language latents.
    fps : float
        Movie frame rate.
    frame_size : int
        Movie frames are ``frame_size x frame_size`` RGB.
    scene_s : tuple of float
        Range of *shot* durations in seconds (uniform); every shot start is a scene cut
        event (``scene_cuts/{movie}.csv``, the vision alignment).
    scene_len_s : tuple of float | None
        Range of *scene* durations in seconds (uniform): consecutive shots of a scene share
        its setting (source images), palette and a latent component, so that frame
        statistics and network features drift on the scene time scale as in real films.
        ``None``: no scenes (every shot independent, as before scene structure existed).
    scene_share : float
        Fraction of each latent's variance shared by the shots (vision) and words
        (language, ``latents="random"`` only) of a scene, in [0, 1].
    drift_sd : float
        Standard deviation of the slow multiplicative gain of every clean brain electrode's
        high-gamma envelope, in units of its mean (0: no drift). The gain is
        ``exp(s z(t) - s^2 / 2)`` with ``z`` a unit-variance slow drift and
        ``s = sqrt(log(1 + drift_sd^2))``, so its mean is 1 and its standard deviation
        ``drift_sd``. Default 0.3 in every preset (slow gain swings of about +-30 %, a
        third to a half of a planted electrode's stimulus modulation at the presets' snr):
        with the gain's SD equal to the snr (0.8 in the demo), the 10-min demo found 0 of
        its 14 planted multimodal electrodes (README, "Power").
    drift_tau_s : tuple of float
        Range of the drift's time constants in seconds (see ``slow_drift``).
    drift_shared : float
        Fraction of the log-gain variance shared by all electrodes of a subject (an
        arousal-like common component), in [0, 1].
    spike_frac : float
        Fraction of the clean brain electrodes with interictal-like spikes (0: none).
    spike_rate_per_min : tuple of float
        Range of the spiking electrodes' Poisson spike rates, per minute (uniform).
    separate_classes : bool
        If True, same-shaft neighbours never carry two different planted classes (a
        planted contact's neighbours are null or of its class), so local re-referencing
        mixes no class into another. If False, classes are placed at random, and a
        planted contact next to one of another class carries both signals after a
        Laplacian or bipolar re-reference.
    """

    name: str
    fs: tuple[float, ...]
    n_electrodes: int | None
    trials: tuple[tuple[str, ...], ...]
    movies: dict[str, float]
    min_words: dict[str, int] = field(default_factory=dict)
    class_frac: tuple[float, float, float] = (0.25, 0.25, 0.25)
    snr: float = 1.0
    latent_dim: int = 4
    fps: float = 12.0
    frame_size: int = 224
    scene_s: tuple[float, float] = (2.0, 5.5)
    separate_classes: bool = False
    scene_len_s: tuple[float, float] | None = (60.0, 180.0)
    scene_share: float = 0.5
    drift_sd: float = 0.3
    drift_tau_s: tuple[float, float] = (30.0, 180.0)
    drift_shared: float = 0.25
    spike_frac: float = 0.15
    spike_rate_per_min: tuple[float, float] = (2.0, 10.0)

    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return len(self.fs)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny", fs=(2048.0, 2048.0), n_electrodes=16,
        trials=(("sim-movie-a",), ("sim-movie-a", "sim-movie-b")),
        movies={"sim-movie-a": 150.0, "sim-movie-b": 60.0},
        class_frac=(0.12, 0.12, 0.12), snr=1.0, frame_size=128,
        # Scenes scaled to the 150 s movie, so that it holds several (1-3 min scenes
        # would give it one or two).
        scene_len_s=(30.0, 75.0),
    ),
    "demo": Preset(
        name="demo", fs=(2048.0, 1024.0), n_electrodes=48,
        trials=(("sim-movie-a",), ("sim-movie-a",)),
        movies={"sim-movie-a": 600.0}, min_words={"sim-movie-a": 1500},
        class_frac=(0.15, 0.15, 0.15), snr=0.8, frame_size=224,
        # Shots of 1-2.5 s (fast cutting, as in many films) give ~340 scene cuts in 10 min:
        # the vision alignment needs ~300 events to fit the interaction of a multimodal
        # electrode (README, "Power"); 2-5.5 s shots gave ~160 and missed most of them.
        scene_s=(1.0, 2.5),
        # The demo is a phantom whose every planted site should be recoverable: with
        # classes at random, 4 of 14 planted multimodal contacts sat next to a planted
        # vision or language contact whose signal, mixed in by the Laplacian, dominated
        # theirs, and no statistic could call them multimodal (README, "Power").
        separate_classes=True,
    ),
    "paper": Preset(
        name="paper", fs=tuple(1024.0 if s == 2 else 2048.0 for s in range(1, 11)),
        n_electrodes=None,
        trials=tuple((f"sim-movie-{s:02d}",) for s in range(1, 11)),
        movies={f"sim-movie-{s:02d}": 3600.0 for s in range(1, 11)},
        # Mostly null, as real recordings: most contacts are no integration site.
        class_frac=(0.05, 0.05, 0.05), snr=0.8, frame_size=160,
    ),
}
