# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
REQS := requirements.txt requirements-intel.txt pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-16)
DATA := data/generated/moving-objects
JOBS ?= 2

.PHONY: venv demo test lint bench clean-venv

venv: $(STAMP)

$(STAMP):
	@command -v $(PYTHON_BOOT) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON_BOOT) not found. twinport needs Python 3.11 (Chainer 7.8.1 runs on <= 3.11): install it, or run make PYTHON_BOOT=/path/to/python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(PIP) install --quiet --disable-pip-version-check "setuptools<74" wheel "numpy==1.23.5"
	$(PIP) install --quiet --disable-pip-version-check --no-build-isolation -r requirements.txt
	$(PIP) install --quiet --disable-pip-version-check --no-deps -r requirements-intel.txt
	$(PIP) install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $@

$(DATA)/map.csv: | $(STAMP)
	$(VENV)/bin/twinport data moving-objects --out $(DATA) --seed 0

demo: $(STAMP) $(DATA)/map.csv
	$(VENV)/bin/twinport data verify $(DATA)
	$(VENV)/bin/twinport data preview $(DATA) --split test --n 16 -o $(DATA)/preview.png
	@echo "preview written to $(DATA)/preview.png"
	$(VENV)/bin/twinport parity --preset paper --data $(DATA) --out reports/parity-paper

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n $(JOBS) -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# TF vs the Chainer port (CPU fast path and stock Chainer), paper preset, batch 4: about 5
# minutes; writes docs/benchmarks.md and docs/benchmarks.csv. BENCH_ARGS="--parity" adds the
# wall time of `twinport parity` (about 3 minutes more).
bench: $(STAMP)
	$(VENV)/bin/twinport bench --preset paper --batch-size 4 --out docs/benchmarks.md $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
