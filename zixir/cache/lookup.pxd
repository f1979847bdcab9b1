# C types for lookup.py when Cython compiles it: the attributes become struct fields and
# the hot locals typed bytes, so `get` runs without dict lookups or generic calls. The
# Python source stays the one definition.

cimport cython

cdef bytes _STR_TAG, _PLAIN
cdef Py_ssize_t _SHORT_STR, _PLAIN_BODY

cdef class Lookup:
    cdef public object _shared, _env, _db, _entered, _left, _clock, _memory, _memory_lock
    cdef public Py_ssize_t _memory_items, _seen_txn, _hits, _misses
    cdef public bint _closed

    @cython.locals(lkey=bytes, record=bytes, snapshot=Py_ssize_t)
    cpdef get(self, key, default=*)
