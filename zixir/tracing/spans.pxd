# C types for spans.py when Cython compiles it: a span and the scope that opens it become
# C structs (times as C doubles), and opening and ending a span C calls, so a span on a
# hot path costs no Python frame and no attribute dict. The Python source stays the one
# definition.

cimport cython

from zixir.tracing._context cimport SpanContext

cdef dict _routes


cdef class Span(SpanContext):
    cdef public object _parent
    cdef public object _attributes
    cdef public object _events
    cdef public object name
    cdef public object status
    cdef public object error_type
    cdef public object error_message
    cdef public double start
    cdef public double _started
    cdef public double _end
    cdef public double _duration

    cpdef finish(self)


cdef class _SpanScope:
    cdef object _name
    cdef object _parent
    cdef object _attributes
    cdef object _token
    cdef Span _span


@cython.locals(opened=Span)
cpdef Span start_span(name, SpanContext parent, dict attributes)

@cython.locals(scope=_SpanScope)
cpdef _SpanScope _scope(name, SpanContext parent, dict attributes)
