/* MinHash kernels: the C twins of dedupe.core.minhash (signatures, signatures of distinct
 * shingles, band keys, LSH candidate pairs) and dedupe.core.shingle (shingle hashes).
 *
 * Every function computes exactly what its numpy twin computes (tests compare the two on
 * hypothesis inputs): uint32 arithmetic wraps mod 2**32 and uint64 arithmetic mod 2**64, as
 * numpy's does. Arrays come in through the buffer protocol (C-contiguous, item sizes checked);
 * results go into arrays the Python side preallocates. Lengths and offsets are validated before
 * any read or write: a bad argument raises ValueError. No global mutable state; the GIL is
 * released while the loops run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The permutation loop is the hot one: on x86-64 Linux with GCC, compile it twice (AVX2 and the
 * baseline; glibc's ifunc) and let the loader pick at run time (the baseline x86-64 has no 32-bit vector
 * multiply or unsigned min, so the AVX2 clone is several times faster). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define DD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DD_CLONES
#endif

static inline uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6BU;
    h ^= h >> 13;
    h *= 0xC2B2AE35U;
    return h ^ (h >> 16);
}

#include "dd_hash.h" /* fmix64 */

/* ---- buffers ---------------------------------------------------------------------------- */

/* kind: 'u' unsigned integers, 's' signed integers, 'i' either; native byte order only */
static int int_format(const char *fmt, char kind)
{
    const uint16_t one = 1;
    const char native = *(const uint8_t *)&one ? '<' : '>';
    if (fmt == NULL)
        fmt = "B";
    if (*fmt == '@' || *fmt == '=' || *fmt == native)
        fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0')
        return 0;
    int is_u = strchr("BHILQN", fmt[0]) != NULL, is_s = strchr("bhilqn", fmt[0]) != NULL;
    return kind == 'u' ? is_u : kind == 's' ? is_s : (is_u || is_s);
}

static int get_buf(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, char kind, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (view->itemsize != itemsize || view->len % itemsize != 0 || !int_format(view->format, kind)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %s integers of %zd bytes, got format '%s' (%zd bytes)", name,
                     kind == 'u' ? "unsigned" : kind == 's' ? "signed" : "native", itemsize,
                     view->format ? view->format : "B", view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    if ((uintptr_t)view->buf % (uintptr_t)itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer is not aligned to its %zd-byte items", name, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#define NITEMS(v) ((v).len / (v).itemsize)

/* offsets: n + 1 int64 values, 0 <= off[0] <= ... <= off[n] <= limit */
static int check_offsets(const int64_t *off, Py_ssize_t n_off, Py_ssize_t limit, const char *name)
{
    if (n_off < 1) {
        PyErr_Format(PyExc_ValueError, "%s: need at least one offset", name);
        return -1;
    }
    if (off[0] < 0) {
        PyErr_Format(PyExc_ValueError, "%s: negative offset", name);
        return -1;
    }
    for (Py_ssize_t i = 1; i < n_off; i++) {
        if (off[i] < off[i - 1]) {
            PyErr_Format(PyExc_ValueError, "%s: offsets must not decrease", name);
            return -1;
        }
    }
    if (off[n_off - 1] > (int64_t)limit) {
        PyErr_Format(PyExc_ValueError, "%s: last offset %lld is past the end (%zd)", name, (long long)off[n_off - 1], limit);
        return -1;
    }
    return 0;
}

/* ---- the permutation minimum ------------------------------------------------------------ */

/* row[p] = min(row[p], min over x in xs of a[p] * x + b[p]) for already-mixed values xs.
 * Four values per pass over the row: a, b and row are read once per four shingles. */
DD_CLONES
static void perm_min(uint32_t *restrict row, const uint32_t *restrict a, const uint32_t *restrict b,
                     Py_ssize_t num_perm, const uint32_t *restrict xs, Py_ssize_t n)
{
    Py_ssize_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint32_t x0 = xs[j], x1 = xs[j + 1], x2 = xs[j + 2], x3 = xs[j + 3];
        for (Py_ssize_t p = 0; p < num_perm; p++) {
            const uint32_t ap = a[p], bp = b[p];
            uint32_t v0 = ap * x0 + bp, v1 = ap * x1 + bp, v2 = ap * x2 + bp, v3 = ap * x3 + bp;
            uint32_t m01 = v0 < v1 ? v0 : v1;
            uint32_t m23 = v2 < v3 ? v2 : v3;
            uint32_t m = m01 < m23 ? m01 : m23;
            uint32_t r = row[p];
            row[p] = m < r ? m : r;
        }
    }
    for (; j < n; j++) {
        const uint32_t x = xs[j];
        for (Py_ssize_t p = 0; p < num_perm; p++) {
            uint32_t v = a[p] * x + b[p];
            uint32_t r = row[p];
            row[p] = v < r ? v : r;
        }
    }
}

#define MIX_BLOCK 256

/* signature of one set of raw 32-bit hashes (mixed here, in blocks) */
static void sig_of_raw(uint32_t *row, const uint32_t *a, const uint32_t *b, Py_ssize_t num_perm,
                       const uint32_t *h, Py_ssize_t n)
{
    uint32_t mixed[MIX_BLOCK];
    for (Py_ssize_t p = 0; p < num_perm; p++)
        row[p] = 0xFFFFFFFFU;
    for (Py_ssize_t lo = 0; lo < n; lo += MIX_BLOCK) {
        Py_ssize_t m = n - lo < MIX_BLOCK ? n - lo : MIX_BLOCK;
        for (Py_ssize_t j = 0; j < m; j++)
            mixed[j] = fmix32(h[lo + j]);
        perm_min(row, a, b, num_perm, mixed, m);
    }
}

static int get_perms(PyObject *a_obj, PyObject *b_obj, Py_buffer *a, Py_buffer *b, Py_ssize_t *num_perm)
{
    if (get_buf(a_obj, a, 4, 'u', 0, "a") < 0)
        return -1;
    if (get_buf(b_obj, b, 4, 'u', 0, "b") < 0) {
        PyBuffer_Release(a);
        return -1;
    }
    if (NITEMS(*a) != NITEMS(*b)) {
        PyErr_SetString(PyExc_ValueError, "a and b: different lengths");
        PyBuffer_Release(a);
        PyBuffer_Release(b);
        return -1;
    }
    *num_perm = NITEMS(*a);
    return 0;
}

PyDoc_STRVAR(signatures_doc,
"signatures(hash32, offsets, a, b, out) -> None\n\n"
"MinHash of many sets: set i is hash32[offsets[i]:offsets[i+1]] (uint32), offsets int64;\n"
"a, b: uint32 permutation parameters (num_perm each); out: writable uint32 of\n"
"(len(offsets) - 1) * num_perm, row i = min over the set of a * fmix32(h) + b (mod 2**32),\n"
"0xFFFFFFFF for an empty set.");

static PyObject *py_signatures(PyObject *self, PyObject *args)
{
    PyObject *h_obj, *off_obj, *a_obj, *b_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOOOO:signatures", &h_obj, &off_obj, &a_obj, &b_obj, &out_obj))
        return NULL;
    Py_buffer h, off, a, b, out;
    Py_ssize_t num_perm;
    if (get_buf(h_obj, &h, 4, 'u', 0, "hash32") < 0)
        return NULL;
    if (get_buf(off_obj, &off, 8, 's', 0, "offsets") < 0)
        goto fail_h;
    if (get_perms(a_obj, b_obj, &a, &b, &num_perm) < 0)
        goto fail_off;
    if (get_buf(out_obj, &out, 4, 'u', 1, "out") < 0)
        goto fail_ab;
    const int64_t *o = (const int64_t *)off.buf;
    Py_ssize_t n_off = NITEMS(off);
    if (check_offsets(o, n_off, NITEMS(h), "offsets") < 0)
        goto fail_out;
    Py_ssize_t n_sets = n_off - 1;
    if (NITEMS(out) != n_sets * num_perm) {
        PyErr_SetString(PyExc_ValueError, "out: expected (len(offsets) - 1) * num_perm items");
        goto fail_out;
    }
    {
        const uint32_t *hv = (const uint32_t *)h.buf, *av = (const uint32_t *)a.buf, *bv = (const uint32_t *)b.buf;
        uint32_t *ov = (uint32_t *)out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n_sets; i++)
            sig_of_raw(ov + i * num_perm, av, bv, num_perm, hv + o[i], (Py_ssize_t)(o[i + 1] - o[i]));
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&off);
    PyBuffer_Release(&h);
    Py_RETURN_NONE;
fail_out:
    PyBuffer_Release(&out);
fail_ab:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
fail_off:
    PyBuffer_Release(&off);
fail_h:
    PyBuffer_Release(&h);
    return NULL;
}

PyDoc_STRVAR(signatures_distinct_doc,
"signatures_distinct(hash64, offsets, a, b, out, counts) -> None\n\n"
"As signatures() on the 32-bit input hashes hash64 >> 32 (hash64: uint64 shingle hashes),\n"
"and counts[i] (writable int64, len(offsets) - 1) = the number of distinct 32-bit hashes of\n"
"set i. Duplicates are dropped before the permutations (the minimum does not change).");

static PyObject *py_signatures_distinct(PyObject *self, PyObject *args)
{
    PyObject *h_obj, *off_obj, *a_obj, *b_obj, *out_obj, *cnt_obj;
    if (!PyArg_ParseTuple(args, "OOOOOO:signatures_distinct", &h_obj, &off_obj, &a_obj, &b_obj, &out_obj, &cnt_obj))
        return NULL;
    Py_buffer h, off, a, b, out, cnt;
    Py_ssize_t num_perm;
    uint64_t *table = NULL;
    uint32_t *uniq = NULL;
    if (get_buf(h_obj, &h, 8, 'u', 0, "hash64") < 0)
        return NULL;
    if (get_buf(off_obj, &off, 8, 's', 0, "offsets") < 0)
        goto fail_h;
    if (get_perms(a_obj, b_obj, &a, &b, &num_perm) < 0)
        goto fail_off;
    if (get_buf(out_obj, &out, 4, 'u', 1, "out") < 0)
        goto fail_ab;
    if (get_buf(cnt_obj, &cnt, 8, 's', 1, "counts") < 0)
        goto fail_out;
    const int64_t *o = (const int64_t *)off.buf;
    Py_ssize_t n_off = NITEMS(off);
    if (check_offsets(o, n_off, NITEMS(h), "offsets") < 0)
        goto fail_cnt;
    Py_ssize_t n_sets = n_off - 1;
    if (NITEMS(out) != n_sets * num_perm || NITEMS(cnt) != n_sets) {
        PyErr_SetString(PyExc_ValueError, "out / counts: expected (len(offsets) - 1) * num_perm / len(offsets) - 1 items");
        goto fail_cnt;
    }
    /* one hash set sized for the largest set: open addressing on the mixed value (fmix32 is a
     * bijection, so distinct inputs are distinct mixed values), slot = value + 1, 0 = free */
    Py_ssize_t longest = 0;
    for (Py_ssize_t i = 0; i < n_sets; i++)
        if (o[i + 1] - o[i] > longest)
            longest = (Py_ssize_t)(o[i + 1] - o[i]);
    size_t cap = 16;
    while (cap < 2 * (size_t)longest)
        cap <<= 1;
    table = (uint64_t *)malloc(cap * sizeof(uint64_t));
    uniq = (uint32_t *)malloc((longest > 0 ? (size_t)longest : 1) * sizeof(uint32_t));
    if (table == NULL || uniq == NULL) {
        PyErr_NoMemory();
        goto fail_cnt;
    }
    {
        const uint64_t *hv = (const uint64_t *)h.buf;
        const uint32_t *av = (const uint32_t *)a.buf, *bv = (const uint32_t *)b.buf;
        uint32_t *ov = (uint32_t *)out.buf;
        int64_t *cv = (int64_t *)cnt.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n_sets; i++) {
            Py_ssize_t n = (Py_ssize_t)(o[i + 1] - o[i]);
            const uint64_t *s = hv + o[i];
            size_t c = 16;
            while (c < 2 * (size_t)n)
                c <<= 1;
            size_t mask = c - 1;
            memset(table, 0, c * sizeof(uint64_t));
            Py_ssize_t u = 0;
            for (Py_ssize_t j = 0; j < n; j++) {
                uint32_t x = fmix32((uint32_t)(s[j] >> 32));
                uint64_t key = (uint64_t)x + 1;
                size_t slot = x & mask;
                while (table[slot] != 0 && table[slot] != key)
                    slot = (slot + 1) & mask;
                if (table[slot] == 0) {
                    table[slot] = key;
                    uniq[u++] = x;
                }
            }
            cv[i] = (int64_t)u;
            uint32_t *row = ov + i * num_perm;
            for (Py_ssize_t p = 0; p < num_perm; p++)
                row[p] = 0xFFFFFFFFU;
            perm_min(row, av, bv, num_perm, uniq, u);
        }
        Py_END_ALLOW_THREADS
    }
    free(table);
    free(uniq);
    PyBuffer_Release(&cnt);
    PyBuffer_Release(&out);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&off);
    PyBuffer_Release(&h);
    Py_RETURN_NONE;
fail_cnt:
    free(table);
    free(uniq);
    PyBuffer_Release(&cnt);
fail_out:
    PyBuffer_Release(&out);
fail_ab:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
fail_off:
    PyBuffer_Release(&off);
fail_h:
    PyBuffer_Release(&h);
    return NULL;
}

/* ---- band keys -------------------------------------------------------------------------- */

PyDoc_STRVAR(band_keys_doc,
"band_keys(sigs, num_perm, bands, out) -> None\n\n"
"sigs: n * num_perm signature values (uint32, or uint64), row-major; out: writable uint64 of\n"
"n * bands. Key of band j of row i: acc = 0; for r < rows (= num_perm // bands):\n"
"acc = fmix64(acc * 0x9E3779B97F4A7C15 + s[j * rows + r] + r + 1); then\n"
"fmix64(acc + j * 0xC2B2AE3D27D4EB4F), all mod 2**64.");

static PyObject *py_band_keys(PyObject *self, PyObject *args)
{
    PyObject *s_obj, *out_obj;
    Py_ssize_t num_perm, bands;
    if (!PyArg_ParseTuple(args, "OnnO:band_keys", &s_obj, &num_perm, &bands, &out_obj))
        return NULL;
    if (num_perm < 0 || bands < 1) {
        PyErr_SetString(PyExc_ValueError, "band_keys: need num_perm >= 0 and bands >= 1");
        return NULL;
    }
    Py_buffer s, out;
    if (PyObject_GetBuffer(s_obj, &s, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    Py_ssize_t isz = s.itemsize;
    if ((isz != 4 && isz != 8) || s.len % isz != 0 || !int_format(s.format, 'u') || (uintptr_t)s.buf % (uintptr_t)isz != 0) {
        PyErr_SetString(PyExc_ValueError, "sigs: expected aligned unsigned integers of 4 or 8 bytes");
        PyBuffer_Release(&s);
        return NULL;
    }
    if (get_buf(out_obj, &out, 8, 'u', 1, "out") < 0) {
        PyBuffer_Release(&s);
        return NULL;
    }
    Py_ssize_t n_items = NITEMS(s);
    Py_ssize_t n = num_perm > 0 ? n_items / num_perm : NITEMS(out) / bands;
    if ((num_perm > 0 && n_items % num_perm != 0) || (num_perm == 0 && n_items != 0) || NITEMS(out) != n * bands) {
        PyErr_SetString(PyExc_ValueError, "band_keys: sigs / out sizes do not match num_perm / bands");
        PyBuffer_Release(&out);
        PyBuffer_Release(&s);
        return NULL;
    }
    {
        const Py_ssize_t rows = num_perm / bands;
        uint64_t *ov = (uint64_t *)out.buf;
        const uint32_t *s32 = (const uint32_t *)s.buf;
        const uint64_t *s64 = (const uint64_t *)s.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            for (Py_ssize_t j = 0; j < bands; j++) {
                uint64_t acc = 0;
                Py_ssize_t base = i * num_perm + j * rows;
                for (Py_ssize_t r = 0; r < rows; r++) {
                    uint64_t v = isz == 4 ? (uint64_t)s32[base + r] : s64[base + r];
                    acc = fmix64(acc * 0x9E3779B97F4A7C15ULL + v + (uint64_t)(r + 1));
                }
                ov[i * bands + j] = fmix64(acc + (uint64_t)j * 0xC2B2AE3D27D4EB4FULL);
            }
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&s);
    Py_RETURN_NONE;
}

/* ---- shingle hashes --------------------------------------------------------------------- */

PyDoc_STRVAR(shingle_hashes_doc,
"shingle_hashes(tokens, offsets, k_eff, sh_off, base, out) -> None\n\n"
"tokens: uint64 token hashes; offsets: int64 token offsets (n_docs + 1); k_eff: int64 shingle\n"
"size per document; sh_off: int64 shingle offsets (n_docs + 1, starting at 0); out: writable\n"
"uint64 of sh_off[-1]. Shingle t of document i starts at token offsets[i] + t and has k_eff[i]\n"
"tokens; its hash is fmix64(sum_j v_j * base**j ^ k * 0x9E3779B97F4A7C15) mod 2**64\n"
"(core.hashing.range_hashes).");

static PyObject *py_shingle_hashes(PyObject *self, PyObject *args)
{
    PyObject *t_obj, *off_obj, *k_obj, *sh_obj, *out_obj;
    unsigned long long base_ull;
    if (!PyArg_ParseTuple(args, "OOOOKO:shingle_hashes", &t_obj, &off_obj, &k_obj, &sh_obj, &base_ull, &out_obj))
        return NULL;
    Py_buffer t, off, kb, sh, out;
    if (get_buf(t_obj, &t, 8, 'u', 0, "tokens") < 0)
        return NULL;
    if (get_buf(off_obj, &off, 8, 's', 0, "offsets") < 0)
        goto fail_t;
    if (get_buf(k_obj, &kb, 8, 's', 0, "k_eff") < 0)
        goto fail_off;
    if (get_buf(sh_obj, &sh, 8, 's', 0, "sh_off") < 0)
        goto fail_k;
    if (get_buf(out_obj, &out, 8, 'u', 1, "out") < 0)
        goto fail_sh;
    const int64_t *o = (const int64_t *)off.buf, *kk = (const int64_t *)kb.buf, *so = (const int64_t *)sh.buf;
    Py_ssize_t n_docs = NITEMS(off) - 1, n_tok = NITEMS(t), n_out = NITEMS(out);
    if (n_docs < 0 || NITEMS(kb) != n_docs || NITEMS(sh) != n_docs + 1) {
        PyErr_SetString(PyExc_ValueError, "shingle_hashes: offsets, k_eff, sh_off lengths do not match");
        goto fail_out;
    }
    if (check_offsets(so, n_docs + 1, n_out, "sh_off") < 0)
        goto fail_out;
    if (so[0] != 0 || so[n_docs] != (int64_t)n_out) {
        PyErr_SetString(PyExc_ValueError, "sh_off: must run from 0 to len(out)");
        goto fail_out;
    }
    for (Py_ssize_t i = 0; i < n_docs; i++) {
        int64_t c = so[i + 1] - so[i];
        if (c == 0)
            continue;
        /* tokens offsets[i] .. offsets[i] + c - 1 + k_eff[i] must lie inside the document */
        /* no sum that can overflow: 0 <= o[i] <= o[i+1] <= n_tok first, then a difference */
        if (o[i] < 0 || o[i] > o[i + 1] || o[i + 1] > (int64_t)n_tok || kk[i] < 1 || kk[i] > (int64_t)n_tok ||
            c - 1 > (o[i + 1] - o[i]) - kk[i]) {
            PyErr_SetString(PyExc_ValueError, "shingle_hashes: a document's shingles run past its tokens");
            goto fail_out;
        }
    }
    {
        const uint64_t *tv = (const uint64_t *)t.buf;
        uint64_t *ov = (uint64_t *)out.buf;
        const uint64_t base = (uint64_t)base_ull;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n_docs; i++) {
            int64_t c = so[i + 1] - so[i];
            if (c == 0)
                continue;
            const int64_t k = kk[i];
            const uint64_t lenmix = (uint64_t)k * 0x9E3779B97F4A7C15ULL;
            const uint64_t *d = tv + o[i];
            uint64_t *dst = ov + so[i];
            for (int64_t s = 0; s < c; s++) {
                uint64_t raw = 0, p = 1;
                for (int64_t j = 0; j < k; j++) {
                    raw += d[s + j] * p;
                    p *= base;
                }
                dst[s] = fmix64(raw ^ lenmix);
            }
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&sh);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&off);
    PyBuffer_Release(&t);
    Py_RETURN_NONE;
fail_out:
    PyBuffer_Release(&out);
fail_sh:
    PyBuffer_Release(&sh);
fail_k:
    PyBuffer_Release(&kb);
fail_off:
    PyBuffer_Release(&off);
fail_t:
    PyBuffer_Release(&t);
    return NULL;
}

/* ---- LSH candidate pairs ---------------------------------------------------------------- */

typedef struct {
    uint64_t key;
    int64_t row; /* -1: free slot */
} entry_t;

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

typedef struct {
    uint64_t key;
    int64_t first; /* -1: free slot */
    int64_t last;
} run_t;

#if defined(_WIN32)
static void *table_alloc(size_t bytes) { return malloc(bytes); }
static void table_free(void *p, size_t bytes) { (void)bytes; free(p); }
#else
#include <sys/mman.h>
static void *table_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static void table_free(void *p, size_t bytes) { munmap(p, bytes); }
#endif

PyDoc_STRVAR(band_pair_keys_doc,
"band_pair_keys(col, out) -> int\n\n"
"col: the n band keys of one band (8-byte items); out: writable int64 of 2 * n. Rows holding\n"
"an equal key form a bucket; each row after a bucket's first is paired with the bucket's\n"
"first row and with the bucket's previous row (the same pair once when they are one row).\n"
"Writes each pair (i, j), i < j, as the code i * n + j, unsorted; returns how many.");

static PyObject *py_band_pair_keys(PyObject *self, PyObject *args)
{
    PyObject *c_obj, *o_obj;
    if (!PyArg_ParseTuple(args, "OO:band_pair_keys", &c_obj, &o_obj))
        return NULL;
    Py_buffer cb, ob;
    if (get_buf(c_obj, &cb, 8, 'i', 0, "col") < 0)
        return NULL;
    if (get_buf(o_obj, &ob, 8, 's', 1, "out") < 0) {
        PyBuffer_Release(&cb);
        return NULL;
    }
    const Py_ssize_t n = NITEMS(cb);
    Py_ssize_t count = 0;
    run_t *ent = NULL;
    size_t size_for_free = 0;
    if (NITEMS(ob) < 2 * n) {
        PyErr_SetString(PyExc_ValueError, "band_pair_keys: out holds fewer than 2 * n items");
        goto done;
    }
    int bits = 4;
    while (bits < 62 && ((size_t)1 << bits) < 2 * (size_t)(n > 0 ? n : 1))
        bits++;
    const size_t size = (size_t)1 << bits, mask = size - 1;
    /* the table straight from the system, not malloc: freeing a large malloc'ed block raises
     * glibc's mmap threshold to its size, after which the heap kept the driver's later work
     * arrays resident (+6-8 MB of peak RSS at 100 MB of corpus) */
    size_for_free = size * sizeof(run_t);
    ent = (run_t *)table_alloc(size_for_free);
    if (ent == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const uint64_t *kv = (const uint64_t *)cb.buf;
        int64_t *out = (int64_t *)ob.buf;
        Py_BEGIN_ALLOW_THREADS
        for (size_t e = 0; e < size; e++)
            ent[e].first = -1;
        for (Py_ssize_t x = 0; x < n; x++) {
            const uint64_t key = kv[x];
            size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
            while (ent[slot].first >= 0 && ent[slot].key != key)
                slot = (slot + 1) & mask;
            run_t *r = &ent[slot];
            if (r->first < 0) {
                r->key = key;
                r->first = r->last = x;
                continue;
            }
            out[count++] = r->first * (int64_t)n + x;
            if (r->last != r->first)
                out[count++] = r->last * (int64_t)n + x;
            r->last = x;
        }
        Py_END_ALLOW_THREADS
    }
done:
    if (ent != NULL)
        table_free(ent, size_for_free);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&ob);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromSsize_t(count);
}

PyDoc_STRVAR(candidate_pairs_many_doc,
"candidate_pairs_many(keys, bands, offsets, pairs, counts) -> int\n\n"
"keys: n * bands band keys (8-byte items), row-major; offsets: int64, table t owns rows\n"
"offsets[t]:offsets[t+1]; pairs: writable int64 of 2 * n * bands; counts: writable int64 of\n"
"len(offsets) - 1. For each table, the sorted unique pairs (i, j), i < j, of its own row\n"
"numbers where j shares a band key with i and i is the first (lowest) row holding that key\n"
"in the table; written one table after the other into pairs (i, j interleaved), counts[t]\n"
"pairs for table t. Returns the number of pairs written.");

static PyObject *py_candidate_pairs_many(PyObject *self, PyObject *args)
{
    PyObject *k_obj, *off_obj, *p_obj, *c_obj;
    Py_ssize_t bands;
    if (!PyArg_ParseTuple(args, "OnOOO:candidate_pairs_many", &k_obj, &bands, &off_obj, &p_obj, &c_obj))
        return NULL;
    if (bands < 1) {
        PyErr_SetString(PyExc_ValueError, "candidate_pairs_many: need bands >= 1");
        return NULL;
    }
    Py_buffer kb, off, pb, cb;
    entry_t *ent = NULL;
    int64_t *codes = NULL;
    Py_ssize_t total = 0;
    if (get_buf(k_obj, &kb, 8, 'i', 0, "keys") < 0)
        return NULL;
    if (get_buf(off_obj, &off, 8, 's', 0, "offsets") < 0)
        goto fail_k;
    if (get_buf(p_obj, &pb, 8, 's', 1, "pairs") < 0)
        goto fail_off;
    if (get_buf(c_obj, &cb, 8, 's', 1, "counts") < 0)
        goto fail_p;
    Py_ssize_t n_keys = NITEMS(kb);
    if (n_keys % bands != 0) {
        PyErr_SetString(PyExc_ValueError, "keys: length is not a multiple of bands");
        goto fail_c;
    }
    Py_ssize_t n = n_keys / bands;
    const int64_t *o = (const int64_t *)off.buf;
    Py_ssize_t m = NITEMS(off) - 1;
    if (check_offsets(o, m + 1, n, "offsets") < 0)
        goto fail_c;
    if (NITEMS(cb) != m || NITEMS(pb) < 2 * (o[m] - o[0]) * bands) {
        PyErr_SetString(PyExc_ValueError, "pairs / counts: too small");
        goto fail_c;
    }
    Py_ssize_t longest = 0;
    for (Py_ssize_t t = 0; t < m; t++)
        if (o[t + 1] - o[t] > longest)
            longest = (Py_ssize_t)(o[t + 1] - o[t]);
    size_t cap = (size_t)(longest > 0 ? longest : 1) * (size_t)bands, slots = 16;
    while (slots < 2 * cap)
        slots <<= 1;
    ent = (entry_t *)malloc(slots * sizeof(entry_t));
    codes = (int64_t *)malloc(cap * sizeof(int64_t));
    if (ent == NULL || codes == NULL) {
        PyErr_NoMemory();
        goto fail_c;
    }
    {
        const uint64_t *kv = (const uint64_t *)kb.buf;
        int64_t *pv = (int64_t *)pb.buf;
        int64_t *cv = (int64_t *)cb.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t t = 0; t < m; t++) {
            const int64_t rows = o[t + 1] - o[t];
            Py_ssize_t ne = (Py_ssize_t)rows * bands, nc = 0;
            const uint64_t *tk = kv + o[t] * bands;
            /* key -> first (lowest) row holding it: rows are visited in increasing order, so
             * the row stored for a key is its first; every later row with that key pairs with it */
            int bits = 4;
            while (bits < 62 && ((size_t)1 << bits) < 2 * (size_t)ne)
                bits++;
            const size_t size = (size_t)1 << bits, mask = size - 1;
            for (size_t e = 0; e < size; e++)
                ent[e].row = -1;
            for (Py_ssize_t e = 0; e < ne; e++) {
                const uint64_t key = tk[e];
                const int64_t row = e / bands;
                size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
                while (ent[slot].row >= 0 && ent[slot].key != key)
                    slot = (slot + 1) & mask;
                if (ent[slot].row < 0) {
                    ent[slot].key = key;
                    ent[slot].row = row;
                } else if (ent[slot].row != row) {
                    codes[nc++] = ent[slot].row * rows + row;
                }
            }
            Py_ssize_t u = 0;
            if (nc > 0) {
                qsort(codes, (size_t)nc, sizeof(int64_t), cmp_i64);
                for (Py_ssize_t c = 0; c < nc; c++) {
                    if (c > 0 && codes[c] == codes[c - 1])
                        continue;
                    pv[2 * (total + u)] = codes[c] / rows;
                    pv[2 * (total + u) + 1] = codes[c] % rows;
                    u++;
                }
            }
            cv[t] = (int64_t)u;
            total += u;
        }
        Py_END_ALLOW_THREADS
    }
    free(ent);
    free(codes);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&off);
    PyBuffer_Release(&kb);
    return PyLong_FromSsize_t(total);
fail_c:
    free(ent);
    free(codes);
    PyBuffer_Release(&cb);
fail_p:
    PyBuffer_Release(&pb);
fail_off:
    PyBuffer_Release(&off);
fail_k:
    PyBuffer_Release(&kb);
    return NULL;
}

static PyMethodDef methods[] = {
    {"signatures", py_signatures, METH_VARARGS, signatures_doc},
    {"signatures_distinct", py_signatures_distinct, METH_VARARGS, signatures_distinct_doc},
    {"band_keys", py_band_keys, METH_VARARGS, band_keys_doc},
    {"shingle_hashes", py_shingle_hashes, METH_VARARGS, shingle_hashes_doc},
    {"candidate_pairs_many", py_candidate_pairs_many, METH_VARARGS, candidate_pairs_many_doc},
    {"band_pair_keys", py_band_pair_keys, METH_VARARGS, band_pair_keys_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "dedupe.core._native.minhash",
    "C kernels of dedupe.core.minhash and dedupe.core.shingle (numpy twins there).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_minhash(void)
{
    return PyModule_Create(&moduledef);
}
