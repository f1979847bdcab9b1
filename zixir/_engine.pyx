# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled engine kernels; `zixir.engine` documents the operations.

Lists and tuples are read item by item in small chunks (no refcount traffic, no full
conversion); float64 buffers are read in place with the GIL released.

No pointer into a list outlives a chunk: every chunk takes the list's item array and size
afresh and converts its items without running any Python code, so nothing that runs between
chunks (another thread, a finalizer, code run by another argument) can leave a dangling
pointer; a list whose size changed is an error.
"""

from libc.math cimport frexp, isfinite, ldexp, sqrt
from libc.string cimport memcpy, memset, strcmp
from cpython cimport array
from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBuffer_Release,
    PyObject_CheckBuffer,
    PyObject_GetBuffer,
)
from cpython.exc cimport PyErr_Clear
from cpython.list cimport PyList_New
from cpython.ref cimport PyObject

import sys

from zixir._engine_common import (
    CHUNK as COMMON_CHUNK,
    LANES,
    as_buffer,
    as_sequence,
    changed_size,
    check_ddof,
    check_matrix,
    dimension,
    empty_input,
    exact_mean,
    exact_sum,
    length_mismatch,
    like_input,
    not_numeric,
    number,
    too_large,
)
from zixir.errors import ZeroVectorError

cdef extern from "Python.h":
    PyObject** PySequence_Fast_ITEMS(object)
    Py_ssize_t Py_SIZE(object)

cdef extern from "_kernels.h":
    Py_ssize_t zx_load_items(PyObject** items, Py_ssize_t m, double* out)
    int zx_list_store(object lst, Py_ssize_t start, const double* v, Py_ssize_t m) except -1

cdef extern from "_kernels.h" nogil:
    enum: ZX_LANES
    enum: ZX_ADD, ZX_SUB, ZX_MUL, ZX_DIV
    ctypedef struct zx_sum_state:
        pass
    ctypedef struct zx_range:
        double maxabs
        Py_ssize_t nonfinite
    void zx_range_feed(zx_range* r, const double* x, Py_ssize_t n)
    void zx_scale_factors(double maxabs, double* s)
    int ZX_SCALE_TARGET
    void zx_cos_feed(double* ab, double* aa, double* bb, const double* a, const double* b,
                     Py_ssize_t n, const double* sa, const double* sb)
    void zx_cos_plain_feed(double* ab, double* aa, double* bb, const double* a, const double* b,
                           Py_ssize_t n)
    void zx_sqdev_scaled_feed(double* acc, const double* x, Py_ssize_t n, double center, const double* s)
    int zx_needs_scaling(double r)
    double zx_lanes_total(const double* acc)
    void zx_dot_feed(double* acc, const double* a, const double* b, Py_ssize_t n)
    void zx_sqdev_feed(double* acc, const double* x, Py_ssize_t n, double center)
    void zx_sum_feed(zx_sum_state* st, const double* x, Py_ssize_t n)
    int zx_sum_result(const zx_sum_state* st, Py_ssize_t n, double* out)
    void zx_vec_op(int op, const double* a, const double* b, double* out, Py_ssize_t n)
    void zx_scalar_op(int op, const double* a, double v, double* out, Py_ssize_t n)
    double zx_product_feed(double acc, const double* x, Py_ssize_t n)
    double zx_extreme_feed(double acc, const double* x, Py_ssize_t n, int sign)
    Py_ssize_t zx_filter_gt(const double* x, Py_ssize_t n, double threshold, double* out)
    Py_ssize_t zx_find(const double* x, Py_ssize_t n, double value)
    Py_ssize_t zx_count(const double* x, Py_ssize_t n, double value)
    void zx_sort(double* x, Py_ssize_t n)
    ctypedef struct zx_moments:
        double n, mean, m2, lo, hi
    void zx_moments_feed(zx_moments* st, const double* x, Py_ssize_t n)
    void zx_mat_mul(const double* a, const double* b, double* out,
                    Py_ssize_t rows_a, Py_ssize_t inner, Py_ssize_t cols_b)
    void zx_transpose(const double* m, double* out, Py_ssize_t rows, Py_ssize_t cols)

assert LANES == ZX_LANES, "zixir._engine_common.LANES must equal ZX_LANES"

cdef enum:
    CHUNK = 128          # items staged per step when reading a list: stays in L1
    NOGIL_FROM = 4096     # below this, releasing the GIL costs more than it frees

assert CHUNK == COMMON_CHUNK, "zixir._engine_common.CHUNK must equal CHUNK"

cdef array.array _DOUBLES = array.array("d")
cdef bytes _NATIVE_DOUBLE = b"<d" if sys.byteorder == "little" else b">d"


cdef class _Vec:
    """One numeric input: a list/tuple read in chunks, or a float64 buffer read in place."""

    cdef str op, arg
    cdef object source          # what the caller passed (decides the result's kind)
    cdef object seq             # the exact list or tuple, when not a buffer
    cdef object buffer          # the float64 buffer object, when a buffer
    cdef Py_buffer view         # held while the _Vec lives, so the data cannot move
    cdef bint has_view
    cdef const double* data
    cdef bint is_buffer
    cdef Py_ssize_t n

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef bint take_float64_buffer(self, object value) except -1:
        """Holds value's buffer if it is contiguous, one-dimensional float64; else False."""
        try:
            PyObject_GetBuffer(value, &self.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        except (BufferError, TypeError, ValueError):
            return False
        self.has_view = True
        cdef const char* fmt = self.view.format
        if (self.view.ndim != 1 or self.view.itemsize != 8 or not (
                strcmp(fmt, b"d") == 0 or strcmp(fmt, b"=d") == 0 or strcmp(fmt, b"@d") == 0
                or strcmp(fmt, _NATIVE_DOUBLE) == 0)):
            PyBuffer_Release(&self.view)
            self.has_view = False
            return False
        self.buffer = value
        self.is_buffer = True
        self.n = self.view.shape[0]
        self.data = <const double*>self.view.buf
        return True

    cdef Py_ssize_t size(self) except -1:
        """Fixes n once every argument is taken: code they ran may have resized a list."""
        if not self.is_buffer:
            self.n = Py_SIZE(self.seq)
        return self.n

    cdef const double* chunk(self, Py_ssize_t start, Py_ssize_t m, double* buf) except NULL:
        """Returns m values from `start`: in place for buffers, converted into buf for lists.

        The item array is taken here, after the size check, and read without running any
        Python code (exact float and int reads only), so it cannot move while it is read.
        """
        if self.is_buffer:
            return self.data + start
        if Py_SIZE(self.seq) != self.n:
            raise changed_size(self.op, self.arg, self.n, Py_SIZE(self.seq))
        cdef Py_ssize_t bad = zx_load_items(PySequence_Fast_ITEMS(self.seq) + start, m, buf)
        if bad == -1:
            return buf
        if bad <= -2:
            PyErr_Clear()
            raise too_large(self.op, self.arg, start - 2 - bad)
        raise not_numeric(self.op, self.arg, start + bad, self.seq[start + bad])

    cdef object values(self):
        """The input as float64 values (for the exact fallbacks), read as the kernels read it."""
        return memoryview(self.buffer) if self.is_buffer else memoryview(_gather(self))

    cdef object result(self, array.array out):
        """Returns a vector result in this input's kind."""
        return like_input(self.source, out) if self.is_buffer else out.tolist()


cdef _Vec _vec(str op, str arg, object value):
    cdef _Vec v = _Vec.__new__(_Vec)
    v.op = op
    v.arg = arg
    v.source = value
    if type(value) is list or type(value) is tuple:
        return _from_sequence(v, value)
    if PyObject_CheckBuffer(value) and v.take_float64_buffer(value):
        return v
    seq = as_sequence(op, arg, value)  # exact list or tuple, or None for a buffer
    if seq is not None:
        return _from_sequence(v, seq)
    v.take_float64_buffer(as_buffer(op, arg, value))  # copies strided data, explains refusals
    return v


cdef _Vec _from_sequence(_Vec v, object seq):
    v.seq = seq
    v.n = Py_SIZE(seq)
    return v


cdef int _same_length(str op, _Vec a, _Vec b) except -1:
    """Fixes both sizes (every argument is taken by now) and checks that they agree."""
    if a.size() != b.size():
        raise length_mismatch(op, a.n, b.n)
    return 0


cdef inline bint _nogil(_Vec v):
    return v.is_buffer and v.n >= NOGIL_FROM


cdef array.array _gather(_Vec v):
    """A new array('d') holding every value of v."""
    cdef array.array out = array.clone(_DOUBLES, v.n, False)
    cdef Py_ssize_t start, m
    cdef const double* src
    for start in range(0, v.n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, v.n - start)
        src = v.chunk(start, m, out.data.as_doubles + start)
        if src != out.data.as_doubles + start:
            memcpy(out.data.as_doubles + start, src, m * sizeof(double))
    return out


# ---- reductions ------------------------------------------------------------------------------

cdef double _dot(_Vec a, _Vec b) except? -1.0:
    cdef double acc[ZX_LANES]
    cdef double buf_a[CHUNK]
    cdef double buf_b[CHUNK]
    cdef Py_ssize_t start, m, n = a.n
    memset(acc, 0, sizeof(acc))
    if _nogil(a) and _nogil(b):
        with nogil:
            zx_dot_feed(acc, a.data, b.data, n)
    else:
        for start in range(0, n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, n - start)
            zx_dot_feed(acc, a.chunk(start, m, buf_a), b.chunk(start, m, buf_b), m)
    return zx_lanes_total(acc)


cdef double _sum(_Vec v) except? -1.0:
    cdef zx_sum_state state
    cdef double buf[CHUNK]
    cdef double total
    cdef Py_ssize_t start, m, n = v.n
    memset(&state, 0, sizeof(state))
    if _nogil(v):
        with nogil:
            zx_sum_feed(&state, v.data, n)
    else:
        for start in range(0, n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, n - start)
            zx_sum_feed(&state, v.chunk(start, m, buf), m)
    if zx_sum_result(&state, n, &total):
        return total
    return exact_sum(v.values())


cdef double _mean(_Vec v) except? -1.0:
    if v.n == 0:
        raise empty_input(v.op)
    cdef double total = _sum(v)
    if isfinite(total):
        return total / v.n
    return exact_mean(v.values(), v.n)


cdef double _extreme(_Vec v, int sign) except? -1.0:
    cdef double buf[CHUNK]
    cdef double acc = 0.0
    cdef const double* x
    cdef Py_ssize_t start, m
    if v.n == 0:
        raise empty_input(v.op)
    for start in range(0, v.n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, v.n - start)
        x = v.chunk(start, m, buf)
        if start == 0:
            acc = x[0]
        acc = zx_extreme_feed(acc, x, m, sign)
    return acc


def list_sum(xs):
    return _sum(_vec("list_sum", "xs", xs))


def list_product(xs):
    cdef _Vec v = _vec("list_product", "xs", xs)
    cdef double buf[CHUNK]
    cdef double acc = 1.0
    cdef Py_ssize_t start, m
    for start in range(0, v.n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, v.n - start)
        acc = zx_product_feed(acc, v.chunk(start, m, buf), m)
    return acc


def list_mean(xs):
    return _mean(_vec("list_mean", "xs", xs))


def list_min(xs):
    return _extreme(_vec("list_min", "xs", xs), -1)


def list_max(xs):
    return _extreme(_vec("list_max", "xs", xs), 1)


cdef double _variance(str op, object xs, object ddof, int* exponent) except? -1.0:
    """The variance as v * 2**(2 * exponent[0]): scaled when squares could overflow or vanish."""
    cdef _Vec v = _vec(op, "xs", xs)
    cdef Py_ssize_t dof = check_ddof(op, v.size(), ddof)
    cdef double center = _mean(v)
    cdef double acc[ZX_LANES]
    cdef double buf[CHUNK]
    cdef double scale[2]
    cdef double fast
    cdef zx_range r
    cdef Py_ssize_t start, m
    cdef int e
    exponent[0] = 0
    memset(acc, 0, sizeof(acc))
    if _nogil(v):
        with nogil:
            zx_sqdev_feed(acc, v.data, v.n, center)
    else:
        for start in range(0, v.n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, v.n - start)
            zx_sqdev_feed(acc, v.chunk(start, m, buf), m, center)
    fast = zx_lanes_total(acc) / (v.n - dof)
    if not zx_needs_scaling(fast):
        return fast
    _range(v, &r)
    if r.nonfinite or r.maxabs == 0.0:
        return fast
    zx_scale_factors(r.maxabs, scale)
    frexp(r.maxabs, &e)
    center = (center * scale[0]) * scale[1]
    memset(acc, 0, sizeof(acc))
    if _nogil(v):
        with nogil:
            zx_sqdev_scaled_feed(acc, v.data, v.n, center, scale)
    else:
        for start in range(0, v.n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, v.n - start)
            zx_sqdev_scaled_feed(acc, v.chunk(start, m, buf), m, center, scale)
    exponent[0] = e - ZX_SCALE_TARGET
    return zx_lanes_total(acc) / (v.n - dof)


def list_variance(xs, ddof=0):
    cdef int e
    cdef double scaled = _variance("list_variance", xs, ddof, &e)
    return ldexp(scaled, 2 * e)


def list_std(xs, ddof=0):
    cdef int e
    cdef double scaled = _variance("list_std", xs, ddof, &e)
    return ldexp(sqrt(scaled), e)


def dot_product(a, b):
    cdef _Vec va = _vec("dot_product", "a", a), vb = _vec("dot_product", "b", b)
    _same_length("dot_product", va, vb)
    cdef double fast = _dot(va, vb)
    cdef double ab[ZX_LANES]
    cdef double aa[ZX_LANES]
    cdef double bb[ZX_LANES]
    cdef double sa[2]
    cdef double sb[2]
    cdef zx_range ra, rb
    cdef int ea, eb
    if not zx_needs_scaling(fast):
        return fast
    # Overflowed products (1e200 * 1e200 - 1e200 * 1e200 is 0, not nan) or underflowed ones:
    # again on both vectors scaled by powers of two, scaled back at the end.
    _range(va, &ra)
    _range(vb, &rb)
    if ra.nonfinite or rb.nonfinite or ra.maxabs == 0.0 or rb.maxabs == 0.0:
        return fast
    zx_scale_factors(ra.maxabs, sa)
    zx_scale_factors(rb.maxabs, sb)
    _pair_lanes(va, vb, sa, sb, ab, aa, bb)
    frexp(ra.maxabs, &ea)
    frexp(rb.maxabs, &eb)
    return ldexp(zx_lanes_total(ab), ea + eb - 2 * ZX_SCALE_TARGET)


cdef int _range(_Vec v, zx_range* r) except -1:
    """One pass: v's largest magnitude, its non-finite and its out-of-safe-range elements."""
    cdef double buf[CHUNK]
    cdef Py_ssize_t start, m, n = v.n
    memset(r, 0, sizeof(zx_range))
    if _nogil(v):
        with nogil:
            zx_range_feed(r, v.data, n)
    else:
        for start in range(0, n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, n - start)
            zx_range_feed(r, v.chunk(start, m, buf), m)
    return 0


cdef int _pair_lanes(_Vec a, _Vec b, const double* sa, const double* sb,
                     double* ab, double* aa, double* bb) except -1:
    """The lanes of a.b, a.a and b.b over a and b scaled by sa and sb (see zx_cos_feed)."""
    cdef double buf_a[CHUNK]
    cdef double buf_b[CHUNK]
    cdef Py_ssize_t start, m, n = a.n
    memset(ab, 0, ZX_LANES * sizeof(double))
    memset(aa, 0, ZX_LANES * sizeof(double))
    memset(bb, 0, ZX_LANES * sizeof(double))
    if _nogil(a) and _nogil(b):
        with nogil:
            zx_cos_feed(ab, aa, bb, a.data, b.data, n, sa, sb)
    else:
        for start in range(0, n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, n - start)
            zx_cos_feed(ab, aa, bb, a.chunk(start, m, buf_a), b.chunk(start, m, buf_b), m, sa, sb)
    return 0


cdef object _cosine(_Vec a, _Vec b):
    cdef double ab[ZX_LANES]
    cdef double aa[ZX_LANES]
    cdef double bb[ZX_LANES]
    cdef double buf_a[CHUNK]
    cdef double buf_b[CHUNK]
    cdef double sa[2]
    cdef double sb[2]
    cdef zx_range ra, rb
    cdef Py_ssize_t start, m, n = a.n
    cdef double cosine
    memset(ab, 0, sizeof(ab))
    memset(aa, 0, sizeof(aa))
    memset(bb, 0, sizeof(bb))
    if _nogil(a) and _nogil(b):
        with nogil:
            zx_cos_plain_feed(ab, aa, bb, a.data, b.data, n)
    else:
        for start in range(0, n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, n - start)
            zx_cos_plain_feed(ab, aa, bb, a.chunk(start, m, buf_a), b.chunk(start, m, buf_b), m)
    if (zx_needs_scaling(zx_lanes_total(ab)) or zx_needs_scaling(zx_lanes_total(aa))
            or zx_needs_scaling(zx_lanes_total(bb))):
        # Overflow, or products too small to trust: look at the magnitudes, then scale.
        _range(a, &ra)
        _range(b, &rb)
        if ra.maxabs == 0.0 and ra.nonfinite == 0:
            raise _zero_vector("a")
        if rb.maxabs == 0.0 and rb.nonfinite == 0:
            raise _zero_vector("b")
        if ra.nonfinite or rb.nonfinite:
            return float("nan")
        zx_scale_factors(ra.maxabs, sa)
        zx_scale_factors(rb.maxabs, sb)
        _pair_lanes(a, b, sa, sb, ab, aa, bb)
    cosine = zx_lanes_total(ab) / (sqrt(zx_lanes_total(aa)) * sqrt(zx_lanes_total(bb)))
    return min(1.0, max(-1.0, cosine))


cdef object _zero_vector(str name):
    return ZeroVectorError(
        f"cosine_similarity: {name} is a zero vector, so its direction (and the similarity) is undefined"
    )


def cosine_similarity(a, b):
    cdef _Vec va = _vec("cosine_similarity", "a", a), vb = _vec("cosine_similarity", "b", b)
    _same_length("cosine_similarity", va, vb)
    return _cosine(va, vb)


# ---- element-wise ------------------------------------------------------------------------------

cdef object _vec_op(str op, int code, object a, object b):
    cdef _Vec va = _vec(op, "a", a), vb = _vec(op, "b", b)
    _same_length(op, va, vb)
    cdef double buf_a[CHUNK]
    cdef double buf_b[CHUNK]
    cdef double out[CHUNK]
    cdef array.array result
    cdef Py_ssize_t start, m, n = va.n
    if va.is_buffer:
        result = array.clone(_DOUBLES, n, False)
        if _nogil(va) and _nogil(vb):
            with nogil:
                zx_vec_op(code, va.data, vb.data, result.data.as_doubles, n)
        else:
            for start in range(0, n, CHUNK):
                m = min(<Py_ssize_t>CHUNK, n - start)
                zx_vec_op(code, va.chunk(start, m, buf_a), vb.chunk(start, m, buf_b),
                          result.data.as_doubles + start, m)
        return like_input(a, result)
    items = PyList_New(n)
    for start in range(0, n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, n - start)
        zx_vec_op(code, va.chunk(start, m, buf_a), vb.chunk(start, m, buf_b), out, m)
        zx_list_store(items, start, out, m)
    return items


cdef object _scalar_op(str op, str arg, int code, object xs, object scalar):
    cdef _Vec v = _vec(op, "xs", xs)
    cdef double value = number(op, arg, scalar)
    v.size()
    cdef double buf[CHUNK]
    cdef double out[CHUNK]
    cdef array.array result
    cdef Py_ssize_t start, m, n = v.n
    if v.is_buffer:
        result = array.clone(_DOUBLES, n, False)
        if _nogil(v):
            with nogil:
                zx_scalar_op(code, v.data, value, result.data.as_doubles, n)
        else:
            zx_scalar_op(code, v.data, value, result.data.as_doubles, n)
        return like_input(xs, result)
    items = PyList_New(n)
    for start in range(0, n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, n - start)
        zx_scalar_op(code, v.chunk(start, m, buf), value, out, m)
        zx_list_store(items, start, out, m)
    return items


def vec_add(a, b):
    return _vec_op("vec_add", ZX_ADD, a, b)


def vec_sub(a, b):
    return _vec_op("vec_sub", ZX_SUB, a, b)


def vec_mul(a, b):
    return _vec_op("vec_mul", ZX_MUL, a, b)


def vec_div(a, b):
    return _vec_op("vec_div", ZX_DIV, a, b)


def vec_scale(xs, scalar):
    return _scalar_op("vec_scale", "scalar", ZX_MUL, xs, scalar)


def map_add(xs, value):
    return _scalar_op("map_add", "value", ZX_ADD, xs, value)


def map_mul(xs, value):
    return _scalar_op("map_mul", "value", ZX_MUL, xs, value)


# ---- scans, sorting, matrices ------------------------------------------------------------------

def filter_gt(xs, threshold):
    cdef _Vec v = _vec("filter_gt", "xs", xs)
    cdef double limit = number("filter_gt", "threshold", threshold)
    v.size()
    cdef double buf[CHUNK]
    cdef array.array result = array.clone(_DOUBLES, v.n, False)
    cdef Py_ssize_t start, m, kept = 0
    for start in range(0, v.n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, v.n - start)
        kept += zx_filter_gt(v.chunk(start, m, buf), m, limit, result.data.as_doubles + kept)
    array.resize(result, kept)
    return v.result(result)


def find_index(xs, value):
    cdef _Vec v = _vec("find_index", "xs", xs)
    cdef double target = number("find_index", "value", value)
    v.size()
    cdef double buf[CHUNK]
    cdef Py_ssize_t start, m, hit, found = -1
    # Every chunk is read even after a hit, so bad elements fail alike in both engines.
    for start in range(0, v.n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, v.n - start)
        hit = zx_find(v.chunk(start, m, buf), m, target)
        if found == -1 and hit != -1:
            found = start + hit
    return found


def list_moments(xs):
    cdef _Vec v = _vec("list_moments", "xs", xs)
    cdef zx_moments st
    cdef double buf[CHUNK]
    cdef Py_ssize_t start, m, n = v.size()
    if n == 0:
        raise empty_input(v.op)
    memset(&st, 0, sizeof(st))
    cdef const double* data = v.data
    if _nogil(v):
        with nogil:
            start = 0
            while start < n:
                m = CHUNK if n - start > CHUNK else n - start
                zx_moments_feed(&st, data + start, m)
                start += m
    else:
        for start in range(0, n, CHUNK):
            m = min(<Py_ssize_t>CHUNK, n - start)
            zx_moments_feed(&st, v.chunk(start, m, buf), m)
    return (n, st.mean, st.m2, st.lo, st.hi)


def count_value(xs, value):
    cdef _Vec v = _vec("count_value", "xs", xs)
    cdef double target = number("count_value", "value", value)
    v.size()
    cdef double buf[CHUNK]
    cdef Py_ssize_t start, m, count = 0
    for start in range(0, v.n, CHUNK):
        m = min(<Py_ssize_t>CHUNK, v.n - start)
        count += zx_count(v.chunk(start, m, buf), m, target)
    return count


def sort_asc(xs):
    cdef _Vec v = _vec("sort_asc", "xs", xs)
    cdef array.array result = _gather(v)
    cdef Py_ssize_t n = v.n
    with nogil:
        zx_sort(result.data.as_doubles, n)
    return v.result(result)


def mat_mul(a, b, a_rows, a_cols, b_cols):
    cdef _Vec va = _vec("mat_mul", "a", a)
    cdef _Vec vb = _vec("mat_mul", "b", b)
    a_rows, a_cols = dimension("mat_mul", "a_rows", a_rows), dimension("mat_mul", "a_cols", a_cols)
    b_cols = dimension("mat_mul", "b_cols", b_cols)
    rows, inner = check_matrix("mat_mul", "a", va.size(), ("a_rows", a_rows), ("a_cols", a_cols))
    _, cols = check_matrix("mat_mul", "b", vb.size(), ("a_cols", inner), ("b_cols", b_cols))
    cdef array.array left = _gather(va), right = _gather(vb)
    cdef array.array result = array.clone(_DOUBLES, rows * cols, False)
    cdef Py_ssize_t r = rows, k = inner, c = cols
    with nogil:
        zx_mat_mul(left.data.as_doubles, right.data.as_doubles, result.data.as_doubles, r, k, c)
    return va.result(result)


def mat_transpose(m, rows, cols):
    cdef _Vec v = _vec("mat_transpose", "m", m)
    rows, cols = dimension("mat_transpose", "rows", rows), dimension("mat_transpose", "cols", cols)
    r, c = check_matrix("mat_transpose", "m", v.size(), ("rows", rows), ("cols", cols))
    cdef array.array source = _gather(v)
    cdef array.array result = array.clone(_DOUBLES, v.n, False)
    cdef Py_ssize_t nr = r, nc = c
    with nogil:
        zx_transpose(source.data.as_doubles, result.data.as_doubles, nr, nc)
    return v.result(result)
