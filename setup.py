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


def python_module(name: str) -> Extension:
    return Extension(name, [name.replace(".", "/") + ".py"], extra_compile_args=["-O2"])


# Plain Python compiled as is, with Python's semantics (each module's .pxd adds the C
# types); the same source runs uncompiled under ZIXIR_PUREPYTHON=1.
python_modules = cythonize([python_module("zixir.cache.lookup")], language_level=3)
# The span core: its C types come from the .pxd files only, never from annotations, so
# that an argument of the wrong type reaches the code that refuses it with a typed error.
python_modules += cythonize(
    [python_module(name) for name in ("zixir.tracing._context", "zixir.tracing.spans", "zixir.tracing._actors")],
    language_level=3,
    compiler_directives={"annotation_typing": False},
)

setup(ext_modules=engine + python_modules)
