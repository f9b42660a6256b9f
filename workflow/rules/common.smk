# Helpers shared by every stage file (validated config, wildcard values, paths).
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from neuroalign.artifacts import ARTIFACTS, plan_mismatch, read_plan
from neuroalign.config import (
    ConfigError,
    config_hash,
    linear_baselines,
    role_models,
    validate_config,
    write_resolved_config,
)

# Friendly validation first (names the key and the closest valid one), then defaults.
try:
    NA_CONFIG = validate_config(config, source=", ".join(map(str, workflow.configfiles)) or "config")
except ConfigError as err:
    raise WorkflowError(str(err)) from None

RESULTS = NA_CONFIG["results"]
LOGS = "logs"
ENV = "../../envs/neuroalign.yaml"

# What the run covers comes from the plan that `neuroalign plan` (or check-data) wrote: parsing
# reads that one file and nothing of the dataset, and writes nothing (every `-n`, `--lint` and
# cluster job parses this file).
_CONFIG_ARG = f"--config {workflow.configfiles[0]}" if workflow.configfiles else "--config <your config>"
PLAN_PATH = ARTIFACTS.plan.path(RESULTS)
try:
    PLAN = read_plan(PLAN_PATH)
except FileNotFoundError:
    raise WorkflowError(
        f"{PLAN_PATH}: no plan for this run. Check the dataset and write the plan first:\n"
        f"  neuroalign check-data {_CONFIG_ARG}\n"
        f"(or `neuroalign plan {_CONFIG_ARG}`, which writes it without the checks). For the "
        "embedded demo run `make demo`; for your own data see data/README.md. Run it in the "
        "folder snakemake runs in, with any snakemake --config settings put into the config "
        "file: neuroalign reads only the file."
    ) from None
except ValueError as err:
    raise WorkflowError(f"{err}\nWrite it again: `neuroalign plan {_CONFIG_ARG}`.") from None
_stale = plan_mismatch(PLAN, NA_CONFIG)
if _stale:
    raise WorkflowError(
        f"{PLAN_PATH} was written for another dataset selection (config dataset."
        f"{', dataset.'.join(_stale)} differ). Write it again: `neuroalign plan {_CONFIG_ARG}` "
        "(or check-data), with any snakemake --config settings put into the config file."
    )

# Jobs read the resolved config from one file. It is written when a run starts (onstart: not
# in a dry run, --lint or a cluster job's own parse), and only when its text changes, so its
# timestamp does not trigger reruns; params carry the hash of the sections each rule depends
# on, so changing one section reruns only the jobs it affects.
RESOLVED_CONFIG = ARTIFACTS.resolved_config.path(RESULTS)


onstart:
    write_resolved_config(NA_CONFIG, RESOLVED_CONFIG)


ALIGNMENTS = NA_CONFIG["events"]["alignments"]
SUBJECTS = list(PLAN["subjects"])
SUBJECT_MOVIES = {
    s: sorted(set(entry["trials"].values())) for s, entry in PLAN["subjects"].items()
}
MOVIES = sorted({m for ms in SUBJECT_MOVIES.values() for m in ms})


def section_hash(*sections):
    return config_hash(NA_CONFIG, list(sections))


# Every path below RESULTS comes from neuroalign.artifacts, where each artifact's layout is
# defined once: `pattern(name, **fixed)` is a rule's input/output template (the wildcards
# not fixed stay as {wildcard}); `artifact(name, **wildcards)` is one concrete file.
def pattern(name, **fixed):
    return getattr(ARTIFACTS, name).template(RESULTS, **fixed)


def artifact(name, **wildcards):
    return getattr(ARTIFACTS, name).format(RESULTS, **wildcards)


def artifact_folder(name, **wildcards):
    """The folder of an artifact that a job is handed (it finds the files below itself)."""
    return getattr(ARTIFACTS, name).folder_path(RESULTS, **wildcards)


def all_data_outputs():
    out = [artifact("events", movie=m, alignment=a) for m in MOVIES for a in ALIGNMENTS]
    out += [artifact("electrodes", subject=s) for s in SUBJECTS]
    out += [artifact("responses", subject=s, alignment=a) for s in SUBJECTS for a in ALIGNMENTS]
    return out

# ---- models: the registry says each model's modality; the config says which to run.
from neuroalign.features import get_model
from neuroalign.features.registry import language_problems

MODELS = {m["name"]: m for m in NA_CONFIG["models"]}
for _name in MODELS:
    get_model(_name)  # unknown names fail here, with the closest registered name
_language = language_problems(list(MODELS), NA_CONFIG["dataset"]["language"])
if _language:
    raise WorkflowError("\n".join(_language))
MODEL_INITS = [(m, i) for m, entry in MODELS.items() for i in entry["init"]]


# Trained models by modality: the stats stage applies the same rule (config.role_models), so
# the baselines integrate exactly the unimodal models the sites are compared with.
_TRAINED_MODALITY = {m: get_model(m).modality for m, entry in MODELS.items()
                     if "trained" in entry["init"]}


# Linear-integration baselines combine the best layers of the configured unimodal models.
BASELINE_VISION = role_models(NA_CONFIG["sites"], _TRAINED_MODALITY, "vision")
BASELINE_LANGUAGE = role_models(NA_CONFIG["sites"], _TRAINED_MODALITY, "language")
BASELINE_MODELS = BASELINE_VISION + BASELINE_LANGUAGE
BASELINES = linear_baselines(NA_CONFIG["sites"], BASELINE_VISION, BASELINE_LANGUAGE)
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
        artifact("features", model=m, init=i, movie=mv, alignment=a)
        for m, i in MODEL_INITS
        for mv in MOVIES
        for a in ALIGNMENTS
    ]


def all_encoding_outputs():
    out = [
        artifact("encoding", subject=s, model=m, init=i, alignment=a)
        for s in SUBJECTS
        for m, i in MODEL_INITS
        for a in ALIGNMENTS
    ]
    out += [
        artifact("encoding", subject=s, model=b, init="trained", alignment=a)
        for s in SUBJECTS
        for b in BASELINES
        for a in ALIGNMENTS
    ]
    return out


def subject_encodings(subject):
    """Every encoding output of one subject: all models, inits, baselines and alignments."""
    # The same files, in the same order, as all_encoding_outputs() lists for this subject.
    out = [
        artifact("encoding", subject=subject, model=m, init=i, alignment=a)
        for m, i in MODEL_INITS
        for a in ALIGNMENTS
    ]
    out += [
        artifact("encoding", subject=subject, model=b, init="trained", alignment=a)
        for b in BASELINES
        for a in ALIGNMENTS
    ]
    return out


# The pooled stats job's table: final classes from BH across all subjects' electrodes.
POOLED_SITES = artifact("pooled_sites")


def all_stats_outputs():
    return [
        artifact(name, subject=s)
        for s in SUBJECTS
        for name in ("comparisons", "sites")
    ] + [POOLED_SITES]


# ---- report stage (docs/DESIGN.md §7): per-subject reports, the summary and sites.tsv.
from neuroalign.report import SUBJECT_FIGURES as REPORT_SUBJECT_FIGURES
from neuroalign.report import SUMMARY_FIGURES as REPORT_SUMMARY_FIGURES


def all_report_outputs():
    out = [artifact("subject_report", subject=s) for s in SUBJECTS]
    out += [
        artifact("subject_figure", subject=s, figure=n)
        for s in SUBJECTS
        for n in REPORT_SUBJECT_FIGURES
    ]
    out += [artifact("summary"), artifact("sites_tsv")]
    out += [artifact("summary_figure", figure=n) for n in REPORT_SUMMARY_FIGURES]
    return out
