# C types for lookup.py when Cython compiles it: the attributes become struct fields and
# the hot locals typed bytes, so `get` runs without dict lookups or generic calls. The
# Python source stays the one definition.

cimport cython

cdef bytes _STR_TAG, _PLAIN
cdef Py_ssize_t _SHORT_STR, _PLAIN_BODY

cdef class Store:
    cdef public object shared, env, db, commits_db, path, clock, memory, memory_lock
    cdef public object entered, left, meta
    cdef public Py_ssize_t memory_items, seen_txn, hits, misses, meta_first, meta_second
    cdef public bint closed, durable
    cdef object __weakref__


cdef class Lookup:
    cdef public Store _store

    @cython.locals(lkey=bytes, record=bytes, kept=bytes, snapshot=Py_ssize_t, store=Store)
    cpdef get(self, key, default=*)
