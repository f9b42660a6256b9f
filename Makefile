# The two commands of the README:
#   make demo  -> set up .venv, simulate the embedded dataset if absent, run the pipeline
#   make test  -> set up .venv, run the test suite (all of it: what CI runs)
#   make test-fast -> the same without the `slow` tests (no Snakemake runs, no browser, no SLURM)
# Needs only Python 3.11, pip and gcc; everything else comes from PyPI.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.neuroalign-installed
CORES ?= 2
# pytest-xdist workers for `make test`: many of the suite's long tests are single-process, so two
# workers use CI's two cores. Each file runs on one worker (its module fixtures are built once),
# in the order tests/conftest.py collects them (the workflow tests first);
# the session fixtures that run whole workflows are built once and shared (tests/conftest.py).
# TEST_JOBS=0 runs it in one process. The 30 slowest setups and calls are listed at the end, so
# that CI's log says where its time went (the suite must stay well under CI's 90 min).
TEST_JOBS ?= $(CORES)
PYTEST := $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder \
	--durations=30
DEMO_DATA := data/sim
export PATH := $(abspath $(BIN)):$(PATH)
# No model hub is reachable from compute nodes (or from here): load only local weights.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test test-fast install system-deps lint bench clean-results

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
	$(BIN)/neuroalign score-sites results/sites.tsv --truth $(DEMO_DATA)/ground_truth.json
	@echo
	@echo "Open the summary:          results/summary.html"
	@echo "Per-subject reports:       results/subjects/<subject>/report.html"
	@echo "Every responsive electrode: results/sites.tsv (planted truth: $(DEMO_DATA)/ground_truth.json)"
	@echo "See README.md ('What make demo produces', 'Outputs: the reports') for how to read them."

# Debian programs some tests drive (listed in tests/system/apt-packages.txt).
system-deps:
	bash tests/system/install.sh

test: $(STAMP) system-deps
	$(PYTEST)

# Everything but the end-to-end runs marked `slow` (pyproject.toml); needs no Debian programs.
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

clean-results:
	rm -rf results logs .snakemake
