# Helpers shared by every stage file (validated config, wildcard values, paths).
import json
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from neuroalign.config import ConfigError, config_hash, validate_config
from neuroalign.data.build import open_dataset, selected_subjects, selected_trials
from neuroalign.io import atomic_path

# Friendly validation first (names the key and the closest valid one), then defaults.
try:
    NA_CONFIG = validate_config(config, source=", ".join(map(str, workflow.configfiles)) or "config")
except ConfigError as err:
    raise WorkflowError(str(err)) from None

RESULTS = NA_CONFIG["results"]
LOGS = "logs"
ENV = "../../envs/neuroalign.yaml"

if not Path(NA_CONFIG["dataset"]["root"]).is_dir():
    raise WorkflowError(
        f"dataset.root {NA_CONFIG['dataset']['root']!r} not found. For the embedded demo run "
        "`make demo` (or `neuroalign simulate --out data/sim --preset demo`); for your own data "
        "set dataset.root in the config (see data/README.md)."
    )
DATASET = open_dataset(NA_CONFIG)

# Jobs read the resolved config from one file; it is rewritten only when it changes,
# so its timestamp does not trigger reruns. Params carry the hash of the sections each
# rule depends on, so changing one section reruns only the jobs it affects.
RESOLVED_CONFIG = Path(RESULTS) / ".neuroalign" / "config.json"
_text = json.dumps(NA_CONFIG, indent=1, sort_keys=True)
if not RESOLVED_CONFIG.exists() or RESOLVED_CONFIG.read_text() != _text:
    with atomic_path(RESOLVED_CONFIG, suffix=".json") as _tmp:
        _tmp.write_text(_text)

SUBJECTS = selected_subjects(NA_CONFIG, DATASET)
ALIGNMENTS = NA_CONFIG["events"]["alignments"]
SUBJECT_MOVIES = {
    s: sorted({DATASET.movie(s, t) for t in selected_trials(NA_CONFIG, DATASET, s)})
    for s in SUBJECTS
}
MOVIES = sorted({m for ms in SUBJECT_MOVIES.values() for m in ms})


def section_hash(*sections):
    return config_hash(NA_CONFIG, list(sections))


def all_data_outputs():
    out = [f"{RESULTS}/movies/{m}/events/{a}.parquet" for m in MOVIES for a in ALIGNMENTS]
    out += [f"{RESULTS}/subjects/{s}/electrodes.parquet" for s in SUBJECTS]
    out += [f"{RESULTS}/subjects/{s}/responses/{a}.h5" for s in SUBJECTS for a in ALIGNMENTS]
    return out

# ---- models: the registry says each model's modality; the config says which to run.
from neuroalign.features import get_model

MODELS = {m["name"]: m for m in NA_CONFIG["models"]}
for _name in MODELS:
    get_model(_name)  # unknown names fail here, with the closest registered name
MODEL_INITS = [(m, i) for m, entry in MODELS.items() for i in entry["init"]]


def _trained_of(modality):
    # The same models the stats stage takes as this modality's competitors (sites.py:
    # model_roles), validation controls included, so the baselines integrate exactly them.
    return [
        m
        for m, entry in MODELS.items()
        if "trained" in entry["init"] and get_model(m).modality == modality
    ]


# Linear-integration baselines combine the best layers of the configured unimodal models.
BASELINE_VISION = NA_CONFIG["sites"]["vision_models"] or _trained_of("vision")
BASELINE_LANGUAGE = NA_CONFIG["sites"]["language_models"] or _trained_of("language")
BASELINE_MODELS = BASELINE_VISION + BASELINE_LANGUAGE
BASELINES = (
    NA_CONFIG["sites"]["linear_baselines"] if BASELINE_VISION and BASELINE_LANGUAGE else []
)
if NA_CONFIG["sites"]["linear_baselines"] and not BASELINES:
    logger.warning(
        "neuroalign: linear baselines need at least one vision and one language model; "
        "none will be fitted"
    )


def model_hash(model, *sections):
    """Hash of config sections plus one model's entry: editing a model reruns only its jobs."""
    return config_hash({**NA_CONFIG, "_model": MODELS.get(model, {})}, [*sections, "_model"])


BASELINE_HASH = config_hash(
    {**NA_CONFIG, "_models": [MODELS[m] for m in BASELINE_MODELS]},
    ["encoding", "stats", "seed", "sites", "_models"],
)


def all_features_outputs():
    return [
        f"{RESULTS}/features/{m}/{i}/{mv}/{a}.h5"
        for m, i in MODEL_INITS
        for mv in MOVIES
        for a in ALIGNMENTS
    ]


def all_encoding_outputs():
    out = [
        f"{RESULTS}/subjects/{s}/encoding/{m}/{i}/{a}.h5"
        for s in SUBJECTS
        for m, i in MODEL_INITS
        for a in ALIGNMENTS
    ]
    out += [
        f"{RESULTS}/subjects/{s}/encoding/{b}/trained/{a}.h5"
        for s in SUBJECTS
        for b in BASELINES
        for a in ALIGNMENTS
    ]
    return out


def subject_encodings(subject):
    """Every encoding output of one subject: all models, inits, baselines and alignments."""
    return [p for p in all_encoding_outputs() if f"/subjects/{subject}/" in p]


# The pooled stats job's table: final classes from BH across all subjects' electrodes.
POOLED_SITES = f"{RESULTS}/stats/sites.parquet"


def all_stats_outputs():
    return [
        f"{RESULTS}/subjects/{s}/stats/{name}.parquet"
        for s in SUBJECTS
        for name in ("comparisons", "sites")
    ] + [POOLED_SITES]


# ---- report stage (docs/DESIGN.md §7): per-subject reports, the summary and sites.tsv.
from neuroalign.report import SUBJECT_FIGURES as REPORT_SUBJECT_FIGURES
from neuroalign.report import SUMMARY_FIGURES as REPORT_SUMMARY_FIGURES


def all_report_outputs():
    out = [f"{RESULTS}/subjects/{s}/report.html" for s in SUBJECTS]
    out += [f"{RESULTS}/subjects/{s}/figures/{n}.png" for s in SUBJECTS for n in REPORT_SUBJECT_FIGURES]
    out += [f"{RESULTS}/summary.html", f"{RESULTS}/sites.tsv"]
    out += [f"{RESULTS}/figures/{n}.png" for n in REPORT_SUMMARY_FIGURES]
    return out
