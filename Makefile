# The two commands of the README:
#   make demo  -> set up .venv, simulate the embedded dataset if absent, run the pipeline
#   make test  -> set up .venv, run the test suite
# Needs only Python 3.11, pip and gcc; everything else comes from PyPI.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.neuroalign-installed
CORES ?= 2
DEMO_DATA := data/sim
export PATH := $(abspath $(BIN)):$(PATH)
# No model hub is reachable from compute nodes (or from here): load only local weights.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test install system-deps lint bench clean-results

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[all]"
	touch $(STAMP)

$(DEMO_DATA)/ground_truth.json: | $(STAMP)
	$(BIN)/neuroalign simulate --out $(DEMO_DATA) --preset demo --seed 0

demo: $(STAMP) $(DEMO_DATA)/ground_truth.json
	$(BIN)/neuroalign check-data --config config.yaml
	$(BIN)/snakemake --cores $(CORES)
	@echo
	@echo "Done. Outputs are under results/:"
	@echo "  results/movies/<movie>/events/<alignment>.parquet   events (one per word / scene cut)"
	@echo "  results/subjects/<subject>/electrodes.parquet      electrodes kept and why others were dropped"
	@echo "  results/subjects/<subject>/responses/<alignment>.h5 high-gamma responses (events x electrodes x bins)"
	@echo "  results/features/<model>/<init>/<movie>/<alignment>.h5 network features per named layer"
	@echo "  results/subjects/<subject>/encoding/<model>/<init>/<alignment>.h5  out-of-sample r, CIs, p per electrode x bin"
	@echo "See README.md ('What make demo produces') for how to read them."

# Debian programs some tests drive (listed in tests/system/apt-packages.txt).
system-deps:
	bash tests/system/install.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

clean-results:
	rm -rf results logs .snakemake
