# Helpers shared by every stage file (validated config, wildcard values, paths).
import json
from pathlib import Path

from snakemake.exceptions import WorkflowError

from neuroalign.config import ConfigError, config_hash, validate_config
from neuroalign.data.build import open_dataset, selected_subjects, selected_trials

# Friendly validation first (names the key and the closest valid one), then defaults.
try:
    NA_CONFIG = validate_config(config, source=", ".join(map(str, workflow.configfiles)) or "config")
except ConfigError as err:
    raise WorkflowError(str(err)) from None

RESULTS = NA_CONFIG["results"]
LOGS = "logs"
ENV = "../../envs/neuroalign.yaml"

# Jobs read the resolved config from one file; it is rewritten only when it changes,
# so its timestamp does not trigger reruns. Params carry the hash of the sections each
# rule depends on, so changing one section reruns only the jobs it affects.
RESOLVED_CONFIG = Path(RESULTS) / ".neuroalign" / "config.json"
_text = json.dumps(NA_CONFIG, indent=1, sort_keys=True)
if not RESOLVED_CONFIG.exists() or RESOLVED_CONFIG.read_text() != _text:
    RESOLVED_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    RESOLVED_CONFIG.write_text(_text)

if not Path(NA_CONFIG["dataset"]["root"]).is_dir():
    raise WorkflowError(
        f"dataset.root {NA_CONFIG['dataset']['root']!r} not found. For the embedded demo run "
        "`make demo` (or `neuroalign simulate --out data/sim --preset demo`); for your own data "
        "set dataset.root in the config (see data/README.md)."
    )
DATASET = open_dataset(NA_CONFIG)
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
