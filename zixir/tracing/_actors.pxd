# C types for _actors.py when Cython compiles it: the span a traced message is handled
# in is opened and ended with C calls into spans. The Python source stays the one definition.

cimport cython

from zixir.tracing._context cimport SpanContext
from zixir.tracing.spans cimport Span, start_span


@cython.locals(opened=Span)
cpdef receive_in_span(actor, SpanContext context, message, receive)
