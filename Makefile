# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# The interpreter: PYTHON=... or the first of Python 3.12, 3.13, 3.11 (scripts/find_python.sh).
PYTHON ?=
PYTHON_BOOT := $(shell scripts/find_python.sh $(PYTHON) 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
REQS := requirements.txt requirements-intel.txt pyproject.toml
STAMP := $(VENV)/.installed-$(shell (cat $(REQS); echo $(PYTHON_BOOT)) 2>/dev/null | sha256sum | cut -c1-16)
DATA := data/generated/moving-objects
JOBS ?= 2

.PHONY: venv demo test lint bench bench-shared chainer-selftest clean-venv

venv: $(STAMP)

$(STAMP):
	@scripts/find_python.sh $(PYTHON) >/dev/null
	@# A virtualenv of another Python (an earlier stack, another PYTHON=) is made anew.
	@test ! -x $(PY) || [ "$$($(PY) -c 'import sys; print(sys.version)')" = "$$($(PYTHON_BOOT) -c 'import sys; print(sys.version)')" ] || rm -rf $(VENV)
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(PIP) install --quiet --disable-pip-version-check setuptools wheel numpy -c requirements.txt
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

# TF vs the Chainer port (CPU fast path and stock Chainer), every pair at its bench preset,
# batch 4: a report each in docs/benchmarks/NAME.md (+ CSV) and one table in
# docs/benchmarks.md; BENCH_ARGS="--no-stock --steps 3" about 20 minutes on 2 cores, "--parity"
# adds each pair's `twinport parity` wall time.
bench: $(STAMP)
	$(VENV)/bin/twinport bench --all --batch-size 4 $(BENCH_ARGS)

# The same beside two busy processes (a shared machine): docs/benchmarks-shared.md and
# docs/benchmarks-shared/NAME.md; BENCH_ARGS="--no-stock --steps 3" about 30 minutes.
bench-shared: $(STAMP)
	$(VENV)/bin/twinport bench --all --batch-size 4 --load 2 --out docs/benchmarks-shared.md $(BENCH_ARGS)

# Chainer 7.8.1's own CPU tests for what the ports use, on this stack (docs/stack.md):
#   make chainer-selftest CHAINER_SRC=/path/to/chainer-v7.8.1-checkout
chainer-selftest: $(STAMP)
	@test -n "$(CHAINER_SRC)" || { echo "error: give CHAINER_SRC=/path/to/a chainer/chainer checkout at v7.8.1"; exit 2; }
	$(PIP) install --quiet --disable-pip-version-check -r requirements-selftest.txt
	PY=$(PY) scripts/chainer_selftest.sh $(CHAINER_SRC) $(SELFTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
