"""Declares the compiled modules; all other metadata lives in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

# -O3 lets gcc vectorize the kernels' independent accumulator lanes. Deliberately absent:
# -ffast-math / -fassociative-math, which would turn the compensated sums naive, and FMA
# contraction, which would make results differ from the pure-Python twin.
COMPILE_ARGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]

engine = cythonize(
    [Extension("zixir._engine", ["zixir/_engine.pyx"], extra_compile_args=COMPILE_ARGS)],
    language_level=3,
    compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
)
# Plain Python compiled as is, with Python's semantics (lookup.pxd adds the C types); the
# same source runs uncompiled under ZIXIR_PUREPYTHON=1.
python_modules = cythonize(
    [Extension("zixir.cache.lookup", ["zixir/cache/lookup.py"], extra_compile_args=["-O2"])],
    language_level=3,
)

setup(ext_modules=engine + python_modules)
