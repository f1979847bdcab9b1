/* Numeric kernels on contiguous float64 data, shared by every input kind of zixir._engine.
 *
 * Reductions spread element i over lane i % ZX_LANES and combine lanes in lane order, so
 * results are bit-identical whatever the chunking, and equal to the pure-Python twin, which
 * follows the same order. Independent lanes let gcc vectorize at -O3 without
 * -fassociative-math, which would silently break the compensated sums below.
 */
#ifndef ZIXIR_KERNELS_H
#define ZIXIR_KERNELS_H

#include <Python.h>
#include <math.h>
#include <float.h>
#include <string.h>

#define ZX_LANES 16

/* The hot reductions get an AVX2 clone picked at load time (glibc ifunc); lanes are
 * computed alike on every ISA, so results do not depend on the machine. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define ZX_VECTORIZED __attribute__((target_clones("avx2", "default")))
#else
#define ZX_VECTORIZED
#endif

/* ---- reading Python sequences --------------------------------------------------------- */

/* Converts items[0..m) to doubles. Returns -1 when every item converted, the index i of the
 * first item that is not an int or a float, or -2 - i with a Python error set when item i
 * is an int too large for a double. */
static Py_ssize_t zx_load_items(PyObject *const *items, Py_ssize_t m, double *out)
{
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *o = items[i];
        if (PyFloat_CheckExact(o)) {
            out[i] = PyFloat_AS_DOUBLE(o);
        } else if (PyFloat_Check(o)) {
            out[i] = PyFloat_AS_DOUBLE(o);
        } else if (PyLong_Check(o)) {
            double v = PyLong_AsDouble(o);
            if (v == -1.0 && PyErr_Occurred()) return -2 - i;
            out[i] = v;
        } else {
            return i;
        }
    }
    return -1;
}

/* Stores m new float objects into list[start..start+m). Returns -1 on MemoryError. */
static int zx_list_store(PyObject *list, Py_ssize_t start, const double *v, Py_ssize_t m)
{
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *f = PyFloat_FromDouble(v[i]);
        if (f == NULL) return -1;
        PyList_SET_ITEM(list, start + i, f);
    }
    return 0;
}

/* ---- lane reductions ------------------------------------------------------------------ */

static double zx_lanes_total(const double *acc)
{
    double total = acc[0];
    for (int k = 1; k < ZX_LANES; k++) total += acc[k];
    return total;
}

/* acc[k] += a[i] * b[i] for i % ZX_LANES == k (callers feed chunks of multiples of ZX_LANES). */
ZX_VECTORIZED static void zx_dot_feed(double *restrict acc, const double *restrict a,
                        const double *restrict b, Py_ssize_t n)
{
    double lane[ZX_LANES];
    memcpy(lane, acc, sizeof lane);
    Py_ssize_t i = 0;
    for (; i + ZX_LANES <= n; i += ZX_LANES)
        for (int k = 0; k < ZX_LANES; k++) lane[k] += a[i + k] * b[i + k];
    for (int k = 0; i + k < n; k++) lane[k] += a[i + k] * b[i + k];
    memcpy(acc, lane, sizeof lane);
}

/* acc[k] += (x[i] - center)^2, lanes as in zx_dot_feed. */
ZX_VECTORIZED static void zx_sqdev_feed(double *restrict acc, const double *restrict x, Py_ssize_t n,
                          double center)
{
    double lane[ZX_LANES];
    memcpy(lane, acc, sizeof lane);
    Py_ssize_t i = 0;
    for (; i + ZX_LANES <= n; i += ZX_LANES)
        for (int k = 0; k < ZX_LANES; k++) {
            double d = x[i + k] - center;
            lane[k] += d * d;
        }
    for (int k = 0; i + k < n; k++) {
        double d = x[i + k] - center;
        lane[k] += d * d;
    }
    memcpy(acc, lane, sizeof lane);
}

/* ---- scaling (cosine similarity, dot products, deviations) -------------------------------
 * When a plain pass over/underflowed (zx_needs_scaling), the caller finds each vector's
 * largest magnitude and its non-finite elements, then runs again on the values scaled by
 * powers of two (exact), as math.hypot scales before squaring. */
typedef struct {
    double maxabs;
    Py_ssize_t nonfinite;
} zx_range;

static void zx_range_feed(zx_range *r, const double *x, Py_ssize_t n)
{
    double m = r->maxabs;
    Py_ssize_t nonfinite = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double ax = fabs(x[i]);
        nonfinite += !isfinite(ax);
        if (ax > m) m = ax;
    }
    r->maxabs = m;
    r->nonfinite += nonfinite;
}

/* Scaled values have their largest magnitude in [2**479, 2**480): products and squares
 * stay below 2**960, so sums of any length stay finite, and a vector of small values is
 * scaled up, never down, so none of its elements is pushed into the subnormals. */
#define ZX_SCALE_TARGET 480

/* The two powers of two whose product brings maxabs (finite, non-zero) into
 * [2**479, 2**480), applied as (x * s[0]) * s[1]: one factor alone may not exist. */
static void zx_scale_factors(double maxabs, double *s)
{
    int e;
    frexp(maxabs, &e);
    if (ZX_SCALE_TARGET - e <= 1023) {
        s[0] = ldexp(1.0, ZX_SCALE_TARGET - e);
        s[1] = 1.0;
    } else {
        s[0] = ldexp(1.0, 600);
        s[1] = ldexp(1.0, ZX_SCALE_TARGET - e - 600);
    }
}

/* zx_cos_feed with scales of 1.0, which leave the values as they are (the common case);
 * three separate lane passes vectorize better than one with three sets of lanes. */
static void zx_cos_plain_feed(double *ab, double *aa, double *bb, const double *a, const double *b, Py_ssize_t n)
{
    zx_dot_feed(ab, a, b, n);
    zx_dot_feed(aa, a, a, n);
    zx_dot_feed(bb, b, b, n);
}

/* Lanes of a.b, a.a and b.b over the scaled vectors (scales of 1.0 leave them as they are). */
ZX_VECTORIZED static void zx_cos_feed(double *restrict ab, double *restrict aa, double *restrict bb,
                                      const double *restrict a, const double *restrict b, Py_ssize_t n,
                                      const double *sa, const double *sb)
{
    double lab[ZX_LANES], laa[ZX_LANES], lbb[ZX_LANES];
    double a0 = sa[0], a1 = sa[1], b0 = sb[0], b1 = sb[1];
    memcpy(lab, ab, sizeof lab);
    memcpy(laa, aa, sizeof laa);
    memcpy(lbb, bb, sizeof lbb);
    Py_ssize_t i = 0;
#define ZX_COS_STEP(k, j)                   \
    do {                                    \
        double x = (a[j] * a0) * a1;        \
        double y = (b[j] * b0) * b1;        \
        lab[k] += x * y;                    \
        laa[k] += x * x;                    \
        lbb[k] += y * y;                    \
    } while (0)
    for (; i + ZX_LANES <= n; i += ZX_LANES)
        for (int k = 0; k < ZX_LANES; k++) ZX_COS_STEP(k, i + k);
    for (int k = 0; i + k < n; k++) ZX_COS_STEP(k, i + k);
#undef ZX_COS_STEP
    memcpy(ab, lab, sizeof lab);
    memcpy(aa, laa, sizeof laa);
    memcpy(bb, lbb, sizeof lbb);
}

/* zx_sqdev_feed on x scaled as (x * s[0]) * s[1], around a center scaled alike. */
ZX_VECTORIZED static void zx_sqdev_scaled_feed(double *restrict acc, const double *restrict x, Py_ssize_t n,
                                               double center, const double *s)
{
    double lane[ZX_LANES];
    double s0 = s[0], s1 = s[1];
    memcpy(lane, acc, sizeof lane);
    Py_ssize_t i = 0;
    for (; i + ZX_LANES <= n; i += ZX_LANES)
        for (int k = 0; k < ZX_LANES; k++) {
            double d = (x[i + k] * s0) * s1 - center;
            lane[k] += d * d;
        }
    for (int k = 0; i + k < n; k++) {
        double d = (x[i + k] * s0) * s1 - center;
        lane[k] += d * d;
    }
    memcpy(acc, lane, sizeof lane);
}

/* A reduction result that over- or underflow may have spoiled (inf, nan, or so small that
 * rounded-away products could matter): the caller checks again with scaled input. */
static int zx_needs_scaling(double r) { return !(fabs(r) >= 0x1p-968 && fabs(r) <= DBL_MAX); }

/* ---- compensated sum with a certificate ------------------------------------------------
 * Each lane keeps a running sum s, the exact rounding errors of its additions (TwoSum)
 * summed into c, and err = sum |e| which bounds the error made while summing c.
 * zx_sum_result() returns 1 and the correctly rounded total when the bound proves it,
 * 0 when the caller must fall back to exact summation (or on inf/nan). */
typedef struct {
    double s[ZX_LANES];
    double c[ZX_LANES];
    double err[ZX_LANES];
} zx_sum_state;

ZX_VECTORIZED static void zx_sum_feed(zx_sum_state *st, const double *restrict x, Py_ssize_t n)
{
    double s[ZX_LANES], c[ZX_LANES], err[ZX_LANES];
    memcpy(s, st->s, sizeof s);
    memcpy(c, st->c, sizeof c);
    memcpy(err, st->err, sizeof err);
    Py_ssize_t i = 0;
#define ZX_TWO_SUM_STEP(k, v)                        \
    do {                                             \
        double t = s[k] + (v);                       \
        double z = t - s[k];                         \
        double e = (s[k] - (t - z)) + ((v) - z);     \
        s[k] = t;                                    \
        c[k] += e;                                   \
        err[k] += fabs(e);                           \
    } while (0)
    for (; i + ZX_LANES <= n; i += ZX_LANES)
        for (int k = 0; k < ZX_LANES; k++) ZX_TWO_SUM_STEP(k, x[i + k]);
    for (int k = 0; i + k < n; k++) ZX_TWO_SUM_STEP(k, x[i + k]);
#undef ZX_TWO_SUM_STEP
    memcpy(st->s, s, sizeof s);
    memcpy(st->c, c, sizeof c);
    memcpy(st->err, err, sizeof err);
}

static int zx_sum_result(const zx_sum_state *st, Py_ssize_t n, double *out)
{
    /* Fold the lane sums exactly (TwoSum again), collecting every error term into c. */
    double hi = st->s[0], c = st->c[0], err = st->err[0];
    for (int k = 1; k < ZX_LANES; k++) {
        double v = st->s[k];
        double t = hi + v;
        double z = t - hi;
        double e = (hi - (t - z)) + (v - z);
        hi = t;
        c += st->c[k] + e;
        err += st->err[k] + fabs(e);
    }
    double total = hi + c;
    if (!isfinite(total) || !isfinite(err)) return 0;
    double z = total - hi;
    double lo = (hi - (total - z)) + (c - z); /* hi + c == total + lo exactly */
    /* Summing the error terms in floating point is off by at most (#terms) * u * err;
     * double it for the rounding of this estimate itself. */
    double terms = (double)n + 3.0 * ZX_LANES;
    double bound = 2.0 * terms * (DBL_EPSILON / 2.0) * err;
    double below = total - nextafter(total, -INFINITY);
    double above = nextafter(total, INFINITY) - total;
    double half_gap = 0.5 * (below < above ? below : above);
    /* The exact sum lies within |lo| + bound of total; total is its rounding when that is
     * under half the gap to either neighbour (half_gap is a power of two, so the strict
     * comparison stays right after rounding). */
    if (fabs(lo) + bound < half_gap) {
        *out = total;
        return 1;
    }
    return 0;
}

/* ---- element-wise and scans --------------------------------------------------------------- */

enum { ZX_ADD, ZX_SUB, ZX_MUL, ZX_DIV };

static void zx_vec_op(int op, const double *restrict a, const double *restrict b,
                      double *restrict out, Py_ssize_t n)
{
    switch (op) {
    case ZX_ADD: for (Py_ssize_t i = 0; i < n; i++) out[i] = a[i] + b[i]; break;
    case ZX_SUB: for (Py_ssize_t i = 0; i < n; i++) out[i] = a[i] - b[i]; break;
    case ZX_MUL: for (Py_ssize_t i = 0; i < n; i++) out[i] = a[i] * b[i]; break;
    case ZX_DIV: for (Py_ssize_t i = 0; i < n; i++) out[i] = a[i] / b[i]; break;
    }
}

static void zx_scalar_op(int op, const double *restrict a, double v, double *restrict out,
                         Py_ssize_t n)
{
    switch (op) {
    case ZX_ADD: for (Py_ssize_t i = 0; i < n; i++) out[i] = a[i] + v; break;
    case ZX_MUL: for (Py_ssize_t i = 0; i < n; i++) out[i] = a[i] * v; break;
    }
}

/* Sequential product (its order matters for overflow, so no lanes). */
static double zx_product_feed(double acc, const double *x, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) acc *= x[i];
    return acc;
}

/* Running min (sign -1) or max (sign +1); NaN wins, as in numpy. */
static double zx_extreme_feed(double acc, const double *x, Py_ssize_t n, int sign)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(acc)) return acc;
        if (isnan(v) || (sign > 0 ? v > acc : v < acc)) acc = v;
    }
    return acc;
}

static Py_ssize_t zx_filter_gt(const double *restrict x, Py_ssize_t n, double threshold,
                               double *restrict out)
{
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (x[i] > threshold) out[m++] = x[i];
    return m;
}

static Py_ssize_t zx_find(const double *x, Py_ssize_t n, double value)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (x[i] == value) return i;
    return -1;
}

static Py_ssize_t zx_count(const double *x, Py_ssize_t n, double value)
{
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) m += (x[i] == value);
    return m;
}

/* Ascending, NaN last. */
/* ---- moments in one pass ------------------------------------------------------------ */

/* Count, mean, M2 (the sum of squared deviations from the mean), min and max, one block of
 * values at a time: each block's lane sum gives its mean and its squared deviations around
 * that mean its M2 while the block is in L1, then the block merges into the running state
 * (Chan et al.), which stays exact where a sum of squares would cancel. The result depends
 * on the block size, which is fixed (CHUNK), so every input kind and the twin agree. */
typedef struct {
    double n, mean, m2, lo, hi;
} zx_moments;

/* Lane sums, minima and maxima of x[0..n) (n >= 1); *nan is set when a value is nan.
 * Branch-free, so gcc vectorizes it (zx_extreme_feed's early exit on nan does not). */
ZX_VECTORIZED static void zx_sum_range_feed(double *restrict sum, double *restrict lo, double *restrict hi,
                                            int *nan, const double *restrict x, Py_ssize_t n)
{
    double s[ZX_LANES], a[ZX_LANES], b[ZX_LANES];
    int bad = 0;
    for (int k = 0; k < ZX_LANES; k++) {
        s[k] = 0.0;
        a[k] = b[k] = x[0];
    }
    Py_ssize_t i = 0;
    for (; i + ZX_LANES <= n; i += ZX_LANES)
        for (int k = 0; k < ZX_LANES; k++) {
            double v = x[i + k];
            s[k] += v;
            a[k] = v < a[k] ? v : a[k];
            b[k] = v > b[k] ? v : b[k];
            bad |= v != v;
        }
    for (int k = 0; i + k < n; k++) {
        double v = x[i + k];
        s[k] += v;
        a[k] = v < a[k] ? v : a[k];
        b[k] = v > b[k] ? v : b[k];
        bad |= v != v;
    }
    double mn = a[0], mx = b[0];
    for (int k = 1; k < ZX_LANES; k++) {
        mn = a[k] < mn ? a[k] : mn;
        mx = b[k] > mx ? b[k] : mx;
    }
    memcpy(sum, s, sizeof s);
    *lo = mn;
    *hi = mx;
    *nan = bad;
}

static void zx_moments_feed(zx_moments *st, const double *x, Py_ssize_t n)
{
    double acc[ZX_LANES], lo, hi;
    int nan;
    if (n <= 0) return;
    zx_sum_range_feed(acc, &lo, &hi, &nan, x, n);
    double nb = (double)n;
    double mean = zx_lanes_total(acc) / nb;
    memset(acc, 0, sizeof acc);
    zx_sqdev_feed(acc, x, n, mean);
    double m2 = zx_lanes_total(acc);
    if (nan) lo = hi = NAN;
    if (st->n == 0.0) {
        st->n = nb;
        st->mean = mean;
        st->m2 = m2;
        st->lo = lo;
        st->hi = hi;
        return;
    }
    double total = st->n + nb;
    double delta = mean - st->mean;
    st->mean += delta * nb / total;
    st->m2 += m2 + delta * delta * (st->n * nb / total);
    st->n = total;
    if (!isnan(st->lo)) {
        st->lo = isnan(lo) || lo < st->lo ? lo : st->lo;
        st->hi = isnan(hi) || hi > st->hi ? hi : st->hi;
    }
}

static int zx_cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    if (isnan(a)) return isnan(b) ? 0 : 1;
    if (isnan(b)) return -1;
    return (a > b) - (a < b);
}

static void zx_sort(double *x, Py_ssize_t n) { qsort(x, (size_t)n, sizeof(double), zx_cmp_double); }

/* out[rows_a x cols_b] = a[rows_a x inner] @ b[inner x cols_b], row-major. Each out element
 * sums its products in k order, like the naive triple loop, while the j loop vectorizes. */
static void zx_mat_mul(const double *restrict a, const double *restrict b, double *restrict out,
                       Py_ssize_t rows_a, Py_ssize_t inner, Py_ssize_t cols_b)
{
    for (Py_ssize_t i = 0; i < rows_a; i++) {
        double *row = out + i * cols_b;
        for (Py_ssize_t j = 0; j < cols_b; j++) row[j] = 0.0;
        for (Py_ssize_t k = 0; k < inner; k++) {
            double aik = a[i * inner + k];
            const double *brow = b + k * cols_b;
            for (Py_ssize_t j = 0; j < cols_b; j++) row[j] += aik * brow[j];
        }
    }
}

static void zx_transpose(const double *restrict m, double *restrict out, Py_ssize_t rows,
                         Py_ssize_t cols)
{
    for (Py_ssize_t i = 0; i < rows; i++)
        for (Py_ssize_t j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
}

#endif
