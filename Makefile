# psl-interpret: one entry point per job. `make help` lists them.
PY      ?= python3
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
SOURCE  ?= auto
INDEX   ?= data/index

.PHONY: help setup index index-info demo train test test-all lint bench clean

help:
	@echo "make setup       create $(VENV) with the pinned CPU torch and the project (editable)"
	@echo "make index       build the Swiss-Prot location index in $(INDEX) (SOURCE=auto|uniprot|debian|PATH)"
	@echo "make index-info  show what the index holds"
	@echo "make demo        the study in small on real data: index, train, diagnose, attribute, hit rate (~15 min)"
	@echo "make test        the test suite (slow end-to-end tests excluded)"
	@echo "make test-all    every test, including the slow end-to-end ones"
	@echo "make lint        ruff"
	@echo "make bench       benchmarks in bench/ (index build stages, peptide matcher; needs make index)"

setup: $(VENV)/.installed

# torch is pinned to the CPU build on disk: a newer or unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

index: setup
	$(PYTHON) -m build_index --source $(SOURCE) --out $(INDEX)

index-info: setup
	$(PYTHON) -m pslindex.info $(INDEX)

demo: setup
	$(PYTHON) -m pslmodels.demo --index $(INDEX)

test: setup
	$(PYTHON) -m pytest -q -m "not slow"

test-all: setup
	$(PYTHON) -m pytest -q

lint: setup
	$(PYTHON) -m ruff check .

bench: setup
	$(PYTHON) bench/index_build.py
	$(PYTHON) bench/matcher.py --index $(INDEX)
	$(PYTHON) bench/train_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
