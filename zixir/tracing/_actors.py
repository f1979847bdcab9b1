"""The receiving side of a traced message: the actor handles it inside a child span.

Called by the actor loop only for an envelope that carries a context, so actors whose
senders never open a span never reach this module. Compiled by Cython when built
(_actors.pxd), like `zixir.tracing.spans`; ``ZIXIR_PUREPYTHON=1`` runs this source.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from zixir.tracing._context import CURRENT, SpanContext
from zixir.tracing.spans import start_span

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SPAN_NAMES", "receive_in_span", "span_name"]

#: Span names kept for (actor class, message class) pairs; past it, names are built each
#: time. Proxy calls are not kept: their name depends on the method called.
SPAN_NAMES: Final = 1024

_set_current = CURRENT.set
_names: dict[tuple[type, type], str] = {}
# zixir.actors._pykka, loaded with the first name built: this module imports nothing but
# tracing, so that zixir.tracing can load it from source under ZIXIR_PUREPYTHON without
# a circular import.
_boundary: ModuleType | None = None


def span_name(actor: object, message: object) -> str:
    """``"Worker.work"`` for a proxy call or attribute, ``"Worker.on_receive"`` for a plain message."""
    global _boundary
    if _boundary is None:
        from zixir.actors import _pykka

        _boundary = _pykka
    name = f"{type(actor).__name__}.{_boundary.handler_name(message)}"
    kind = type(message)
    if kind not in _boundary.PROXY_TYPES and len(_names) < SPAN_NAMES:
        _names[type(actor), kind] = name
    return name


def receive_in_span(actor: object, context: SpanContext, message: Any, receive: Callable[[Any], Any]) -> Any:
    """Runs ``receive(message)`` in a new span, child of the sender's `context`.

    An exception marks the span ``"error"`` and passes on; the span ends before the
    caller is answered, so a caller that got its answer finds the span exported. The span
    stays current afterwards: the actor loop, whose thread's context this is, clears it
    before it handles an untraced message (so an error report of this message still
    carries its trace), and a traced one replaces it.
    """
    name = _names.get((type(actor), type(message)))
    opened = start_span(span_name(actor, message) if name is None else name, context, None)
    _set_current(opened)
    try:
        return receive(message)
    except BaseException as error:
        opened.record_error(error)
        raise
    finally:
        opened.finish()
