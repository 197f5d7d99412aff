# The README's two commands:
#   make run   - install the exporter in .venv and run it on the embedded default
#   make test  - install everything the tests need, then lint, type-check and run the suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= examples/quickstart.yaml
LISTEN ?= 127.0.0.1:9864

.PHONY: run demo samples test install install-test system-deps lint typecheck render check-generated pytest bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run

install-test: $(VENV)/.installed-test system-deps

system-deps:
	scripts/install-system-deps.sh

run: install samples
	$(VENV)/bin/kpi-exporter run --config $(CONFIG) --web.listen-address $(LISTEN)

# The quick start's sample files dated relative to today (the KPIs are windows by event time;
# the files in the repository are written for 2026-12-02, `make run` re-dates them).
samples: $(VENV)/bin/python
	$(PY) examples/samples.py

# The exporter on the quick start and a real Prometheus (Debian's) evaluating the rendered
# rules over the backfilled history, both on 127.0.0.1: see scripts/demo.py.
demo: install system-deps samples
	$(PY) scripts/demo.py

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

render: $(VENV)/.installed-run
	$(VENV)/bin/kpi-exporter render

check-generated: $(VENV)/.installed-run
	$(VENV)/bin/kpi-exporter render --check

pytest: install-test
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: install-test lint typecheck check-generated pytest

bench: install-test
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache kpi-exporter.db*
