# psl-interpret: one entry point per job. `make help` lists them.
PY      ?= python3
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
SOURCE  ?= auto
INDEX   ?= data/index

.PHONY: help setup tools index index-info demo reproduce planted report browser test test-all lint bench clean
REPRODUCE_ARGS ?=

help:
	@echo "make setup       create $(VENV) with the pinned CPU torch and the project (editable); MMseqs2 as root"
	@echo "make index       build the Swiss-Prot location index in $(INDEX) (SOURCE=auto|uniprot|debian|PATH)"
	@echo "make index-info  show what the index holds"
	@echo "make demo        the study in small on real data: index, train, diagnose, attribute, hit rate (~15 min)"
	@echo "make reproduce   the whole study as a Snakemake workflow: train, diagnose, attribute, hit rates,"
	@echo "                 plausibility -> reports/study.md (days on 2 CPU cores; REPRODUCE_ARGS='-n' lists what is left)"
	@echo "make planted     the planted-motif benchmark (SPEC 11.2): planted data and index, two models, every"
	@echo "                 analysis -> reports/study/planted/, then make report (about an hour on 2 CPU cores)"
	@echo "make report      rebuild reports/study.md and its figures from the kept runs (reports/study/runs)"
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
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,workflow]'
	touch $@

index: setup
	$(PYTHON) -m build_index --source $(SOURCE) --out $(INDEX)

index-info: setup
	$(PYTHON) -m pslindex.info $(INDEX)

demo: setup
	$(PYTHON) -m pslmodels.demo --index $(INDEX)

$(INDEX)/sprot.duckdb:
	$(MAKE) index

# The study as a Snakemake workflow (workflow/Snakefile, config/config.yaml; two one-thread jobs at
# a time by workflow/profiles/default). REPRODUCE_ARGS go to snakemake, e.g. '-n' (what is left) or
# "--config epochs=3 max_train=1500". On a SLURM cluster: --workflow-profile workflow/profiles/slurm.
reproduce: setup
	$(VENV)/bin/snakemake --config index=$(INDEX) $(REPRODUCE_ARGS)

# The planted-motif benchmark (SPEC 11.2): config/planted.yaml over the study's configuration; the
# target `runs` is every run's analyses without a report of its own (make report shows its table)
planted: setup
	$(VENV)/bin/snakemake --configfile config/planted.yaml --config planted_from=$(INDEX) $(REPRODUCE_ARGS) runs

# The report from the kept runs alone (reports/study/runs), no training, no analysis: byte-identical
# on any machine with the same package versions (constraints.txt).
report: setup
	$(PYTHON) -m pslmodels.report reports/study/runs --out reports/study.md --planted reports/study/planted

# The viewer's test renders the page in Debian's chromium; installed here when missing and root (CI).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
	  >/dev/null) || echo "could not install chromium: the browser test will be skipped"

# two workers, one test file each at a time (pytest-xdist): the workflow test's Snakemake run beside the rest
test: setup browser
	$(PYTHON) -m pytest -q -n 2 --dist loadfile -m "not slow" --doctest-modules pslindex pslmodels build_index tests

test-all: setup browser
	$(PYTHON) -m pytest -q -n 2 --dist loadfile --doctest-modules pslindex pslmodels build_index tests

lint: setup
	$(PYTHON) -m ruff check .

bench: setup
	$(PYTHON) bench/index_build.py
	$(PYTHON) bench/matcher.py --index $(INDEX)
	$(PYTHON) bench/hitrate.py --index $(INDEX)
	$(PYTHON) bench/train_throughput.py
	$(PYTHON) bench/predict.py
	$(PYTHON) bench/ig.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
