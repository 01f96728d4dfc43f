# Two commands set up a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# pymc-marketing 1.3 (benchmarks/effects.py's baseline) needs Python >= 3.12: own venv
PYTHON312 ?= $(shell command -v python3.12 || command -v python3.13)
PYMC_VENV := .venv-pymc

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

$(PYMC_VENV)/.installed:
	$(PYTHON312) -m venv $(PYMC_VENV)
	$(PYMC_VENV)/bin/python -m pip install --quiet "pymc-marketing==1.3.0"
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(VENV)/bin/causalmmm demo --out demo_output

# writes benchmarks/robustness.md + robustness_results.json (every data family x method x 3
# seeds, parts/robustness/; at the top of results.md) and benchmarks/results.{md,json}
# from benchmarks/parts/ (robustness: about 65 min on the shared 2-core machine, measured
# 2026-12-02, 38 of them PCMCI; a model change alone needs only `--methods causalmmm
# --baselines-from V`, about 15 min; grid and budget:
# benchmarks/grid.py; about 1.5 hours on 2 free cores, measured 2026-11-29; rerunning resumes unfinished jobs).
# PCMCI rows are reused from benchmarks/pcmci_results.json (`benchmarks/pcmci.py` remakes it)
# effects.py: CausalMMM vs PyMC-Marketing contributions against the funnel's do()-truth,
# benchmarks/effects.md (about 15 min on 2 shared cores, measured 2026-12-02: PyMC-Marketing
# 1.5 min a draw, 12 shops; a model change needs only `benchmarks/effects.py --full --methods
# causalmmm`, about 5 min: the PyMC-Marketing rows, also those of `--pymc-shops 60`, are reused;
# the weekly funnel's further seeds 3-8: about 10 min more, scored apart in effects.md)
# effects_variants.py: twelve CausalMMM variants on the same draws, about 27 min (measured 2026-12-02)
# effects_stress.py: CausalMMM defaults on twelve funnels written to break it, about 20 min
bench: $(STAMP) $(PYMC_VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) benchmarks/robustness.py --full
	$(PY) benchmarks/effects.py --full
	$(PY) benchmarks/effects.py --full --funnels weekly --seeds 3,4,5,6,7,8
	$(PY) benchmarks/evidence_variants.py --variants default,shared_alternative,effect_rates,no_products,no_even,no_even_no_products,lagged_only,spends_only,funnel,slow_calendar,no_calendar
	$(PY) benchmarks/effects_variants.py --variants linear,shared_alternative,unpooled,hill,funnel,spends_only,lagged_only,free,positive,model_covariance,draws80,positive80
	$(PY) benchmarks/effects_stress.py
	$(PY) benchmarks/decisions.py
	$(PY) benchmarks/recovery.py --full
	$(PY) benchmarks/forecast_bench.py --full
	$(PY) benchmarks/speed.py --full
	$(PY) benchmarks/report.py

# a few minutes: the same pipeline on a small grid, writes benchmarks/results_quick.{md,json}
bench-quick: $(STAMP) $(PYMC_VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) benchmarks/robustness.py --quick
	$(PY) benchmarks/effects.py --quick
	$(PY) benchmarks/recovery.py --quick
	$(PY) benchmarks/forecast_bench.py --quick
	$(PY) benchmarks/speed.py --quick
	$(PY) benchmarks/report.py --quick

clean:
	rm -rf $(VENV) $(PYMC_VENV) demo_output .pytest_cache .ruff_cache
