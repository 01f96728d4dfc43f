# Two commands set up a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench bench-quick clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch==2.13.0 first: a CPU wheel lies on this machine's disk; an unpinned
# torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(VENV)/bin/causalmmm demo --out demo_output

# writes benchmarks/results.{md,json} (about 20 minutes on 2 cores) and
# benchmarks/pcmci_results.json (PCMCI needs the bench extra; about 7 minutes per seed)
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) benchmarks/run.py --full
	$(PY) benchmarks/pcmci.py --seeds 3

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick --out benchmarks/results_quick

clean:
	rm -rf $(VENV) demo_output .pytest_cache .ruff_cache
