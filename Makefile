# psl-interpret: one entry point per job. `make help` lists them.
PY      ?= python3
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
SOURCE  ?= auto
INDEX   ?= data/index

.PHONY: help setup tools index index-info demo reproduce report browser test test-all lint bench clean
REPRODUCE_ARGS ?=

help:
	@echo "make setup       create $(VENV) with the pinned CPU torch and the project (editable); MMseqs2 as root"
	@echo "make index       build the Swiss-Prot location index in $(INDEX) (SOURCE=auto|uniprot|debian|PATH)"
	@echo "make index-info  show what the index holds"
	@echo "make demo        the study in small on real data: index, train, diagnose, attribute, hit rate (~15 min)"
	@echo "make reproduce   the whole study: every model x 3 seeds, diagnostics, attributions, hit rates,"
	@echo "                 plausibility -> reports/study.md (hours on CPU; REPRODUCE_ARGS='--epochs 3 ...' for less)"
	@echo "make report      rebuild reports/study.md and its figures from runs/study"
	@echo "make test        the test suite (slow end-to-end tests excluded; installs Debian's chromium as root)"
	@echo "make test-all    every test, including the slow end-to-end ones"
	@echo "make lint        ruff"
	@echo "make bench       benchmarks in bench/ (index build, peptide matcher, hit rate end to end; needs make index)"

setup: $(VENV)/.installed tools

# MMseqs2 (Debian's mmseqs2) finds the homologs that the hit rate's --exclude-homologs leaves out
# (SPEC 9.1); installed here when missing and root (CI), like the index's Debian source.
tools:
	@command -v mmseqs >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmseqs2 \
	  >/dev/null) || echo "could not install mmseqs2: homolog exclusion and its tests will be unavailable"

# torch is pinned to the CPU build on disk: a newer or unpinned torch pulls a multi-GB CUDA build.
# constraints.txt pins every package to the versions the published numbers were made with.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -c constraints.txt torch==2.13.0
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

index: setup
	$(PYTHON) -m build_index --source $(SOURCE) --out $(INDEX)

index-info: setup
	$(PYTHON) -m pslindex.info $(INDEX)

demo: setup
	$(PYTHON) -m pslmodels.demo --index $(INDEX)

$(INDEX)/sprot.duckdb:
	$(MAKE) index

reproduce: setup $(INDEX)/sprot.duckdb
	$(PYTHON) -m pslmodels.reproduce --index $(INDEX) $(REPRODUCE_ARGS)

report: setup
	$(PYTHON) -m pslmodels.report runs/study

# The viewer's test renders the page in Debian's chromium; installed here when missing and root (CI).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
	  >/dev/null) || echo "could not install chromium: the browser test will be skipped"

test: setup browser
	$(PYTHON) -m pytest -q -m "not slow"

test-all: setup browser
	$(PYTHON) -m pytest -q

lint: setup
	$(PYTHON) -m ruff check .

bench: setup
	$(PYTHON) bench/index_build.py
	$(PYTHON) bench/matcher.py --index $(INDEX)
	$(PYTHON) bench/hitrate.py --index $(INDEX)
	$(PYTHON) bench/train_throughput.py
	$(PYTHON) bench/predict.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
