# The README's two commands:
#   make run   - install the exporter in .venv and run it on the embedded default
#   make test  - install everything the tests need, then lint, type-check and run the suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= examples/quickstart.yaml
LISTEN ?= :9864

.PHONY: run samples test install install-test system-deps lint typecheck render check-generated pytest bench clean

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

run: install
	$(VENV)/bin/kpi-exporter run --config $(CONFIG) --web.listen-address $(LISTEN)

# The quick start's sample files dated relative to today (the KPIs are windows by event time).
samples: $(VENV)/bin/python
	$(PY) examples/samples.py

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
