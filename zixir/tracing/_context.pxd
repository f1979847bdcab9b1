# C types for _context.py when Cython compiles it: SpanContext becomes a C struct, so that
# `Span` (spans.pxd) extends it with C fields. The Python source stays the one definition.

cdef class SpanContext:
    cdef public object _trace
    cdef public object _span
    cdef public bint sampled
