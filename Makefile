# Set-up is automatic: every target creates .venv and builds the extension on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench docs dist clean

$(INSTALLED): pyproject.toml setup.py zixir/_engine.pyx zixir/_kernels.h
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench,docs]"
	touch $@

demo: $(INSTALLED)
	$(PY) -m zixir.demo

# The suite runs twice: on the compiled engine (and fails if it is not the one live), then
# on the pure-Python twin.
test: $(INSTALLED)
	$(PY) -m mypy
	ZIXIR_EXPECT_IMPLEMENTATION=cython $(PY) -m pytest
	ZIXIR_PUREPYTHON=1 ZIXIR_EXPECT_IMPLEMENTATION=python $(PY) -m pytest

bench: $(INSTALLED)
	OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks

docs: $(INSTALLED)
	$(PY) -m mkdocs build --strict --site-dir site

# Builds the sdist, then the wheel from it, as a release would.
dist: $(INSTALLED)
	rm -rf dist
	$(PY) -m build --outdir dist

clean:
	rm -rf $(VENV) build dist site zixir/_engine.c zixir/*.so .pytest_cache .mypy_cache .hypothesis
