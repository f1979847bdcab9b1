"""What a sandbox hands its workers: a scrubbed environment, the host's sys.path and __main__,
its nesting depth, and calls encoded (and checked) before anything starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from zixir.errors import SerializationError
from zixir.sandbox import _protocol
from zixir.tracing._context import CURRENT

__all__ = ["DEPTH_VARIABLE", "MAX_DEPTH_VARIABLE", "encode_call", "host_main", "inherited_depth", "scrubbed_env"]

DEPTH_VARIABLE = "ZIXIR_SANDBOX_DEPTH"
"""How many sandboxes this process runs inside (absent or 0 outside any)."""
MAX_DEPTH_VARIABLE = "ZIXIR_SANDBOX_MAX_DEPTH"
"""The tightest max_depth of the sandboxes this process runs inside."""

_KEPT = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "TMPDIR",
        "TEMP",
        "TMP",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)
_KEPT_PREFIXES = ("LC_", "PYTHON", "ZIXIR_")
_NEVER = frozenset({"PYTHONINSPECT", "PYTHONSTARTUP"})


def scrubbed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables a worker keeps by default: what Python needs to find and import code.

    Kept: PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TERM, TMPDIR, TEMP,
    TMP, VIRTUAL_ENV, CONDA_PREFIX, LD_LIBRARY_PATH, SSL_CERT_FILE, SSL_CERT_DIR, PYTHON*
    (but PYTHONINSPECT and PYTHONSTARTUP) and ZIXIR_*. Everything else (tokens, keys,
    passwords in the environment) is dropped.
    """
    return {
        key: value
        for key, value in environ.items()
        if (key in _KEPT or key.startswith(_KEPT_PREFIXES)) and key not in _NEVER
    }


def inherited_depth() -> tuple[int, int | None]:
    """This process's nesting depth and the tightest max_depth above it, from the environment."""
    try:
        depth = max(0, int(os.environ.get(DEPTH_VARIABLE, "0")))
    except ValueError:
        depth = 0
    try:
        limit: int | None = int(os.environ[MAX_DEPTH_VARIABLE])
    except (KeyError, ValueError):
        limit = None
    return depth, limit


def host_main() -> tuple[str, str] | None:
    """How a worker can load this process's ``__main__``: by file or by module name.

    None when it cannot: code given with ``-c``, an interactive session, or a package's
    ``__main__`` (which runs a program rather than defining functions), as multiprocessing.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str):
        if name == "__main__" or name.endswith(".__main__"):
            return None
        return ("module", name)
    path = getattr(main, "__file__", None)
    if isinstance(path, str) and os.path.exists(path):
        return ("path", os.path.abspath(path))
    return None


def _trace_context() -> tuple[str, str, bool] | None:
    """The caller's trace context as plain data: the worker continues the trace under it."""
    current = CURRENT.get()
    return None if current is None else (current.trace_id, current.span_id, current.sampled)


def encode_call(target: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], main_known: bool) -> bytes:
    """Encodes a call for a worker, so a bad function or argument fails before anything runs.

    Args:
        target: The function, or ``(module, qualified_name)`` to import in the worker.
        args: Positional arguments.
        kwargs: Keyword arguments.
        main_known: Whether workers can load this process's ``__main__``.

    Raises:
        SerializationError: The function or an argument cannot be pickled, or the function
            lives in a ``__main__`` the workers cannot load.
    """
    module = getattr(target, "__module__", None)
    if module == "__main__" and not main_known:
        raise SerializationError(
            f"{getattr(target, '__qualname__', target)!r} is defined in __main__, which sandbox "
            "workers cannot import here (code given with -c, an interactive session, or a "
            "package's __main__); define it in a module file and import it, or name it with "
            "Sandbox.run_module(module, function, args)"
        )
    try:
        payload = _protocol.encode_call(target, args, dict(kwargs), _trace_context())
    except Exception as exc:
        raise SerializationError(
            f"cannot send the call to the sandbox: {type(exc).__name__}: {exc}; the function "
            "and its arguments travel by pickle: pass a module-level function (not a lambda, "
            "a nested function or a bound method of an unpicklable object) and picklable "
            "arguments, or name the function with run_module()"
        ) from exc
    if len(payload) > _protocol.CALL_MAX:
        raise SerializationError(
            f"cannot send the call to the sandbox: it is {len(payload)} bytes pickled, over the "
            f"{_protocol.CALL_MAX} bytes a call may carry; pass large data by file path or shared memory"
        )
    return payload
