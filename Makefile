# Set-up is automatic: every target creates .venv and builds the extension on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The sdist of the installed pykka, whose own test suite tests/actors/test_pykka_suite.py runs.
PYKKA_SDIST := $(VENV)/pykka-sdist

.PHONY: demo test bench docs dist clean pykka-sdist

$(INSTALLED): pyproject.toml setup.py zixir/_engine.pyx zixir/_kernels.h zixir/cache/lookup.py zixir/cache/lookup.pxd \
		zixir/tracing/_context.py zixir/tracing/_context.pxd zixir/tracing/spans.py zixir/tracing/spans.pxd \
		zixir/tracing/_actors.py zixir/tracing/_actors.pxd
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench,docs,ray]"
	$(MAKE) --no-print-directory pykka-sdist
	touch $@

# Fetched at set-up, not by the test: the suite then runs offline. Rerun after changing pykka.
pykka-sdist:
	rm -rf $(PYKKA_SDIST)
	$(PY) -m pip download --quiet --no-deps --no-binary :all: --dest $(PYKKA_SDIST) \
		"pykka==$$($(PY) -c 'from importlib.metadata import version; print(version("pykka"))')"

# The supervised pipeline with injected faults (about 25 s); `zixir tour` is the short tour.
demo: $(INSTALLED)
	$(VENV)/bin/zixir demo

# The suite runs twice: on the compiled engine (and fails if it is not the one live), then
# on the pure-Python twin.
test: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	ZIXIR_EXPECT_IMPLEMENTATION=cython $(PY) -m pytest
	ZIXIR_PUREPYTHON=1 ZIXIR_EXPECT_IMPLEMENTATION=python $(PY) -m pytest

# The benchmark peers (the `peers` extra), installed for `make bench` only.
PEERS := $(VENV)/.peers
$(PEERS): $(INSTALLED) pyproject.toml
	$(PY) -m pip install --quiet -e ".[peers]"
	touch $@

bench: $(PEERS)
	OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks

docs: $(INSTALLED)
	$(PY) -m mkdocs build --strict --site-dir site

# Builds the sdist, then the wheel from it, as a release would; then installs the wheel
# into a fresh venv (with the extras whose modules import them) and checks that every
# module but the __main__ ones (they run commands) imports, and the engine is compiled.
dist: $(INSTALLED)
	rm -rf dist build/wheel-check
	$(PY) -m build --outdir dist
	$(PYTHON) -m venv build/wheel-check
	build/wheel-check/bin/python -m pip install --quiet "$$(ls dist/*.whl)[analytics,otel,ray]"
	cd build && wheel-check/bin/python -c "import importlib, pkgutil, zixir; \
	[importlib.import_module(m.name) for m in pkgutil.walk_packages(zixir.__path__, 'zixir.') if not m.name.endswith('.__main__')]; \
	assert zixir.engine.IMPLEMENTATION == 'cython', zixir.engine.IMPLEMENTATION; \
	assert zixir.cache.LOOKUP_IMPLEMENTATION == 'cython', zixir.cache.LOOKUP_IMPLEMENTATION; \
	assert zixir.tracing.SPANS_IMPLEMENTATION == 'cython', zixir.tracing.SPANS_IMPLEMENTATION; \
	print('wheel OK:', zixir.__file__)"

clean:
	rm -rf $(VENV) build dist site zixir/_engine.c zixir/cache/lookup.c zixir/tracing/*.c zixir/*.so zixir/cache/*.so zixir/tracing/*.so .pytest_cache .mypy_cache .hypothesis
