/* Site-level kernels of corpus mode (engine/templates.py, engine/site.py, engine/maintext.py).
 *
 * Each function does one whole stage of a chunk of pages (arrays of all pages concatenated, with
 * per-page offsets) in one call, with exactly the results of the numpy code it replaces (that
 * code stays the fallback and the reference; tests compare the two):
 *
 *   features   -> templates.page_features_many   (digit mask, line ids, span k-gram and short-line fingerprints)
 *   fingerprints -> PageFeatures.fingerprints     (each page's sorted unique fingerprints)
 *   mask_many  -> site.template_mask             (template tokens from the looked-up page counts)
 *   runs_many  -> site._template_pieces          (maximal runs of template tokens)
 *   units_many -> maintext._units_cat             (units, list markers, lines, comment headers)
 *   main_runs  -> maintext._main_run             (Kadane run, headline, restored units, off-main runs)
 *   lookup     -> core.hashing.SortedLookup      (page counts of fingerprints in a site's sorted table)
 *   count_pairs -> index.CountIndex._count        (distinct (site, fingerprint) records counted)
 *
 * Arrays come through the buffer protocol (C-contiguous, 1-D, checked item size and kind);
 * outputs are preallocated by the caller. uint64 arithmetic wraps modulo 2**64 like numpy's.
 * Every offset is validated before it is used: a bad argument raises ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXBUF 24

typedef struct {
    Py_buffer b[MAXBUF];
    int n;
} Bufs;

static void release_all(Bufs *bs) {
    for (int i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

/* kinds: format characters accepted (numpy: int64 'l'/'q', uint64 'L'/'Q', float64 'd',
 * bool '?', uint8 'B', int8 'b'). Returns the element pointer, sets *len; NULL on error. */
static void *get(Bufs *bs, PyObject *o, Py_ssize_t itemsize, const char *kinds, int writable, const char *name,
                 Py_ssize_t *len) {
    if (bs->n >= MAXBUF) {
        PyErr_SetString(PyExc_RuntimeError, "site kernel: too many buffers");
        return NULL;
    }
    Py_buffer *v = &bs->b[bs->n];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, v, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous%s array", name, writable ? " writable" : "");
        return NULL;
    }
    bs->n++;
    const char *f = v->format ? v->format : "B";
    if (*f == '@' || *f == '=' || (*f == '<' && PY_LITTLE_ENDIAN)) f++;
    if (v->itemsize != itemsize || v->ndim != 1 || f[0] == '\0' || f[1] != '\0' || !strchr(kinds, f[0]) ||
        (uintptr_t)v->buf % (uintptr_t)itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: wrong array type (item size %zd, format %s)", name, v->itemsize,
                     v->format ? v->format : "B");
        return NULL;
    }
    *len = v->len / itemsize;
    return v->buf;
}

#define I64 "lq"
#define U64 "LQ"
#define F64 "d"
#define BOOL "?B"
#define I8 "b"

static const uint64_t TOKEN_BASE = 0x9E3779B97F4A7C15ULL;
static const uint64_t LEN_MUL = 0x9E3779B97F4A7C15ULL;
static const uint64_t SPAN_SALT = 0x5BD1E9955BD1E995ULL;
static const uint64_t LINE_SALT = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t DIGIT_TOKEN = 0x6A09E667F3BCC909ULL;

#include "dd_hash.h" /* fmix64 */

/* hashing.range_hashes of v[0:len] with base TOKEN_BASE: fmix64(sum v[j] B^j ^ len * LEN_MUL) */
static inline uint64_t range_hash(const uint64_t *v, Py_ssize_t len) {
    uint64_t raw = 0, pw = 1;
    for (Py_ssize_t j = 0; j < len; j++) {
        raw += v[j] * pw;
        pw *= TOKEN_BASE;
    }
    return fmix64(raw ^ ((uint64_t)len * LEN_MUL));
}

static int check_offsets(const int64_t *off, Py_ssize_t m, Py_ssize_t limit, const char *name) {
    if (off[0] < 0) goto bad;
    for (Py_ssize_t i = 0; i < m; i++)
        if (off[i + 1] < off[i]) goto bad;
    if (off[m] > limit) goto bad;
    return 0;
bad:
    PyErr_Format(PyExc_ValueError, "%s: offsets must be non-decreasing, within [0, %zd]", name, limit);
    return -1;
}

static int str_ready(PyObject *s, const char *name) {
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_ValueError, "%s: expected str", name);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0) return -1;
#endif
    return 0;
}

/* digit-bearing tokens of page [a, b): T the code unit type of the normalised text (WIDE: it may
 * hold code points above 0xFFFF, which are never digits here, as in the numpy code) */
#define DIGITS(T, WIDE)                                                                                \
    {                                                                                                  \
        const T *nd = (const T *)ndata;                                                                \
        for (int64_t t = a; t < b; t++) {                                                              \
            uint64_t h = hashes[t];                                                                    \
            for (int64_t c = nstart[t]; c < nend[t]; c++) {                                            \
                Py_UCS4 cp = nd[c];                                                                    \
                if ((!WIDE || cp <= 0xFFFF) && table[cp]) {                                            \
                    h = DIGIT_TOKEN;                                                                   \
                    break;                                                                             \
                }                                                                                      \
            }                                                                                          \
            masked[t] = h;                                                                             \
        }                                                                                              \
    }

/* line id of every token of page [a, b): newlines of the text (code unit type T) before its start */
#define LINES(T)                                                                                       \
    {                                                                                                  \
        const T *td = (const T *)tdata;                                                                \
        int64_t pos = 0, cnt = 0;                                                                      \
        for (int64_t t = a; t < b; t++) {                                                              \
            int64_t s = start[t];                                                                      \
            if (s < pos) pos = cnt = 0;                                                                \
            for (; pos < s; pos++) cnt += td[pos] == 10;                                               \
            lid[t] = cnt;                                                                              \
        }                                                                                              \
    }

/* features(texts, norms, tok_off, start, nstart, nend, hashes, digit_table, k, mask_digits,
 *          out_masked, out_lid, out_kfp, out_lf, out_le, out_lfp, out_loff) -> number of short lines
 *
 * Page i owns tokens tok_off[i]:tok_off[i+1] (start: offsets in texts[i]; nstart/nend: in norms[i]).
 * out_masked: hashes, digit-bearing tokens (a norm char <= 0xFFFF with digit_table[cp]) replaced
 * when mask_digits. out_lid: newlines of texts[i] before the token's start. out_kfp[tok_off[i]+s]:
 * fingerprint of the span k-gram starting at token s (s <= n-k; other slots 0). Short lines (runs
 * of equal lid with < k tokens) of page i: out_lf/out_le (page-local first / end token), out_lfp,
 * at out_loff[i]:out_loff[i+1]. */
static PyObject *features(PyObject *self, PyObject *args) {
    PyObject *texts, *norms, *o[15];
    long k;
    int mask_digits;
    if (!PyArg_ParseTuple(args, "O!O!OOOOOOliOOOOOOO", &PyList_Type, &texts, &PyList_Type, &norms, &o[0], &o[1], &o[2],
                          &o[3], &o[4], &o[5], &k, &mask_digits, &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12]))
        return NULL;
    Bufs bs = {.n = 0};
    PyObject *ret = NULL;
    Py_ssize_t m = PyList_GET_SIZE(texts), n_off, N, n1, n2, n3, nt, w0, w1, w2, w3, w4, w5, w6;
    const int64_t *tok_off = get(&bs, o[0], 8, I64, 0, "tok_off", &n_off);
    if (!tok_off) goto done;
    const int64_t *start = get(&bs, o[1], 8, I64, 0, "start", &N);
    if (!start) goto done;
    const int64_t *nstart = get(&bs, o[2], 8, I64, 0, "nstart", &n1);
    if (!nstart) goto done;
    const int64_t *nend = get(&bs, o[3], 8, I64, 0, "nend", &n2);
    if (!nend) goto done;
    const uint64_t *hashes = get(&bs, o[4], 8, U64, 0, "hashes", &n3);
    if (!hashes) goto done;
    const uint8_t *table = get(&bs, o[5], 1, BOOL, 0, "digit_table", &nt);
    if (!table) goto done;
    uint64_t *masked = get(&bs, o[6], 8, U64, 1, "out_masked", &w0);
    if (!masked) goto done;
    int64_t *lid = get(&bs, o[7], 8, I64, 1, "out_lid", &w1);
    if (!lid) goto done;
    uint64_t *kfp = get(&bs, o[8], 8, U64, 1, "out_kfp", &w2);
    if (!kfp) goto done;
    int64_t *lf = get(&bs, o[9], 8, I64, 1, "out_lf", &w3);
    if (!lf) goto done;
    int64_t *le = get(&bs, o[10], 8, I64, 1, "out_le", &w4);
    if (!le) goto done;
    uint64_t *lfp = get(&bs, o[11], 8, U64, 1, "out_lfp", &w5);
    if (!lfp) goto done;
    int64_t *loff = get(&bs, o[12], 8, I64, 1, "out_loff", &w6);
    if (!loff) goto done;
    if (PyList_GET_SIZE(norms) != m || n_off != m + 1 || w6 != m + 1 || nt != 0x10000) {
        PyErr_SetString(PyExc_ValueError, "features: texts, norms, tok_off, out_loff or digit_table have the wrong length");
        goto done;
    }
    if (k < 1 || k > 64) {
        PyErr_SetString(PyExc_ValueError, "features: k must be in [1, 64]");
        goto done;
    }
    if (n1 != N || n2 != N || n3 != N || w0 != N || w1 != N || w2 != N || w3 != N || w4 != N || w5 != N) {
        PyErr_SetString(PyExc_ValueError, "features: token arrays and outputs must have one length");
        goto done;
    }
    if (check_offsets(tok_off, m, N, "features: tok_off") < 0) goto done;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (str_ready(PyList_GET_ITEM(texts, i), "features: texts") < 0) goto done;
        if (str_ready(PyList_GET_ITEM(norms, i), "features: norms") < 0) goto done;
    }
    /* validate every token's offsets first (nothing is written on a bad argument) */
    for (Py_ssize_t i = 0; i < m; i++) {
        Py_ssize_t tl = PyUnicode_GET_LENGTH(PyList_GET_ITEM(texts, i));
        Py_ssize_t nl = PyUnicode_GET_LENGTH(PyList_GET_ITEM(norms, i));
        for (int64_t t = tok_off[i]; t < tok_off[i + 1]; t++) {
            if (start[t] < 0 || start[t] > tl) {
                PyErr_SetString(PyExc_ValueError, "features: token start outside its text");
                goto done;
            }
            if (mask_digits && nstart[t] < nend[t] && (nstart[t] < 0 || nend[t] > nl)) {
                PyErr_SetString(PyExc_ValueError, "features: token outside its normalised text");
                goto done;
            }
        }
    }
    uint64_t kmul = (uint64_t)k * LEN_MUL;
    Py_ssize_t nlines = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i), *norm = PyList_GET_ITEM(norms, i);
        int tkind = PyUnicode_KIND(text), nkind = PyUnicode_KIND(norm);
        const void *tdata = PyUnicode_DATA(text), *ndata = PyUnicode_DATA(norm);
        int64_t a = tok_off[i], b = tok_off[i + 1], n = b - a;
        /* digits */
        if (!mask_digits)
            memcpy(masked + a, hashes + a, (size_t)n * sizeof(uint64_t));
        else if (nkind == PyUnicode_1BYTE_KIND)
            DIGITS(Py_UCS1, 0)
        else if (nkind == PyUnicode_2BYTE_KIND)
            DIGITS(Py_UCS2, 0)
        else
            DIGITS(Py_UCS4, 1)
        /* line ids: newlines before each token's start (one forward walk; restarts if a start goes back) */
        if (tkind == PyUnicode_1BYTE_KIND)
            LINES(Py_UCS1)
        else if (tkind == PyUnicode_2BYTE_KIND)
            LINES(Py_UCS2)
        else
            LINES(Py_UCS4)
        /* span k-grams */
        for (int64_t t = a; t < b; t++) kfp[t] = 0;
        for (int64_t s = 0; s + k <= n; s++) {
            uint64_t raw = 0, pw = 1;
            const uint64_t *v = masked + a + s;
            for (long j = 0; j < k; j++) {
                raw += v[j] * pw;
                pw *= TOKEN_BASE;
            }
            kfp[a + s] = fmix64(fmix64(raw ^ kmul) ^ SPAN_SALT);
        }
        /* short whole lines */
        loff[i] = nlines;
        int64_t f = 0;
        while (f < n) {
            int64_t e = f + 1;
            while (e < n && lid[a + e] == lid[a + e - 1]) e++;
            if (e - f < k) {
                lf[nlines] = f;
                le[nlines] = e;
                lfp[nlines] = fmix64(range_hash(masked + a + f, e - f) ^ LINE_SALT);
                nlines++;
            }
            f = e;
        }
    }
    loff[m] = nlines;
    ret = PyLong_FromSsize_t(nlines);
done:
    release_all(&bs);
    return ret;
}

/* mask_many(k, tok_off, q_off, l_off, thr, strong, df, lf, le, lid, out_tokdf, out_src, out_tpl)
 *
 * site.template_mask of a chunk. Page i (tokens tok_off[i]:tok_off[i+1], n of them) is active
 * when thr[i] > 0: its looked-up page counts df[q_off[i]:q_off[i+1]] are those of its span
 * k-grams (the first nk) then of its short lines lf/le[l_off[i]:l_off[i+1]] (page-local token
 * bounds); lid: page-local line ids. Inactive pages get zeros. Outputs: per token page count
 * (int64), source bits (int8: 1 span k-gram, 2 short line), template flag (bool). */
static PyObject *mask_many(PyObject *self, PyObject *args) {
    long k;
    PyObject *o[12];
    if (!PyArg_ParseTuple(args, "lOOOOOOOOOOOO", &k, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &o[10], &o[11]))
        return NULL;
    Bufs bs = {.n = 0};
    PyObject *ret = NULL;
    Py_ssize_t n_off, nq_off, nl_off, nthr, nstr, ndf, nlf, nle, N, w0, w1, w2;
    const int64_t *tok_off = get(&bs, o[0], 8, I64, 0, "tok_off", &n_off);
    if (!tok_off) goto done;
    const int64_t *q_off = get(&bs, o[1], 8, I64, 0, "q_off", &nq_off);
    if (!q_off) goto done;
    const int64_t *l_off = get(&bs, o[2], 8, I64, 0, "l_off", &nl_off);
    if (!l_off) goto done;
    const int64_t *thr = get(&bs, o[3], 8, I64, 0, "thr", &nthr);
    if (!thr) goto done;
    const int64_t *strong = get(&bs, o[4], 8, I64, 0, "strong", &nstr);
    if (!strong) goto done;
    const int64_t *df = get(&bs, o[5], 8, I64, 0, "df", &ndf);
    if (!df) goto done;
    const int64_t *lf = get(&bs, o[6], 8, I64, 0, "lf", &nlf);
    if (!lf) goto done;
    const int64_t *le = get(&bs, o[7], 8, I64, 0, "le", &nle);
    if (!le) goto done;
    const int64_t *lid = get(&bs, o[8], 8, I64, 0, "lid", &N);
    if (!lid) goto done;
    int64_t *tokdf = get(&bs, o[9], 8, I64, 1, "out_tokdf", &w0);
    if (!tokdf) goto done;
    int8_t *src = get(&bs, o[10], 1, I8, 1, "out_src", &w1);
    if (!src) goto done;
    uint8_t *tpl = get(&bs, o[11], 1, BOOL, 1, "out_tpl", &w2);
    if (!tpl) goto done;
    Py_ssize_t m = n_off - 1;
    if (m < 0 || nq_off != m + 1 || nl_off != m + 1 || nthr != m || nstr != m || nlf != nle || w0 != N || w1 != N ||
        w2 != N) {
        PyErr_SetString(PyExc_ValueError, "mask_many: array lengths do not match");
        goto done;
    }
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "mask_many: k must be >= 1");
        goto done;
    }
    if (check_offsets(tok_off, m, N, "mask_many: tok_off") < 0 || check_offsets(q_off, m, ndf, "mask_many: q_off") < 0 ||
        check_offsets(l_off, m, nlf, "mask_many: l_off") < 0)
        goto done;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (thr[i] <= 0) continue;
        int64_t n = tok_off[i + 1] - tok_off[i], nl = l_off[i + 1] - l_off[i], nk = q_off[i + 1] - q_off[i] - nl;
        if (nk < 0 || (nk > 0 && nk + k - 1 > n)) {
            PyErr_SetString(PyExc_ValueError, "mask_many: a page has more page counts than k-grams and lines");
            goto done;
        }
        for (int64_t j = l_off[i]; j < l_off[i + 1]; j++)
            if (lf[j] < 0 || lf[j] > le[j] || le[j] > n) {
                PyErr_SetString(PyExc_ValueError, "mask_many: a line lies outside its page");
                goto done;
            }
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t a0 = tok_off[i], n = tok_off[i + 1] - a0;
        int64_t *td = tokdf + a0;
        int8_t *sr = src + a0;
        uint8_t *tp = tpl + a0;
        const int64_t *ld = lid + a0;
        memset(td, 0, (size_t)n * sizeof(int64_t));
        memset(sr, 0, (size_t)n);
        memset(tp, 0, (size_t)n);
        if (thr[i] <= 0 || n < 1) continue;
        int64_t T = thr[i], nl = l_off[i + 1] - l_off[i], nk = q_off[i + 1] - q_off[i] - nl;
        const int64_t *kdf = df + q_off[i], *ldf = df + q_off[i] + nk;
        /* every token takes the largest count of the k-grams with enough pages that cover it */
        for (int64_t s = 0; s < nk; s++) {
            int64_t d = kdf[s];
            if (d < T) continue;
            for (int64_t t = s; t < s + k; t++)
                if (d > td[t]) td[t] = d;
        }
        for (int64_t t = 0; t < n; t++)
            if (td[t] > 0) sr[t] = 1;
        for (int64_t j = 0; j < nl; j++) {
            int64_t d = ldf[j];
            if (d < T) continue;
            for (int64_t t = lf[l_off[i] + j]; t < le[l_off[i] + j]; t++) {
                if (d > td[t]) td[t] = d;
                sr[t] |= 2;
            }
        }
        for (int64_t t = 0; t < n; t++) tp[t] = td[t] > 0;
        /* runs: k-gram bleed at the edges, then short k-gram-only runs inside a line */
        int64_t S = strong[i], t = 0;
        while (t < n) {
            if (!tp[t]) {
                t++;
                continue;
            }
            int64_t a0r = t, b0r = t;
            int64_t top = td[t];
            while (b0r < n && tp[b0r]) {
                if (td[b0r] > top) top = td[b0r];
                b0r++;
            }
            t = b0r;
            int64_t a = a0r, b = b0r;
            int64_t lim = a0r + k - 1 < b ? a0r + k - 1 : b;
            while (a < lim && sr[a] == 1 && td[a] <= top / 2) a++;
            if (a == a0r + k - 1 && a < b && sr[a] == 1 && td[a] <= top / 2) a = a0r;
            lim = b0r - k + 1 > a ? b0r - k + 1 : a;
            while (b > lim && sr[b - 1] == 1 && td[b - 1] <= top / 2) b--;
            if (b == b0r - k + 1 && b > a && sr[b - 1] == 1 && td[b - 1] <= top / 2) b = b0r;
            for (int64_t x = a0r; x < a; x++) tp[x] = 0, td[x] = 0, sr[x] = 0;
            for (int64_t x = b; x < b0r; x++) tp[x] = 0, td[x] = 0, sr[x] = 0;
            if (b <= a || b - a >= 2 * k) continue;
            int bits = 0;
            int64_t mx = td[a];
            for (int64_t x = a; x < b; x++) {
                bits |= sr[x];
                if (td[x] > mx) mx = td[x];
            }
            if (bits != 1) continue;
            int whole = (a == 0 || ld[a - 1] != ld[a]) && (b == n || ld[b] != ld[b - 1]);
            if (whole || mx >= S) continue;
            for (int64_t x = a; x < b; x++) tp[x] = 0, td[x] = 0, sr[x] = 0;
        }
    }
    ret = Py_NewRef(Py_None);
done:
    release_all(&bs);
    return ret;
}

/* runs_many(tok_off, tpl, tokdf, src, start, end, out_s0, out_e0, out_pages, out_bits, out_roff) -> runs
 *
 * site._template_pieces of a chunk: each maximal run [a, b) of template tokens of a page (runs
 * never cross pages): start[a], end[b-1], the smallest tokdf and the union of src bits over it.
 * Page i's runs are out_*[out_roff[i]:out_roff[i+1]]. */
static PyObject *runs_many(PyObject *self, PyObject *args) {
    PyObject *o[11];
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8], &o[9],
                          &o[10]))
        return NULL;
    Bufs bs = {.n = 0};
    PyObject *ret = NULL;
    Py_ssize_t n_off, N, n1, n2, n3, n4, w0, w1, w2, w3, w4;
    const int64_t *tok_off = get(&bs, o[0], 8, I64, 0, "tok_off", &n_off);
    if (!tok_off) goto done;
    const uint8_t *tpl = get(&bs, o[1], 1, BOOL, 0, "tpl", &N);
    if (!tpl) goto done;
    const int64_t *tokdf = get(&bs, o[2], 8, I64, 0, "tokdf", &n1);
    if (!tokdf) goto done;
    const int8_t *src = get(&bs, o[3], 1, I8, 0, "src", &n2);
    if (!src) goto done;
    const int64_t *start = get(&bs, o[4], 8, I64, 0, "start", &n3);
    if (!start) goto done;
    const int64_t *end = get(&bs, o[5], 8, I64, 0, "end", &n4);
    if (!end) goto done;
    int64_t *s0 = get(&bs, o[6], 8, I64, 1, "out_s0", &w0);
    if (!s0) goto done;
    int64_t *e0 = get(&bs, o[7], 8, I64, 1, "out_e0", &w1);
    if (!e0) goto done;
    int64_t *pages = get(&bs, o[8], 8, I64, 1, "out_pages", &w2);
    if (!pages) goto done;
    int64_t *bits = get(&bs, o[9], 8, I64, 1, "out_bits", &w3);
    if (!bits) goto done;
    int64_t *roff = get(&bs, o[10], 8, I64, 1, "out_roff", &w4);
    if (!roff) goto done;
    Py_ssize_t m = n_off - 1;
    if (m < 0 || n1 != N || n2 != N || n3 != N || n4 != N || w0 != N || w1 != N || w2 != N || w3 != N || w4 != m + 1) {
        PyErr_SetString(PyExc_ValueError, "runs_many: array lengths do not match");
        goto done;
    }
    if (check_offsets(tok_off, m, N, "runs_many: tok_off") < 0) goto done;
    Py_ssize_t r = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        roff[i] = r;
        int64_t t = tok_off[i], b = tok_off[i + 1];
        while (t < b) {
            if (!tpl[t]) {
                t++;
                continue;
            }
            int64_t a = t, mn = tokdf[t];
            int bt = 0;
            while (t < b && tpl[t]) {
                if (tokdf[t] < mn) mn = tokdf[t];
                bt |= src[t];
                t++;
            }
            s0[r] = start[a];
            e0[r] = end[t - 1];
            pages[r] = mn;
            bits[r] = bt;
            r++;
        }
    }
    roff[m] = r;
    ret = PyLong_FromSsize_t(r);
done:
    release_all(&bs);
    return ret;
}

/* main_runs(u_off, first, end, w, is_tpl, whole, uncertain, in_list, headline_window, k,
 *           tok_start, tok_end, out_mask, out_restored, out_free, out_ps0, out_pe0, out_plist, out_poff)
 *     -> pieces
 *
 * maintext._main_run of a chunk. Page i owns units u_off[i]:u_off[i+1] (first/end: token bounds
 * in the chunk's tokens, first < end). Per page: the maximum-weight run of units (Kadane, ties to
 * the earliest, then shortest), the headline before it, the tokens of its uncertain units
 * (out_restored), and each maximal run of free units outside it (out_mask; pieces: character
 * bounds tok_start[first], tok_end[end - 1], 1 when every unit lies in a list). out_free[2i],
 * out_free[2i+1]: free tokens inside the run and on the page (-1, -1: no run with positive weight). */
static PyObject *main_runs(PyObject *self, PyObject *args) {
    PyObject *o[17];
    long hw, k;
    if (!PyArg_ParseTuple(args, "OOOOOOOOllOOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &hw, &k,
                          &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15], &o[16]))
        return NULL;
    Bufs bs = {.n = 0};
    PyObject *ret = NULL;
    Py_ssize_t n_off, nu, n1, n2, n3, n4, n5, n6, N, n7, w0, w1, w2, w3, w4, w5, w6;
    const int64_t *u_off = get(&bs, o[0], 8, I64, 0, "u_off", &n_off);
    if (!u_off) goto done;
    const int64_t *first = get(&bs, o[1], 8, I64, 0, "first", &nu);
    if (!first) goto done;
    const int64_t *end = get(&bs, o[2], 8, I64, 0, "end", &n1);
    if (!end) goto done;
    const double *w = get(&bs, o[3], 8, F64, 0, "w", &n2);
    if (!w) goto done;
    const uint8_t *is_tpl = get(&bs, o[4], 1, BOOL, 0, "is_tpl", &n3);
    if (!is_tpl) goto done;
    const uint8_t *whole = get(&bs, o[5], 1, BOOL, 0, "whole", &n4);
    if (!whole) goto done;
    const uint8_t *unc = get(&bs, o[6], 1, BOOL, 0, "uncertain", &n5);
    if (!unc) goto done;
    const uint8_t *in_list = get(&bs, o[7], 1, BOOL, 0, "in_list", &n6);
    if (!in_list) goto done;
    const int64_t *tok_start = get(&bs, o[8], 8, I64, 0, "tok_start", &N);
    if (!tok_start) goto done;
    const int64_t *tok_end = get(&bs, o[9], 8, I64, 0, "tok_end", &n7);
    if (!tok_end) goto done;
    uint8_t *mask = get(&bs, o[10], 1, BOOL, 1, "out_mask", &w0);
    if (!mask) goto done;
    uint8_t *restored = get(&bs, o[11], 1, BOOL, 1, "out_restored", &w1);
    if (!restored) goto done;
    int64_t *free_ = get(&bs, o[12], 8, I64, 1, "out_free", &w2);
    if (!free_) goto done;
    int64_t *ps0 = get(&bs, o[13], 8, I64, 1, "out_ps0", &w3);
    if (!ps0) goto done;
    int64_t *pe0 = get(&bs, o[14], 8, I64, 1, "out_pe0", &w4);
    if (!pe0) goto done;
    int64_t *plist = get(&bs, o[15], 8, I64, 1, "out_plist", &w5);
    if (!plist) goto done;
    int64_t *poff = get(&bs, o[16], 8, I64, 1, "out_poff", &w6);
    if (!poff) goto done;
    Py_ssize_t m = n_off - 1;
    if (m < 0 || n1 != nu || n2 != nu || n3 != nu || n4 != nu || n5 != nu || n6 != nu || n7 != N || w0 != N ||
        w1 != N || w2 != 2 * m || w3 != nu || w4 != nu || w5 != nu || w6 != m + 1) {
        PyErr_SetString(PyExc_ValueError, "main_runs: array lengths do not match");
        goto done;
    }
    if (check_offsets(u_off, m, nu, "main_runs: u_off") < 0) goto done;
    for (Py_ssize_t u = 0; u < nu; u++)
        if (first[u] < 0 || first[u] >= end[u] || end[u] > N) {
            PyErr_SetString(PyExc_ValueError, "main_runs: a unit is empty or lies outside the tokens");
            goto done;
        }
    Py_ssize_t np_ = 0;
    for (Py_ssize_t p = 0; p < m; p++) {
        poff[p] = np_;
        free_[2 * p] = free_[2 * p + 1] = -1;
        int64_t ua = u_off[p], nup = u_off[p + 1] - ua;
        const double *wp = w + ua;
        double best = -Py_HUGE_VAL, cur = 0.0;
        int64_t bi = 0, bj = -1, ci = 0;
        for (int64_t j = 0; j < nup; j++) {
            double x = wp[j];
            if (cur <= 0) {
                cur = x;
                ci = j;
            } else {
                cur += x;
            }
            if (cur > best) {
                best = cur;
                bi = ci;
                bj = j;
            }
        }
        if (best <= 0 || bj < bi) continue;
        int64_t i = bi + ua, j = bj + ua;
        if (hw) {
            int64_t u = i - 1, skipped = 0;
            while (u >= ua && skipped < hw &&
                   ((is_tpl[u] && !unc[u]) || (!is_tpl[u] && !whole[u] && end[u] - first[u] < k))) {
                u--;
                skipped++;
            }
            if (u >= ua && (!is_tpl[u] || unc[u]) && whole[u] && 3 <= end[u] - first[u] && end[u] - first[u] <= 40 &&
                !in_list[u])
                i = u;
        }
        int64_t ub = ua + nup, total = 0, inside = 0;
        for (int64_t u = ua; u < ub; u++) {
            if (unc[u] && i <= u && u <= j)
                for (int64_t t = first[u]; t < end[u]; t++) restored[t] = 1;
            if (!is_tpl[u]) {
                total += end[u] - first[u];
                if (i <= u && u <= j) inside += end[u] - first[u];
            }
        }
        free_[2 * p] = inside;
        free_[2 * p + 1] = total;
        int64_t u = ua;
        while (u < ub) {
            if (is_tpl[u] || (i <= u && u <= j)) {
                u++;
                continue;
            }
            int64_t v = u;
            int all = in_list[u] ? 1 : 0;
            while (v + 1 < ub && !is_tpl[v + 1] && !(i <= v + 1 && v + 1 <= j)) {
                v++;
                if (!in_list[v]) all = 0;
            }
            for (int64_t t = first[u]; t < end[v]; t++) mask[t] = 1;
            ps0[np_] = tok_start[first[u]];
            pe0[np_] = tok_end[end[v] - 1];
            plist[np_] = all;
            np_++;
            u = v + 1;
        }
    }
    poff[m] = np_;
    ret = PyLong_FromSsize_t(np_);
done:
    release_all(&bs);
    return ret;
}

/* sort v[0:n] ascending (tmp: n scratch slots): insertion sort when short, else LSD radix sort on
 * bytes (one histogram pass for all eight bytes; a byte every value shares is skipped) */
static void sort_u64(uint64_t *v, uint64_t *tmp, Py_ssize_t n) {
    if (n <= 48) {
        for (Py_ssize_t i = 1; i < n; i++) {
            uint64_t x = v[i];
            Py_ssize_t j = i;
            while (j > 0 && v[j - 1] > x) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    Py_ssize_t hist[8][256];
    memset(hist, 0, sizeof(hist));
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        for (int b = 0; b < 8; b++) hist[b][(x >> (8 * b)) & 0xFF]++;
    }
    uint64_t *a = v, *t = tmp;
    for (int b = 0; b < 8; b++) {
        Py_ssize_t *h = hist[b];
        if (h[(a[0] >> (8 * b)) & 0xFF] == n) continue; /* every value has this byte */
        Py_ssize_t sum = 0;
        for (int c = 0; c < 256; c++) {
            Py_ssize_t x = h[c];
            h[c] = sum;
            sum += x;
        }
        for (Py_ssize_t i = 0; i < n; i++) t[h[(a[i] >> (8 * b)) & 0xFF]++] = a[i];
        uint64_t *sw = a;
        a = t;
        t = sw;
    }
    if (a != v) memcpy(v, a, (size_t)n * sizeof(uint64_t));
}

/* fingerprints(k, tok_off, kfp, l_off, lfp, out, out_off) -> total
 *
 * PageFeatures.fingerprints of a chunk: page i's span k-gram fingerprints
 * kfp[tok_off[i] : tok_off[i] + max(0, n - k + 1)] and short-line fingerprints lfp[l_off[i]:l_off[i+1]],
 * sorted and unique, written to out[out_off[i]:out_off[i+1]]. */
static PyObject *fingerprints(PyObject *self, PyObject *args) {
    long k;
    PyObject *o[6];
    if (!PyArg_ParseTuple(args, "lOOOOOO", &k, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5])) return NULL;
    Bufs bs = {.n = 0};
    PyObject *ret = NULL;
    uint64_t *tmp = NULL;
    Py_ssize_t n_off, N, nl_off, L, W, w_off;
    const int64_t *tok_off = get(&bs, o[0], 8, I64, 0, "tok_off", &n_off);
    if (!tok_off) goto done;
    const uint64_t *kfp = get(&bs, o[1], 8, U64, 0, "kfp", &N);
    if (!kfp) goto done;
    const int64_t *l_off = get(&bs, o[2], 8, I64, 0, "l_off", &nl_off);
    if (!l_off) goto done;
    const uint64_t *lfp = get(&bs, o[3], 8, U64, 0, "lfp", &L);
    if (!lfp) goto done;
    uint64_t *out = get(&bs, o[4], 8, U64, 1, "out", &W);
    if (!out) goto done;
    int64_t *out_off = get(&bs, o[5], 8, I64, 1, "out_off", &w_off);
    if (!out_off) goto done;
    Py_ssize_t m = n_off - 1;
    if (m < 0 || nl_off != m + 1 || w_off != m + 1 || k < 1) {
        PyErr_SetString(PyExc_ValueError, "fingerprints: array lengths do not match (or k < 1)");
        goto done;
    }
    if (check_offsets(tok_off, m, N, "fingerprints: tok_off") < 0 || check_offsets(l_off, m, L, "fingerprints: l_off") < 0)
        goto done;
    Py_ssize_t need = 0, most = 1;
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t n = tok_off[i + 1] - tok_off[i], nk = n >= k ? n - k + 1 : 0, c = nk + l_off[i + 1] - l_off[i];
        need += c;
        if (c > most) most = c;
    }
    if (need > W) {
        PyErr_SetString(PyExc_ValueError, "fingerprints: out is too short");
        goto done;
    }
    tmp = PyMem_Malloc((size_t)most * sizeof(uint64_t));
    if (!tmp) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t n = tok_off[i + 1] - tok_off[i], nk = n >= k ? n - k + 1 : 0, nl = l_off[i + 1] - l_off[i];
        uint64_t *v = out + at;
        out_off[i] = at;
        memcpy(v, kfp + tok_off[i], (size_t)nk * sizeof(uint64_t));
        memcpy(v + nk, lfp + l_off[i], (size_t)nl * sizeof(uint64_t));
        Py_ssize_t c = nk + nl, u = 0;
        sort_u64(v, tmp, c);
        for (Py_ssize_t j = 0; j < c; j++)
            if (j == 0 || v[j] != v[u - 1]) v[u++] = v[j];
        at += u;
    }
    out_off[m] = at;
    ret = PyLong_FromSsize_t(at);
done:
    PyMem_Free(tmp);
    release_all(&bs);
    return ret;
}

/* units_many(tok_off, lid, tpl, masked, marker_max, header_max, header_tail, header_salt,
 *            out_first, out_end, out_is_tpl, out_whole, out_uoff, out_midx, out_sig,
 *            out_lstart, out_lend, out_hidx, out_hsig) -> (units, markers, lines, headers)
 *
 * maintext._units_cat of a chunk of non-empty pages (page p owns tokens tok_off[p]:tok_off[p+1]):
 * units cut at line and template changes and at page starts (token bounds in the chunk, template
 * flag, whole-line flag; page p owns units out_uoff[p]:out_uoff[p+1]); marker units (a template
 * unit, or a whole line of < marker_max tokens, between free units or page edges) with the hash
 * of their digit-masked tokens; lines of units (first / last unit); header lines (< header_max
 * tokens, a DIGIT_TOKEN among them, a neighbour line on the page with free tokens) with the salted
 * hash of their last header_tail tokens. Outputs hold at least one slot per token. */
static PyObject *units_many(PyObject *self, PyObject *args) {
    PyObject *o[15];
    long marker_max, header_max, header_tail;
    unsigned long long salt;
    if (!PyArg_ParseTuple(args, "OOOOlllKOOOOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &marker_max, &header_max,
                          &header_tail, &salt, &o[4], &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12],
                          &o[13], &o[14]))
        return NULL;
    Bufs bs = {.n = 0};
    PyObject *ret = NULL;
    Py_ssize_t n_off, N, n1, n2, w[11];
    const int64_t *tok_off = get(&bs, o[0], 8, I64, 0, "tok_off", &n_off);
    if (!tok_off) goto done;
    const int64_t *lid = get(&bs, o[1], 8, I64, 0, "lid", &N);
    if (!lid) goto done;
    const uint8_t *tpl = get(&bs, o[2], 1, BOOL, 0, "tpl", &n1);
    if (!tpl) goto done;
    const uint64_t *masked = get(&bs, o[3], 8, U64, 0, "masked", &n2);
    if (!masked) goto done;
    int64_t *first = get(&bs, o[4], 8, I64, 1, "out_first", &w[0]);
    if (!first) goto done;
    int64_t *end = get(&bs, o[5], 8, I64, 1, "out_end", &w[1]);
    if (!end) goto done;
    uint8_t *is_tpl = get(&bs, o[6], 1, BOOL, 1, "out_is_tpl", &w[2]);
    if (!is_tpl) goto done;
    uint8_t *whole = get(&bs, o[7], 1, BOOL, 1, "out_whole", &w[3]);
    if (!whole) goto done;
    int64_t *uoff = get(&bs, o[8], 8, I64, 1, "out_uoff", &w[4]);
    if (!uoff) goto done;
    int64_t *midx = get(&bs, o[9], 8, I64, 1, "out_midx", &w[5]);
    if (!midx) goto done;
    uint64_t *sig = get(&bs, o[10], 8, U64, 1, "out_sig", &w[6]);
    if (!sig) goto done;
    int64_t *lstart = get(&bs, o[11], 8, I64, 1, "out_lstart", &w[7]);
    if (!lstart) goto done;
    int64_t *lend = get(&bs, o[12], 8, I64, 1, "out_lend", &w[8]);
    if (!lend) goto done;
    int64_t *hidx = get(&bs, o[13], 8, I64, 1, "out_hidx", &w[9]);
    if (!hidx) goto done;
    uint64_t *hsig = get(&bs, o[14], 8, U64, 1, "out_hsig", &w[10]);
    if (!hsig) goto done;
    Py_ssize_t m = n_off - 1;
    int bad = m < 0 || n1 != N || n2 != N || w[4] != m + 1 || header_tail < 0;
    for (int j = 0; j < 11; j++)
        if (j != 4 && w[j] < N) bad = 1;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "units_many: array lengths do not match");
        goto done;
    }
    if (check_offsets(tok_off, m, N, "units_many: tok_off") < 0) goto done;
    for (Py_ssize_t p = 0; p < m; p++)
        if (tok_off[p + 1] == tok_off[p]) {
            PyErr_SetString(PyExc_ValueError, "units_many: every page must hold a token");
            goto done;
        }
    Py_ssize_t nu = 0, nm = 0, nl = 0, nh = 0;
    for (Py_ssize_t p = 0; p < m; p++) {
        int64_t a = tok_off[p], b = tok_off[p + 1];
        Py_ssize_t ua = nu;
        uoff[p] = ua;
        /* units */
        for (int64_t t = a; t < b; t++) {
            if (t == a || lid[t] != lid[t - 1] || (tpl[t] != 0) != (tpl[t - 1] != 0)) {
                if (nu > ua) end[nu - 1] = t;
                first[nu] = t;
                is_tpl[nu] = tpl[t] != 0;
                nu++;
            }
        }
        end[nu - 1] = b;
        for (Py_ssize_t u = ua; u < nu; u++)
            whole[u] = (u == ua || lid[first[u]] != lid[first[u] - 1]) && (u == nu - 1 || lid[end[u]] != lid[end[u] - 1]);
        /* markers */
        for (Py_ssize_t u = ua; u < nu; u++) {
            int mk = is_tpl[u] || (whole[u] && end[u] - first[u] < marker_max);
            if (mk && (u == ua || !is_tpl[u - 1]) && (u == nu - 1 || !is_tpl[u + 1])) {
                midx[nm] = u;
                sig[nm] = range_hash(masked + first[u], end[u] - first[u]);
                nm++;
            }
        }
        /* lines of units, then header lines */
        Py_ssize_t la = nl;
        for (Py_ssize_t u = ua; u < nu; u++) {
            if (u == ua || lid[first[u]] != lid[first[u - 1]]) {
                if (nl > la) lend[nl - 1] = u - 1;
                lstart[nl++] = u;
            }
        }
        lend[nl - 1] = nu - 1;
        for (Py_ssize_t l = la; l < nl; l++) {
            int64_t ft = first[lstart[l]], et = end[lend[l]];
            if (et - ft >= header_max) continue;
            int64_t dig = 0;
            for (int64_t t = ft; t < et; t++) dig += masked[t] == DIGIT_TOKEN;
            if (!dig) continue;
            int near = 0;
            for (Py_ssize_t q = l - 1; q <= l + 1; q += 2) {
                if (q < la || q >= nl) continue;
                int64_t fr = 0;
                for (Py_ssize_t u = lstart[q]; u <= lend[q]; u++)
                    if (!is_tpl[u]) fr += end[u] - first[u];
                if (fr > 0) near = 1;
            }
            if (!near) continue;
            int64_t ts = et - header_tail > ft ? et - header_tail : ft;
            hidx[nh] = l;
            hsig[nh] = fmix64(range_hash(masked + ts, et - ts) ^ (uint64_t)salt);
            nh++;
        }
    }
    uoff[m] = nu;
    ret = Py_BuildValue("nnnn", nu, nm, nl, nh);
done:
    release_all(&bs);
    return ret;
}

/* lookup(keys, directory, shift, queries, out): for each query, the index of that value in the
 * sorted distinct uint64 ``keys`` or -1 (np.searchsorted plus an equality check), searching only
 * between directory[q >> shift] and directory[(q >> shift) + 1], the first indexes of the keys
 * whose top bits are at least those of q and the next value. Each directory pair is bounds-checked
 * as it is used; a directory that does not bracket the keys gives wrong indexes, never a read out
 * of bounds. */
static PyObject *lookup(PyObject *self, PyObject *args) {
    PyObject *ok, *od, *oq, *oo;
    int shift;
    if (!PyArg_ParseTuple(args, "OOiOO", &ok, &od, &shift, &oq, &oo)) return NULL;
    Bufs bs = {.n = 0};
    Py_ssize_t nk = 0, nd = 0, nq = 0, no = 0;
    const uint64_t *k = get(&bs, ok, 8, "LQ", 0, "keys", &nk);
    const int64_t *d = k ? get(&bs, od, 8, "lq", 0, "directory", &nd) : NULL;
    const uint64_t *q = d ? get(&bs, oq, 8, "LQ", 0, "queries", &nq) : NULL;
    int64_t *o = q ? get(&bs, oo, 8, "lq", 1, "out", &no) : NULL;
    if (o == NULL) {
        release_all(&bs);
        return NULL;
    }
    if (shift < 1 || shift > 63 || nd != ((Py_ssize_t)1 << (64 - shift)) + 1 || no < nq) {
        release_all(&bs);
        PyErr_SetString(PyExc_ValueError, "lookup: need 1 <= shift <= 63, len(directory) == 2**(64 - shift) + 1, len(out) >= len(queries)");
        return NULL;
    }
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nq; i++) {
        const uint64_t x = q[i];
        const uint64_t b = x >> shift;
        int64_t lo = d[b], hi = d[b + 1];
        if (lo < 0 || hi > (int64_t)nk || lo > hi) {
            bad = 1;
            break;
        }
        while (lo < hi) {
            const int64_t mid = lo + ((hi - lo) >> 1);
            if (k[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        o[i] = (lo < (int64_t)nk && k[lo] == x) ? lo : -1;
    }
    Py_END_ALLOW_THREADS
    release_all(&bs);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "lookup: a directory entry is out of the keys' bounds");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* count_pairs(fps, sites, min_count, out_site, out_fp, out_cnt, table) -> k: the distinct (site,
 * fingerprint) pairs of the records (uint64 fps[i], uint32 sites[i]) held by at least min_count
 * records, with their number, sorted by (site, fingerprint): out_*[0:k]. An open-addressing hash
 * table (linear probing, at most half full: cap = the least power of two >= max(16, 2 * len(fps))
 * slots of 16 bytes) counts them in one pass; only the kept pairs are sorted. ``table`` is the
 * caller's scratch (uint64, at least 2 * cap items; zeroed here), so that a caller counting bucket
 * after bucket reuses one buffer instead of allocating (and faulting in) a table per call. Outputs
 * hold at least len(fps) // min_count entries (the most there can be). */
typedef struct {
    uint64_t fp;
    uint32_t site;
    uint32_t cnt; /* 0: an empty slot */
} Pair;

static int pair_cmp(const void *a, const void *b) {
    const Pair *x = a, *y = b;
    if (x->site != y->site) return x->site < y->site ? -1 : 1;
    if (x->fp != y->fp) return x->fp < y->fp ? -1 : 1;
    return 0;
}

static PyObject *count_pairs(PyObject *self, PyObject *args) {
    PyObject *of, *os, *oos, *oof, *ooc, *ot;
    long long min_count;
    if (!PyArg_ParseTuple(args, "OOLOOOO", &of, &os, &min_count, &oos, &oof, &ooc, &ot)) return NULL;
    Bufs bs = {.n = 0};
    Py_ssize_t n = 0, ns = 0, n1 = 0, n2 = 0, n3 = 0, nt = 0;
    const uint64_t *fp = get(&bs, of, 8, "LQ", 0, "fps", &n);
    const uint32_t *site = fp ? get(&bs, os, 4, "IL", 0, "sites", &ns) : NULL;
    uint32_t *o_site = site ? get(&bs, oos, 4, "IL", 1, "out_site", &n1) : NULL;
    uint64_t *o_fp = o_site ? get(&bs, oof, 8, "LQ", 1, "out_fp", &n2) : NULL;
    uint32_t *o_cnt = o_fp ? get(&bs, ooc, 4, "IL", 1, "out_cnt", &n3) : NULL;
    uint64_t *raw = o_cnt ? get(&bs, ot, 8, "LQ", 1, "table", &nt) : NULL;
    if (raw == NULL) {
        release_all(&bs);
        return NULL;
    }
    if (min_count < 1) min_count = 1;
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap <<= 1;
    const Py_ssize_t most = (Py_ssize_t)((unsigned long long)n / (unsigned long long)min_count);
    if (ns != n || n1 < most || n2 < most || n3 < most || (size_t)nt < 2 * cap) {
        release_all(&bs);
        PyErr_SetString(PyExc_ValueError,
                        "count_pairs: one site per fingerprint, outputs of len(fps) // min_count, a table of 2 * cap uint64");
        return NULL;
    }
    Pair *table = (Pair *)raw;
    Py_ssize_t k = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(table, 0, cap * sizeof(Pair));
    const size_t mask = cap - 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint64_t f = fp[i];
        const uint32_t s = site[i];
        size_t h = (size_t)fmix64(f ^ ((uint64_t)s * 0x9E3779B97F4A7C15ULL)) & mask;
        for (;;) {
            Pair *p = &table[h];
            if (p->cnt == 0) {
                p->fp = f;
                p->site = s;
                p->cnt = 1;
                break;
            }
            if (p->fp == f && p->site == s) {
                p->cnt++;
                break;
            }
            h = (h + 1) & mask;
        }
    }
    for (size_t h = 0; h < cap; h++)
        if (table[h].cnt >= (uint64_t)min_count) table[k++] = table[h]; /* k <= h: in place */
    qsort(table, (size_t)k, sizeof(Pair), pair_cmp);
    for (Py_ssize_t j = 0; j < k; j++) {
        o_site[j] = table[j].site;
        o_fp[j] = table[j].fp;
        o_cnt[j] = table[j].cnt;
    }
    Py_END_ALLOW_THREADS
    release_all(&bs);
    return PyLong_FromSsize_t(k);
}

static PyMethodDef methods[] = {
    {"units_many", units_many, METH_VARARGS, "units, list markers and header lines of a chunk (see the file's comment)."},
    {"fingerprints", fingerprints, METH_VARARGS, "sorted unique fingerprints of a chunk's pages (see the file's comment)."},
    {"features", features, METH_VARARGS, "page_features_many of a chunk (see the file's comment)."},
    {"mask_many", mask_many, METH_VARARGS, "template_mask of a chunk (see the file's comment)."},
    {"runs_many", runs_many, METH_VARARGS, "template runs of a chunk (see the file's comment)."},
    {"main_runs", main_runs, METH_VARARGS, "main runs and off-main runs of a chunk (see the file's comment)."},
    {"lookup", lookup, METH_VARARGS, "indexes of values in sorted keys through a top-bits directory (see its comment)."},
    {"count_pairs", count_pairs, METH_VARARGS, "distinct (site, fingerprint) records held by min_count or more, counted (see its comment)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "site", "Site-level kernels of corpus mode.", -1, methods};

PyMODINIT_FUNC PyInit_site(void) { return PyModule_Create(&moduledef); }
