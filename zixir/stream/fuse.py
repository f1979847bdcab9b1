"""Fuses a run of per-item stages (map, filter, tap, scan, take, batch...) into one
generator, sync or async, so that a pipeline costs one Python frame per item, not one
per stage.

Each stage gives a `Snippet` of code working on the variable ``x``; the snippets are
joined into one loop, compiled once per shape (cached, bounded) and bound to the stages'
functions as closure variables. Every stage counts its input in a local that is written
to its stats at each ``yield`` and at the end.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from zixir.stream.run import tag
from zixir.stream.stats import Tally

__all__ = ["CACHE_SIZE", "Snippet", "build"]

#: How many compiled segment shapes are kept.
CACHE_SIZE = 256


@dataclass(slots=True)
class Snippet:
    """One stage's code in a fused loop. ``{k}`` in the code is replaced by the stage's index.

    Attributes:
        body: Lines run per item on ``x``; ``continue`` drops the item, ``break`` ends the
            stream (after the `after` lines).
        setup: Lines run once before the loop.
        emit: Lines that pass ``x`` on, replacing the default ``yield x``; a stage with its
            own `emit` ends its segment (batch, take, flat_map). ``YIELD(v)`` in them yields v.
        after: Lines run once after the loop ends without an error.
        env: Names the code uses -> their values (the stage's function, bounds...).
    """

    body: str = ""
    setup: str = ""
    emit: str | None = None
    after: str = ""
    env: dict[str, Any] = field(default_factory=dict)


def call(target: str, expression: str, on_error: str) -> str:
    """Lines that evaluate `expression` (a call of the stage's function) into `target`,
    handling its error as the stage's `on_error` says ("skip" or "fail")."""
    handler = "t{k}.skip(e)\n    continue" if on_error == "skip" else "tag(e, t{k})\n    raise"
    assign = f"{target} = {expression}" if target else expression
    return f"try:\n    {assign}\nexcept Exception as e:\n    {handler}\n"


def _indent(code: str, depth: int) -> str:
    return textwrap.indent(code, "    " * depth)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(code: str, names: tuple[str, ...]) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<zixir.stream fused stages>", "exec"), namespace)
    factory: Callable[..., Any] = namespace["_factory"]
    return factory


def _yielding(code: str, publish: str, depth: int) -> str:
    """Replaces each ``YIELD(v)`` line with the stats publication and ``yield v``."""
    lines = []
    for line in code.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("YIELD(") and stripped.endswith(")"):
            pad = line[: len(line) - len(stripped)]
            lines.append(f"{pad}{publish}")
            lines.append(f"{pad}yield {stripped[6:-1]}")
        else:
            lines.append(line)
    return _indent("\n".join(lines) + "\n", depth)


def build(
    snippets: list[Snippet], tallies: list[Tally], *, is_async: bool, source_async: bool
) -> Callable[[Any], Iterator[Any] | AsyncIterator[Any]]:
    """Compiles the stages into one generator function taking the upstream iterator.

    Args:
        snippets: The stages' code, in order; only the last may have its own `emit`.
        tallies: The stages' tallies, in the same order.
        is_async: Build an async generator.
        source_async: The upstream is an async iterator (``async for``); else a sync one.

    Returns:
        A function from the upstream iterator to the fused stages' output iterator.
    """
    env: dict[str, Any] = {"tag": tag}
    counts = [f"i{k}" for k in range(len(snippets))]
    publish = "; ".join(f"p{k}.n = i{k}" for k in range(len(snippets)))
    setup, body, after = "", "", ""
    for k, (snippet, tally) in enumerate(zip(snippets, tallies)):
        env.update({name.replace("{k}", str(k)): value for name, value in snippet.env.items()})
        env[f"t{k}"] = tally
        env[f"p{k}"] = tally.inp
        setup += snippet.setup.replace("{k}", str(k))
        body += f"i{k} += 1\n" + snippet.body.replace("{k}", str(k))
        after += snippet.after.replace("{k}", str(k))
    last = snippets[-1].emit
    emit = (last if last is not None else "YIELD(x)\n").replace("{k}", str(len(snippets) - 1))
    loop = "async for" if source_async else "for"
    close = (
        "close = getattr(src, 'aclose', None)\nif close is not None:\n    await close()\n"
        if source_async
        else "close = getattr(src, 'close', None)\nif close is not None:\n    close()\n"
    )
    names = tuple(sorted(env))
    code = (
        f"def _factory({', '.join(names)}):\n"
        f"    {'async ' if is_async else ''}def _fused(src):\n"
        f"        {' = '.join(counts)} = 0\n"
        "        try:\n"
        f"{_indent(setup, 3)}"
        f"            {loop} x in src:\n"
        f"{_indent(body, 4)}"
        f"{_yielding(emit, publish, 4)}"
        f"{_yielding(after, publish, 3)}"
        "        finally:\n"
        f"            {publish}\n"
        f"{_indent(close, 3)}"
        "    return _fused\n"
    )
    factory = _compile(code, names)
    return factory(*(env[name] for name in names))  # type: ignore[no-any-return]
