/* Kernels of the within-page passes (dedupe.engine.within) and of dedupe.core.segment.

Every function here has a numpy/Python twin (the reference) in the module that calls it; tests
compare the two. Arrays come in through the buffer protocol (C-contiguous; int64 = 8-byte items,
masks = 1-byte items); results are written into caller-allocated writable buffers or returned as
bytearrays that the caller wraps with numpy.frombuffer. A bad argument raises ValueError.

  sentence_bounds(text)                      -> (starts, ends) bytearrays of int64
  exact_groups(kg, tok_off, k, grp, cnt, flags) -> number of repeat groups
  exact_pieces(texts, tok_off, gstart, gend, grp, cnt, ng, ex, tok_chars, k, min_chars, context)
                                             -> (first, last, delta, page) bytearrays of int64
  near_page(text, norm, ratio, tstart, tend, nstart, nend, c_lo, c_hi, pairs, anchors,
            removed, kept_ref, excluded, threshold, context, evidence) -> (pieces, flagged)
  mark(out, a, b)                            -> None (out[a[i] : b[i] + 1] = 1)
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ buffers */

#define MAXBUF 16
typedef struct {
    Py_buffer v[MAXBUF];
    int n;
} Bufs;

static void bufs_release(Bufs *b) {
    for (int i = 0; i < b->n; i++) PyBuffer_Release(&b->v[i]);
    b->n = 0;
}

/* Get a C-contiguous buffer of items of `itemsize` bytes; *len = number of items. */
static void *bufs_get(Bufs *b, PyObject *o, Py_ssize_t itemsize, int writable, Py_ssize_t *len, const char *name) {
    if (b->n >= MAXBUF) {
        PyErr_SetString(PyExc_RuntimeError, "too many buffers");
        return NULL;
    }
    Py_buffer *v = &b->v[b->n];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, v, flags) < 0) return NULL;
    b->n++;
    const char *f = v->format ? v->format : "B";
    if (*f == '@' || *f == '=' || (*f == '<' && PY_LITTLE_ENDIAN)) f++;
    if (v->itemsize != itemsize || v->len % itemsize || f[0] == '\0' || f[1] != '\0' || !strchr("?bBhHiIlLqQnN", f[0]) ||
        (uintptr_t)v->buf % (uintptr_t)itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected aligned native integers of %zd bytes", name, itemsize);
        return NULL;
    }
    *len = v->len / itemsize;
    return v->buf;
}

/* the four token offset arrays of a page (tstart, tend, nstart, nend), checked to be of one length */
typedef struct {
    const int64_t *ts, *te, *ns, *ne;
    Py_ssize_t n;
} TokBufs;

static int tok_bufs(Bufs *B, PyObject *o_ts, PyObject *o_te, PyObject *o_ns, PyObject *o_ne, TokBufs *t) {
    Py_ssize_t n2, n3, n4;
    if (!(t->ts = bufs_get(B, o_ts, 8, 0, &t->n, "tstart")) || !(t->te = bufs_get(B, o_te, 8, 0, &n2, "tend")) ||
        !(t->ns = bufs_get(B, o_ns, 8, 0, &n3, "nstart")) || !(t->ne = bufs_get(B, o_ne, 8, 0, &n4, "nend")))
        return -1;
    if (n2 != t->n || n3 != t->n || n4 != t->n) {
        PyErr_SetString(PyExc_ValueError, "token arrays differ in length");
        return -1;
    }
    return 0;
}

static PyObject *new_i64_bytes(const int64_t *data, Py_ssize_t n) {
    return PyByteArray_FromStringAndSize((const char *)data, n * (Py_ssize_t)sizeof(int64_t));
}

static int check_offsets(const int64_t *off, Py_ssize_t m1, Py_ssize_t total, const char *name) {
    if (m1 < 1 || off[0] != 0 || off[m1 - 1] != total) {
        PyErr_Format(PyExc_ValueError, "%s: offsets must run from 0 to %zd", name, total);
        return -1;
    }
    for (Py_ssize_t i = 1; i < m1; i++)
        if (off[i] < off[i - 1]) {
            PyErr_Format(PyExc_ValueError, "%s: offsets must not decrease", name);
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------------ text helpers */

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
} Text;

static int text_of(PyObject *s, Text *t) {
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0) return -1;
#endif
    t->kind = PyUnicode_KIND(s);
    t->data = PyUnicode_DATA(s);
    t->len = PyUnicode_GET_LENGTH(s);
    return 0;
}

#define TCH(t, i) PyUnicode_READ((t)->kind, (t)->data, (i))

static int is_terminal(Py_UCS4 c) { /* segment.TERMINAL = ".!?…。！？" */
    return c == '.' || c == '!' || c == '?' || c == 0x2026 || c == 0x3002 || c == 0xFF01 || c == 0xFF1F;
}

static int is_score_skip(Py_UCS4 c) { /* context_score: " \t\"'«“‘(" */
    return c == ' ' || c == '\t' || c == '"' || c == '\'' || c == 0xAB || c == 0x201C || c == 0x2018 || c == '(';
}

/* within.context_score(text, start, end, touches_prev, touches_next); -1000 on a bad offset. */
static int context_score(const Text *t, int64_t start, int64_t end, int tp, int tn, int *score) {
    if (start < 0 || end < 0 || start > t->len) {
        PyErr_SetString(PyExc_ValueError, "context_score: offset outside the text");
        return -1;
    }
    int s = 0;
    Py_ssize_t j = (Py_ssize_t)start - 1;
    while (j >= 0 && is_score_skip(TCH(t, j))) j--;
    int at_start = j < 0 || TCH(t, j) == '\n' || is_terminal(TCH(t, j));
    if (at_start && start < t->len && Py_UNICODE_ISLOWER(TCH(t, start))) s -= 2;
    if (end < t->len) {
        Py_UCS4 c = TCH(t, end);
        if (c == 0x2026 || (c == '.' && end + 2 < t->len && TCH(t, end + 1) == '.' && TCH(t, end + 2) == '.')) s -= 1;
    }
    if (tp) s -= 1;
    if (tn) s -= 1;
    *score = s;
    return 0;
}

/* np.searchsorted(arr, v) (side "left") of a sorted array */
static Py_ssize_t lsearch(const int64_t *arr, Py_ssize_t n, int64_t v) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (arr[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------------ sentence_bounds */

#define C_TERM 1
#define C_CJK 2
#define C_CLOSER 4

static int char_class(Py_UCS4 c) {
    switch (c) {
    case '.': case '!': case '?': case 0x2026: return C_TERM;
    case 0x3002: case 0xFF01: case 0xFF1F: return C_CJK;
    case '"': case '\'': case 0xBB: case 0x201D: case 0x2019: case ')': case ']': return C_CLOSER;
    default: return 0;
    }
}

typedef struct {
    int64_t *st, *en;
    Py_ssize_t cap, cnt;
} Segs;

static int segs_grow(Segs *g) {
    Py_ssize_t ncap = g->cap * 2;
    int64_t *a = (int64_t *)realloc(g->st, sizeof(int64_t) * ncap);
    if (!a) return -1;
    g->st = a;
    int64_t *b = (int64_t *)realloc(g->en, sizeof(int64_t) * ncap);
    if (!b) return -1;
    g->en = b;
    g->cap = ncap;
    return 0;
}

/* str.isspace() of one character: no white space lies in U+0080..U+0084 or above U+3000 (a test
   checks every code point against the running Python) */
static inline int is_space_fast(Py_UCS4 c) {
    if (c < 128) return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
    if (c < 0x85 || c > 0x3000) return 0;
    return Py_UNICODE_ISSPACE(c);
}

/* one loop per string kind: walk the non-space characters; x = previous non-space, a gap is (x, y) */
#define SENTENCE_LOOP(T)                                                                                   \
    {                                                                                                      \
        const T *d = (const T *)t.data;                                                                    \
        Py_ssize_t x = -1;                                                                                 \
        int nl = 0;                                                                                        \
        for (Py_ssize_t y = 0; y < n; y++) {                                                               \
            Py_UCS4 c = d[y];                                                                              \
            if (is_space_fast(c)) {                                                                        \
                if (c == '\n') nl = 1;                                                                     \
                continue;                                                                                  \
            }                                                                                              \
            if (x < 0) {                                                                                   \
                g.st[0] = y;                                                                               \
            } else {                                                                                       \
                int cut = nl;                                                                              \
                if (y - x == 1) { /* no gap: only a CJK terminal cuts */                                   \
                    Py_UCS4 cx = d[x];                                                                     \
                    cut = cx == 0x3002 || cx == 0xFF01 || cx == 0xFF1F;                                    \
                } else if (!cut) {                                                                         \
                    int kx = char_class(d[x]);                                                             \
                    if (kx & C_CJK) cut = 1;                                                               \
                    else if (kx) {                                                                         \
                        if (kx & C_TERM) cut = 1;                                                          \
                        else if (kx & C_CLOSER) {                                                          \
                            Py_ssize_t p = x - 1;                                                          \
                            while (p >= 0 && (char_class(d[p]) & C_CLOSER)) p--;                           \
                            if (p >= 0 && (char_class(d[p]) & C_TERM)) cut = 1;                            \
                        }                                                                                  \
                    }                                                                                      \
                }                                                                                          \
                if (cut) {                                                                                 \
                    g.en[g.cnt] = x + 1;                                                                   \
                    g.cnt++;                                                                               \
                    g.st[g.cnt] = y;                                                                       \
                    if (g.cnt + 1 >= g.cap && segs_grow(&g) < 0) goto nomem;                               \
                }                                                                                          \
            }                                                                                              \
            x = y;                                                                                         \
            nl = 0;                                                                                        \
        }                                                                                                  \
        if (x >= 0) {                                                                                      \
            g.en[g.cnt] = x + 1;                                                                           \
            g.cnt++;                                                                                       \
        }                                                                                                  \
    }

/* the sentences/lines of a text into g (g->cnt = 0 first); -1 when out of memory (no exception set) */
static int sentence_split(const Text *tp, Segs *gp) {
    Text t = *tp;
    Segs g = *gp;
    Py_ssize_t n = t.len;
    g.cnt = 0;
    if (t.kind == PyUnicode_1BYTE_KIND) SENTENCE_LOOP(Py_UCS1)
    else if (t.kind == PyUnicode_2BYTE_KIND) SENTENCE_LOOP(Py_UCS2)
    else SENTENCE_LOOP(Py_UCS4)
    *gp = g;
    return 0;
nomem:
    *gp = g;
    return -1;
}

static int segs_init(Segs *g) {
    g->cap = 64;
    g->cnt = 0;
    g->st = (int64_t *)malloc(sizeof(int64_t) * g->cap);
    g->en = (int64_t *)malloc(sizeof(int64_t) * g->cap);
    return g->st && g->en ? 0 : -1;
}

static PyObject *k_sentence_bounds(PyObject *self, PyObject *args) {
    PyObject *s;
    if (!PyArg_ParseTuple(args, "U", &s)) return NULL;
    Text t;
    if (text_of(s, &t) < 0) return NULL;
    Segs g;
    if (segs_init(&g) < 0 || sentence_split(&t, &g) < 0) {
        free(g.st);
        free(g.en);
        return PyErr_NoMemory();
    }
    PyObject *a = new_i64_bytes(g.st, g.cnt), *b = a ? new_i64_bytes(g.en, g.cnt) : NULL;
    free(g.st);
    free(g.en);
    if (!b) {
        Py_XDECREF(a);
        return NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

/* near_blocks(texts, starts, tok_off, min_tok) -> (lo, hi, glo, ghi, c_off) bytearrays of int64.
   within._near_pre_many's candidate blocks: per page, the sentences/lines (sentence_bounds) as
   token ranges [lo, hi) (first token starting at or after each end, np.searchsorted), those of
   min_tok tokens or more; none on a page of fewer than 2 * min_tok tokens or with fewer than two
   candidates. lo/hi page-local, glo/ghi plus tok_off[page]; page i owns rows [c_off[i], c_off[i+1]).
   starts: one int64 array of token start offsets per page (sorted). */
static PyObject *k_near_blocks(PyObject *self, PyObject *args) {
    PyObject *texts, *starts, *o_off;
    Py_ssize_t min_tok;
    if (!PyArg_ParseTuple(args, "O!O!On", &PyList_Type, &texts, &PyList_Type, &starts, &o_off, &min_tok)) return NULL;
    Bufs B = {.n = 0};
    PyObject *res = NULL;
    Segs g = {NULL, NULL, 0, 0};
    int64_t *lo = NULL, *hi = NULL, *glo = NULL, *ghi = NULL, *coff = NULL;
    Py_ssize_t m = PyList_GET_SIZE(texts), m1, cap = 64, rows = 0;
    const int64_t *off = bufs_get(&B, o_off, 8, 0, &m1, "tok_off");
    if (!off) goto done;
    if (PyList_GET_SIZE(starts) != m || m1 != m + 1) { PyErr_SetString(PyExc_ValueError, "one text, one start array, one offset per page"); goto done; }
    if (m1 < 1 || off[0] != 0) { PyErr_SetString(PyExc_ValueError, "tok_off must start at 0"); goto done; }
    if (segs_init(&g) < 0) { PyErr_NoMemory(); goto done; }
    lo = (int64_t *)malloc(sizeof(int64_t) * cap);
    hi = (int64_t *)malloc(sizeof(int64_t) * cap);
    coff = (int64_t *)malloc(sizeof(int64_t) * (m + 1));
    if (!lo || !hi || !coff) { PyErr_NoMemory(); goto done; }
    coff[0] = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        coff[i + 1] = rows;
        Py_buffer v;
        if (PyObject_GetBuffer(PyList_GET_ITEM(starts, i), &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
        if (v.itemsize != 8 || v.len % 8) {
            PyBuffer_Release(&v);
            PyErr_SetString(PyExc_ValueError, "starts: int64 arrays expected");
            goto done;
        }
        const int64_t *ts = (const int64_t *)v.buf;
        Py_ssize_t n = v.len / 8;
        if (off[i + 1] - off[i] != n) {
            PyBuffer_Release(&v);
            PyErr_SetString(PyExc_ValueError, "tok_off does not match the start arrays");
            goto done;
        }
        if (n < 2 * min_tok) {
            PyBuffer_Release(&v);
            continue;
        }
        Text t;
        if (text_of(PyList_GET_ITEM(texts, i), &t) < 0 || sentence_split(&t, &g) < 0) {
            PyBuffer_Release(&v);
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t r0 = rows;
        for (Py_ssize_t q = 0; q < g.cnt; q++) {
            Py_ssize_t a = lsearch(ts, n, g.st[q]), b = lsearch(ts, n, g.en[q]);
            if (b - a < min_tok) continue;
            if (rows >= cap) {
                Py_ssize_t ncap = cap * 2;
                int64_t *x = (int64_t *)realloc(lo, sizeof(int64_t) * ncap);
                if (!x) { PyBuffer_Release(&v); PyErr_NoMemory(); goto done; }
                lo = x;
                int64_t *y = (int64_t *)realloc(hi, sizeof(int64_t) * ncap);
                if (!y) { PyBuffer_Release(&v); PyErr_NoMemory(); goto done; }
                hi = y;
                cap = ncap;
            }
            lo[rows] = a;
            hi[rows] = b;
            rows++;
        }
        PyBuffer_Release(&v);
        if (rows - r0 < 2) rows = r0; /* fewer than two candidate blocks: no LSH, no pairs */
        coff[i + 1] = rows;
    }
    glo = (int64_t *)malloc(sizeof(int64_t) * (rows + 1));
    ghi = (int64_t *)malloc(sizeof(int64_t) * (rows + 1));
    if (!glo || !ghi) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < m; i++)
        for (int64_t q = coff[i]; q < coff[i + 1]; q++) {
            glo[q] = lo[q] + off[i];
            ghi[q] = hi[q] + off[i];
        }
    PyObject *a1 = new_i64_bytes(lo, rows), *a2 = new_i64_bytes(hi, rows), *a3 = new_i64_bytes(glo, rows), *a4 = new_i64_bytes(ghi, rows);
    PyObject *a5 = new_i64_bytes(coff, m + 1);
    if (!a1 || !a2 || !a3 || !a4 || !a5) {
        Py_XDECREF(a1); Py_XDECREF(a2); Py_XDECREF(a3); Py_XDECREF(a4); Py_XDECREF(a5);
        goto done;
    }
    res = Py_BuildValue("(NNNNN)", a1, a2, a3, a4, a5);
done:
    free(g.st); free(g.en); free(lo); free(hi); free(glo); free(ghi); free(coff);
    bufs_release(&B);
    return res;
}

/* ------------------------------------------------------------------ exact pass */

/* exact_groups(kg, tok_off, k, grp, cnt, flags) -> number of groups.
   kg: uint64 k-gram hashes of the concatenated pages (kg[p] = k-gram starting at token p).
   Page i owns tokens [tok_off[i], tok_off[i+1]); its k-gram positions are those whose k tokens
   lie on the page. grp[p] (int64, N items): the repeat group of the k-gram at p (equal k-gram,
   same page; numbered from 0 in order of first occurrence), -1 for other positions. cnt[g]:
   occurrences of group g (N items at least). flags[i] (uint8): bit 1 = a k-gram of page i occurs
   twice; bit 2 = also, some k-gram equals the one d tokens later (0 < d < k) on the page. */
static PyObject *k_exact_groups(PyObject *self, PyObject *args) {
    PyObject *o_kg, *o_off, *o_grp, *o_cnt, *o_flags;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "OOnOOO", &o_kg, &o_off, &k, &o_grp, &o_cnt, &o_flags)) return NULL;
    Bufs B = {.n = 0};
    Py_ssize_t nkg, m1, N, ncnt, m;
    PyObject *res = NULL;
    uint64_t *keys = NULL;
    int64_t *vals = NULL;
    int32_t *stamp = NULL;
    const uint64_t *kg = bufs_get(&B, o_kg, 8, 0, &nkg, "kg");
    if (!kg) goto done;
    const int64_t *off = bufs_get(&B, o_off, 8, 0, &m1, "tok_off");
    if (!off) goto done;
    int64_t *grp = bufs_get(&B, o_grp, 8, 1, &N, "grp");
    if (!grp) goto done;
    int64_t *cnt = bufs_get(&B, o_cnt, 8, 1, &ncnt, "cnt");
    if (!cnt) goto done;
    uint8_t *flags = bufs_get(&B, o_flags, 1, 1, &m, "flags");
    if (!flags) goto done;
    if (k < 1) { PyErr_SetString(PyExc_ValueError, "k must be >= 1"); goto done; }
    if (check_offsets(off, m1, N, "tok_off") < 0) goto done;
    if (m != m1 - 1) { PyErr_SetString(PyExc_ValueError, "flags: one per page"); goto done; }
    if (ncnt < N) { PyErr_SetString(PyExc_ValueError, "cnt: too short"); goto done; }
    if (nkg < (N >= k ? N - k + 1 : 0)) { PyErr_SetString(PyExc_ValueError, "kg: too short"); goto done; }
    Py_ssize_t maxk = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        Py_ssize_t nk = off[i + 1] - off[i] - k + 1;
        if (nk > maxk) maxk = nk;
    }
    int bits = 1;
    while (((Py_ssize_t)1 << bits) < 2 * maxk) bits++;
    size_t tsize = (size_t)1 << bits, mask = tsize - 1;
    keys = (uint64_t *)malloc(sizeof(uint64_t) * tsize);
    vals = (int64_t *)malloc(sizeof(int64_t) * tsize);
    stamp = (int32_t *)calloc(tsize, sizeof(int32_t));
    if (!keys || !vals || !stamp) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t p = 0; p < N; p++) grp[p] = -1;
    int64_t ng = 0;
    int32_t pg_stamp = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        flags[i] = 0;
        int64_t lo = off[i], nk = off[i + 1] - off[i] - k + 1;
        if (nk <= 0) continue;
        if (pg_stamp == INT32_MAX) { /* recycle the stamps */
            memset(stamp, 0, sizeof(int32_t) * tsize);
            pg_stamp = 0;
        }
        pg_stamp++;
        int rep = 0;
        for (int64_t p = lo; p < lo + nk; p++) {
            uint64_t h = kg[p];
            size_t s = (size_t)((h * 0x9E3779B97F4A7C15ULL) >> (64 - bits)) & mask;
            for (;;) {
                if (stamp[s] != pg_stamp) {
                    stamp[s] = pg_stamp;
                    keys[s] = h;
                    vals[s] = ng;
                    cnt[ng] = 1;
                    grp[p] = ng++;
                    break;
                }
                if (keys[s] == h) {
                    grp[p] = vals[s];
                    cnt[vals[s]]++;
                    rep = 1;
                    break;
                }
                s = (s + 1) & mask;
            }
        }
        if (!rep) continue;
        flags[i] = 1;
        for (int64_t d = 1; d < k && d < nk; d++) {
            int hit = 0;
            for (int64_t j = lo; j < lo + nk - d; j++)
                if (kg[j] == kg[j + d]) { hit = 1; break; }
            if (hit) { flags[i] |= 2; break; }
        }
    }
    res = PyLong_FromLongLong(ng);
done:
    free(keys);
    free(vals);
    free(stamp);
    bufs_release(&B);
    return res;
}

/* exact_pieces(texts, tok_off, gstart, gend, grp, cnt, ng, ex, tok_chars, k, min_chars, context)
   The rest of within._exact_many after the periodic runs: regions of repeated k-grams, context
   scores, the kept occurrence of each group, removed tokens, their partner offsets and the
   pieces (runs of removed tokens with one offset, on one page, of >= min_chars normalised
   characters). Returns (first, last, delta, page) bytearrays of int64 (global token indices). */
static PyObject *k_exact_pieces(PyObject *self, PyObject *args) {
    PyObject *texts, *o_off, *o_gs, *o_ge, *o_grp, *o_cnt, *o_ex, *o_tc;
    Py_ssize_t ng, k, min_chars;
    int context;
    if (!PyArg_ParseTuple(args, "O!OOOOOnOOnnp", &PyList_Type, &texts, &o_off, &o_gs, &o_ge, &o_grp, &o_cnt, &ng, &o_ex, &o_tc, &k,
                          &min_chars, &context))
        return NULL;
    Bufs B = {.n = 0};
    PyObject *res = NULL;
    Py_ssize_t m1, N, n2, n3, n4, ncnt, n5, n6;
    int64_t *rep = NULL, *rpage = NULL, *score = NULL, *best = NULL, *free_cnt = NULL, *kept_pos = NULL;
    int64_t *cov_nk = NULL, *cov_k = NULL, *exc = NULL, *nk_pos = NULL, *nk_kept = NULL;
    int64_t *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
    uint8_t *touch = NULL;
    const int64_t *off = bufs_get(&B, o_off, 8, 0, &m1, "tok_off");
    if (!off) goto done;
    const int64_t *gs = bufs_get(&B, o_gs, 8, 0, &N, "gstart");
    if (!gs) goto done;
    const int64_t *ge = bufs_get(&B, o_ge, 8, 0, &n2, "gend");
    if (!ge) goto done;
    const int64_t *grp = bufs_get(&B, o_grp, 8, 0, &n3, "grp");
    if (!grp) goto done;
    const int64_t *cnt = bufs_get(&B, o_cnt, 8, 0, &ncnt, "cnt");
    if (!cnt) goto done;
    const uint8_t *ex = bufs_get(&B, o_ex, 1, 0, &n4, "ex");
    if (!ex) goto done;
    const int64_t *tc = bufs_get(&B, o_tc, 8, 0, &n5, "tok_chars");
    if (!tc) goto done;
    (void)n6;
    Py_ssize_t m = m1 - 1;
    if (k < 1) { PyErr_SetString(PyExc_ValueError, "k must be >= 1"); goto done; }
    if (check_offsets(off, m1, N, "tok_off") < 0) goto done;
    if (n2 != N || n3 != N || n4 != N || n5 != N + 1) { PyErr_SetString(PyExc_ValueError, "arrays must have one item per token"); goto done; }
    if (ng < 0 || ng > ncnt) { PyErr_SetString(PyExc_ValueError, "ng: more groups than counts"); goto done; }
    if (PyList_GET_SIZE(texts) != m) { PyErr_SetString(PyExc_ValueError, "texts: one per page"); goto done; }
    /* repeated k-gram positions, ascending, with their page */
    rep = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    rpage = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    if (!rep || !rpage) { PyErr_NoMemory(); goto done; }
    Py_ssize_t R = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        for (int64_t p = off[i]; p < off[i + 1]; p++) {
            int64_t g = grp[p];
            if (g < 0) continue;
            if (g >= ng || p + k > off[i + 1]) { PyErr_SetString(PyExc_ValueError, "grp: bad group or position"); goto done; }
            if (cnt[g] >= 2) { rep[R] = p; rpage[R] = i; R++; }
        }
    }
    score = (int64_t *)calloc(R + 1, sizeof(int64_t));
    touch = (uint8_t *)malloc(R + 1);
    exc = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    if (!score || !touch || !exc) { PyErr_NoMemory(); goto done; }
    /* regions: maximal runs of consecutive positions on one page; score of each region */
    if (context) {
        Py_ssize_t r0 = 0, prev_r0 = -1, prev_r1 = -1;
        int prev_touch_next = 0;
        int64_t prev_end = 0;
        Text t;
        Py_ssize_t t_page = -1;
        /* gap_ok(r) needs the next region: walk regions with one of look-ahead */
        while (r0 < R) {
            Py_ssize_t r1 = r0;
            while (r1 + 1 < R && rep[r1 + 1] == rep[r1] + 1 && rpage[r1 + 1] == rpage[r1]) r1++;
            /* region [r0, r1]; does it touch the previous one? */
            int touches_prev = prev_r0 >= 0 && rpage[r0] == rpage[prev_r0] && rep[r0] - prev_end <= 2;
            if (prev_r0 >= 0) {
                /* finish the previous region: its touches_next is touches_prev of this one */
                prev_touch_next = touches_prev;
                int64_t pg = rpage[prev_r0];
                if (pg != t_page) {
                    if (text_of(PyList_GET_ITEM(texts, pg), &t) < 0) goto done;
                    t_page = pg;
                }
                int sc;
                if (context_score(&t, gs[rep[prev_r0]], ge[rep[prev_r1] + k - 1], score[prev_r0] != 0, prev_touch_next, &sc) < 0) goto done;
                for (Py_ssize_t q = prev_r0; q <= prev_r1; q++) score[q] = sc;
            }
            /* stash whether this one touches its previous in score[r0] until it is scored */
            score[r0] = touches_prev;
            prev_r0 = r0;
            prev_r1 = r1;
            prev_end = rep[r1] + k;
            r0 = r1 + 1;
        }
        if (prev_r0 >= 0) {
            int64_t pg = rpage[prev_r0];
            if (pg != t_page) {
                if (text_of(PyList_GET_ITEM(texts, pg), &t) < 0) goto done;
                t_page = pg;
            }
            int sc;
            if (context_score(&t, gs[rep[prev_r0]], ge[rep[prev_r1] + k - 1], score[prev_r0] != 0, 0, &sc) < 0) goto done;
            for (Py_ssize_t q = prev_r0; q <= prev_r1; q++) score[q] = sc;
        }
    }
    /* touch: the k-gram covers an excluded token; groups with a free occurrence are live */
    exc[0] = 0;
    for (Py_ssize_t p = 0; p < N; p++) exc[p + 1] = exc[p] + (ex[p] != 0);
    free_cnt = (int64_t *)calloc(ng + 1, sizeof(int64_t));
    best = (int64_t *)malloc(sizeof(int64_t) * (ng + 1));
    kept_pos = (int64_t *)malloc(sizeof(int64_t) * (ng + 1));
    if (!free_cnt || !best || !kept_pos) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t q = 0; q < R; q++) {
        touch[q] = exc[rep[q] + k] - exc[rep[q]] > 0;
        if (!touch[q]) free_cnt[grp[rep[q]]]++;
    }
    /* kept occurrence of each live group: min (touch, -score, position) */
    for (Py_ssize_t g = 0; g < ng; g++) best[g] = -1;
    for (Py_ssize_t q = 0; q < R; q++) {
        int64_t g = grp[rep[q]];
        if (free_cnt[g] <= 0) continue;
        int64_t b = best[g];
        if (b < 0 || touch[q] < touch[b] || (touch[q] == touch[b] && score[q] > score[b])) best[g] = q;
    }
    for (Py_ssize_t g = 0; g < ng; g++) kept_pos[g] = best[g] >= 0 ? rep[best[g]] : -1;
    /* coverage of the other occurrences minus that of the kept ones */
    cov_nk = (int64_t *)calloc(N + 2, sizeof(int64_t));
    cov_k = (int64_t *)calloc(N + 2, sizeof(int64_t));
    nk_pos = (int64_t *)malloc(sizeof(int64_t) * (R + 1));
    nk_kept = (int64_t *)malloc(sizeof(int64_t) * (R + 1));
    if (!cov_nk || !cov_k || !nk_pos || !nk_kept) { PyErr_NoMemory(); goto done; }
    Py_ssize_t NK = 0;
    for (Py_ssize_t q = 0; q < R; q++) {
        int64_t g = grp[rep[q]];
        if (free_cnt[g] <= 0) continue;
        int64_t p = rep[q], e = p + k < N ? p + k : N;
        if (kept_pos[g] == p) {
            cov_k[p]++;
            cov_k[e]--;
        } else {
            cov_nk[p]++;
            cov_nk[e]--;
            nk_pos[NK] = p;
            nk_kept[NK] = kept_pos[g];
            NK++;
        }
    }
    /* removed tokens in order; pieces: runs with one delta on one page */
    o1 = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    o2 = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    o3 = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    o4 = (int64_t *)malloc(sizeof(int64_t) * (N + 1));
    if (!o1 || !o2 || !o3 || !o4) { PyErr_NoMemory(); goto done; }
    Py_ssize_t P = 0, page = 0, last_nk = -1, nk_i = 0;
    int64_t a_nk = 0, a_k = 0, run_first = -1, run_last = -1, run_d = 0, run_page = -1;
    for (Py_ssize_t t = 0; t < N; t++) {
        a_nk += cov_nk[t];
        a_k += cov_k[t];
        while (nk_i < NK && nk_pos[nk_i] <= t) last_nk = nk_i++;
        while (page < m && off[page + 1] <= t) page++;
        if (!(a_nk > 0 && a_k == 0 && !ex[t])) continue;
        int64_t d = nk_kept[last_nk] - nk_pos[last_nk]; /* last_nk >= 0: t is covered by a window */
        if (run_first >= 0 && t == run_last + 1 && d == run_d && page == run_page) {
            run_last = t;
            continue;
        }
        if (run_first >= 0 && tc[run_last + 1] - tc[run_first] >= min_chars) {
            o1[P] = run_first; o2[P] = run_last; o3[P] = run_d; o4[P] = run_page; P++;
        }
        run_first = run_last = t;
        run_d = d;
        run_page = page;
    }
    if (run_first >= 0 && tc[run_last + 1] - tc[run_first] >= min_chars) {
        o1[P] = run_first; o2[P] = run_last; o3[P] = run_d; o4[P] = run_page; P++;
    }
    for (Py_ssize_t q = 0; q < P; q++)
        if (o1[q] + o3[q] < 0 || o2[q] + o3[q] >= N) { PyErr_SetString(PyExc_ValueError, "partner outside the tokens"); goto done; }
    PyObject *a1 = new_i64_bytes(o1, P), *a2 = new_i64_bytes(o2, P), *a3 = new_i64_bytes(o3, P), *a4 = new_i64_bytes(o4, P);
    if (!a1 || !a2 || !a3 || !a4) {
        Py_XDECREF(a1); Py_XDECREF(a2); Py_XDECREF(a3); Py_XDECREF(a4);
        goto done;
    }
    res = Py_BuildValue("(NNNN)", a1, a2, a3, a4);
done:
    free(rep); free(rpage); free(score); free(best); free(free_cnt); free(kept_pos);
    free(cov_nk); free(cov_k); free(exc); free(nk_pos); free(nk_kept); free(touch);
    free(o1); free(o2); free(o3); free(o4);
    bufs_release(&B);
    return res;
}

/* ------------------------------------------------------------------ near pass */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static Py_ssize_t find_root(int64_t *parent, Py_ssize_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* rule codes of the near pieces (within.py maps them to rule names) */
#define R_PLAIN 0
#define R_ADJACENT 1
#define R_JOINED 2
#define R_FLAGGED 3

static int emit_runs(PyObject *list, const uint8_t *blocked, int64_t a, int64_t b, const int64_t *ts, const int64_t *te, int rule,
                     double score, int64_t ks, int64_t ke) {
    int64_t t = a;
    while (t < b) {
        if (blocked[t]) { t++; continue; }
        int64_t t0 = t;
        while (t + 1 < b && !blocked[t + 1]) t++;
        PyObject *it = Py_BuildValue("(LLidLL)", (long long)ts[t0], (long long)te[t], rule, score, (long long)ks, (long long)ke);
        if (!it || PyList_Append(list, it) < 0) { Py_XDECREF(it); return -1; }
        Py_DECREF(it);
        t++;
    }
    return 0;
}

/* ratio(norm[block i], norm[block j], **kw) as a double (blocks' strings cached in seg) */
static int seg_ratio(PyObject *norm, PyObject *ratio, PyObject *kw, PyObject **seg, const int64_t *ns, const int64_t *ne,
                     const int64_t *c_lo, const int64_t *c_hi, int64_t i, int64_t j, double *out) {
    int64_t ij[2] = {i, j};
    for (int s = 0; s < 2; s++)
        if (!seg[ij[s]]) {
            int64_t a = ns[c_lo[ij[s]]], b = ne[c_hi[ij[s]] - 1];
            if (a < 0 || b < 0) {
                PyErr_SetString(PyExc_ValueError, "negative offset in the normalised text");
                return -1;
            }
            if (b < a) b = a; /* Python's slice: empty */
            seg[ij[s]] = PyUnicode_Substring(norm, a, b);
            if (!seg[ij[s]]) return -1;
        }
    PyObject *args = PyTuple_Pack(2, seg[i], seg[j]);
    if (!args) return -1;
    PyObject *r = PyObject_Call(ratio, args, kw);
    Py_DECREF(args);
    if (!r) return -1;
    double v = PyFloat_AsDouble(r);
    Py_DECREF(r);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

/* within.near_repeats after its candidate pairs: anchored pairs, verification with `ratio`
   (rapidfuzz's fuzz.ratio), groups, canonical blocks and the pieces, appended to `pieces` and
   `flagged` as (start, end, rule code, score, kept start, kept end). Candidate blocks: token
   ranges [c_lo[i], c_hi[i]); pairs: npairs (i, j); anchors: nanc (removed token, kept token).
   `removed` (one byte per token) is updated in place. Returns 0, or -1 with an exception set. */
static int near_core(const Text *tx, PyObject *o_norm, PyObject *ratio, const int64_t *ts, const int64_t *te, const int64_t *ns,
                     const int64_t *ne, Py_ssize_t n, const int64_t *c_lo, const int64_t *c_hi, Py_ssize_t mc, const int64_t *pairs,
                     Py_ssize_t npairs, const int64_t *anc, Py_ssize_t nanc, uint8_t *removed, const uint8_t *kref, const uint8_t *exc,
                     double thr, int context, int evidence, PyObject *pieces, PyObject *flagged) {
    int ret = -1;
    PyObject *kw = NULL, *cutoff_obj = NULL;
    PyObject **seg = NULL;
    int64_t *codes = NULL, *parent = NULL, *nodes = NULL, *head = NULL, *nxt = NULL, *tail = NULL, *nrem = NULL;
    double *bscore = NULL;
    uint8_t *blocked = NULL, *ok_pair = NULL, *pinned = NULL;
    Py_ssize_t np2 = 2 * npairs;
    for (Py_ssize_t i = 0; i < mc; i++)
        if (c_lo[i] < 0 || c_lo[i] >= c_hi[i] || c_hi[i] > n || (i && c_lo[i] < c_hi[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "blocks must be sorted, disjoint, non-empty token ranges");
            goto fail;
        }
    for (Py_ssize_t q = 0; q < np2; q++)
        if (pairs[q] < 0 || pairs[q] >= mc) { PyErr_SetString(PyExc_ValueError, "pair outside the blocks"); goto fail; }
    /* all pairs as codes i * mc + j: LSH pairs, then anchored pairs (block of a removed token,
       block of its kept copy) */
    codes = (int64_t *)malloc(sizeof(int64_t) * (npairs + nanc + 1));
    if (!codes) { PyErr_NoMemory(); goto fail; }
    Py_ssize_t nc = 0;
    for (Py_ssize_t q = 0; q < npairs; q++) codes[nc++] = pairs[2 * q] * mc + pairs[2 * q + 1];
    for (Py_ssize_t q = 0; q < nanc; q++) {
        int64_t ci[2];
        for (int s = 0; s < 2; s++) {
            int64_t v = anc[2 * q + s];
            /* last block with c_lo <= v */
            Py_ssize_t lo = 0, hi = mc;
            while (lo < hi) {
                Py_ssize_t mid = (lo + hi) / 2;
                if (c_lo[mid] <= v) lo = mid + 1;
                else hi = mid;
            }
            int64_t c = (int64_t)lo - 1;
            if (c >= 0 && v >= c_hi[c]) c = -1;
            ci[s] = c;
        }
        if (ci[0] >= 0 && ci[1] >= 0 && ci[0] != ci[1]) {
            int64_t x = ci[0] < ci[1] ? ci[0] : ci[1], y = ci[0] < ci[1] ? ci[1] : ci[0];
            codes[nc++] = x * mc + y;
        }
    }
    /* sorted and unique (np.unique's order; the order of verification does not change the result) */
    qsort(codes, nc, sizeof(int64_t), cmp_i64);
    {
        Py_ssize_t u = 0;
        for (Py_ssize_t q = 0; q < nc; q++)
            if (!u || codes[q] != codes[u - 1]) codes[u++] = codes[q];
        nc = u;
    }
    if (!nc) goto ok;
    /* verify the pairs */
    seg = (PyObject **)calloc(mc, sizeof(PyObject *));
    parent = (int64_t *)malloc(sizeof(int64_t) * mc);
    bscore = (double *)malloc(sizeof(double) * nc);
    ok_pair = (uint8_t *)calloc(nc, 1);
    if (!seg || !parent || !bscore || !ok_pair) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t i = 0; i < mc; i++) parent[i] = i;
    double cutoff = thr * 100;
    kw = PyDict_New();
    cutoff_obj = PyFloat_FromDouble(cutoff);
    if (!kw || !cutoff_obj || PyDict_SetItemString(kw, "score_cutoff", cutoff_obj) < 0) goto fail;
    int any = 0;
    for (Py_ssize_t q = 0; q < nc; q++) {
        int64_t ij[2] = {codes[q] / mc, codes[q] % mc};
        double sc;
        if (seg_ratio(o_norm, ratio, kw, seg, ns, ne, c_lo, c_hi, ij[0], ij[1], &sc) < 0) goto fail;
        if (sc >= cutoff) {
            Py_ssize_t ra = find_root(parent, ij[0]), rb = find_root(parent, ij[1]);
            if (ra != rb) {
                if (ra < rb) parent[rb] = ra;
                else parent[ra] = rb;
            }
            bscore[q] = sc / 100;
            ok_pair[q] = 1;
            any = 1;
        }
    }
    if (!any) goto ok;
    blocked = (uint8_t *)malloc(n + 1);
    nodes = (int64_t *)malloc(sizeof(int64_t) * (2 * nc + 1));
    head = (int64_t *)malloc(sizeof(int64_t) * mc);
    tail = (int64_t *)malloc(sizeof(int64_t) * mc);
    nxt = (int64_t *)malloc(sizeof(int64_t) * mc);
    nrem = (int64_t *)malloc(sizeof(int64_t) * mc);
    pinned = (uint8_t *)malloc(mc);
    if (!blocked || !nodes || !head || !tail || !nxt || !nrem || !pinned) { PyErr_NoMemory(); goto fail; }
    /* blocked: removed here or by another level */
    for (Py_ssize_t t = 0; t < n; t++) blocked[t] = removed[t] || (exc && exc[t]);
    Py_ssize_t nn = 0;
    for (Py_ssize_t q = 0; q < nc; q++)
        if (ok_pair[q]) {
            nodes[nn++] = codes[q] / mc;
            nodes[nn++] = codes[q] % mc;
        }
    qsort(nodes, nn, sizeof(int64_t), cmp_i64);
    {
        Py_ssize_t u = 0;
        for (Py_ssize_t q = 0; q < nn; q++)
            if (!u || nodes[q] != nodes[u - 1]) nodes[u++] = nodes[q];
        nn = u;
    }
    /* groups in order of their smallest member (the root), members ascending; per-block state
       before the loop: tokens already blocked, holds a kept copy of removed text */
    for (Py_ssize_t q = 0; q < nn; q++) head[find_root(parent, nodes[q])] = -1;
    for (Py_ssize_t q = 0; q < nn; q++) {
        int64_t i = nodes[q], r = find_root(parent, i), c = 0, pr = 0;
        nxt[i] = -1;
        if (head[r] < 0) head[r] = i;
        else nxt[tail[r]] = i;
        tail[r] = i;
        for (int64_t t = c_lo[i]; t < c_hi[i]; t++) {
            c += blocked[t];
            pr |= kref[t];
        }
        nrem[i] = c;
        pinned[i] = pr != 0;
    }
    for (Py_ssize_t q = 0; q < nn; q++) {
        int64_t root = nodes[q];
        if (find_root(parent, root) != root) continue;
        /* canonical block: min (-pinned, -context score, index) over the intact members */
        int64_t canon = -1;
        int cbest_pin = 0, cbest_sc = 0;
        for (int64_t i = head[root]; i >= 0; i = nxt[i]) {
            if (nrem[i]) continue;
            int sc = 0;
            if (context && context_score(tx, ts[c_lo[i]], te[c_hi[i] - 1], 0, 0, &sc) < 0) goto fail;
            if (canon < 0 || pinned[i] > cbest_pin || (pinned[i] == cbest_pin && sc > cbest_sc)) {
                canon = i;
                cbest_pin = pinned[i];
                cbest_sc = sc;
            }
        }
        if (canon < 0) continue;
        int64_t ks = ts[c_lo[canon]], ke = te[c_hi[canon] - 1];
        for (int64_t i = head[root]; i >= 0; i = nxt[i]) {
            if (i == canon || pinned[i]) continue;
            int64_t a = c_lo[i], b = c_hi[i];
            int all = 1;
            for (int64_t t = a; t < b; t++)
                if (!blocked[t]) { all = 0; break; }
            if (all) continue;
            int64_t x = i < canon ? i : canon, y = i < canon ? canon : i, key = x * mc + y;
            Py_ssize_t lo = 0, hi = nc;
            while (lo < hi) {
                Py_ssize_t mid = (lo + hi) / 2;
                if (codes[mid] < key) lo = mid + 1;
                else hi = mid;
            }
            double score;
            if (lo < nc && codes[lo] == key && ok_pair[lo]) {
                score = thr > bscore[lo] ? thr : bscore[lo]; /* max(best, threshold) */
            } else { /* joined only transitively: compare with the canonical block */
                double sc;
                if (seg_ratio(o_norm, ratio, NULL, seg, ns, ne, c_lo, c_hi, i, canon, &sc) < 0) goto fail;
                score = sc / 100;
                if (score < thr) continue;
            }
            int rule = R_PLAIN;
            if (evidence) {
                int64_t ca = c_lo[canon], cb = c_hi[canon];
                int btb = b == ca || cb == a, touches = 0;
                for (int64_t t = a - 2 < 0 ? 0 : a - 2; t < a && !touches; t++) touches = removed[t] != 0;
                for (int64_t t = b; t < b + 2 && t < n && !touches; t++) touches = removed[t] != 0;
                for (int64_t t = a; t < b && !touches; t++) touches = removed[t] != 0;
                if (!(btb || touches)) {
                    if (emit_runs(flagged, blocked, a, b, ts, te, R_FLAGGED, score, ks, ke) < 0) goto fail;
                    continue;
                }
                rule = btb ? R_ADJACENT : R_JOINED;
            }
            if (emit_runs(pieces, blocked, a, b, ts, te, rule, score, ks, ke) < 0) goto fail;
            for (int64_t t = a; t < b; t++)
                if (!blocked[t]) removed[t] = blocked[t] = 1;
        }
    }
ok:
    ret = 0;
fail:
    if (seg) {
        for (Py_ssize_t i = 0; i < mc; i++) Py_XDECREF(seg[i]);
        free(seg);
    }
    Py_XDECREF(kw);
    Py_XDECREF(cutoff_obj);
    free(codes); free(parent); free(nodes); free(head); free(nxt); free(tail); free(bscore); free(blocked); free(ok_pair); free(nrem); free(pinned);
    return ret;
}

/* near_page(text, norm, ratio, tstart, tend, nstart, nend, c_lo, c_hi, pairs, anchors, removed, kept_ref,
             excluded, threshold, context, evidence) -> (pieces, flagged): near_core of one page. */
static PyObject *k_near_page(PyObject *self, PyObject *args) {
    PyObject *o_text, *o_norm, *ratio, *o_ts, *o_te, *o_ns, *o_ne, *o_lo, *o_hi, *o_pairs, *o_anc, *o_rem, *o_ref, *o_exc;
    double thr;
    int context, evidence;
    if (!PyArg_ParseTuple(args, "UUOOOOOOOOOOOOdpp", &o_text, &o_norm, &ratio, &o_ts, &o_te, &o_ns, &o_ne, &o_lo, &o_hi, &o_pairs, &o_anc,
                          &o_rem, &o_ref, &o_exc, &thr, &context, &evidence))
        return NULL;
    Bufs B = {.n = 0};
    PyObject *res = NULL, *pieces = NULL, *flagged = NULL;
    Py_ssize_t n, mc, mc2, np2, na, nr, nref, nexc = 0;
    Text text;
    if (text_of(o_text, &text) < 0) return NULL;
    TokBufs T;
    if (tok_bufs(&B, o_ts, o_te, o_ns, o_ne, &T) < 0) goto done;
    const int64_t *ts = T.ts, *te = T.te, *ns = T.ns, *ne = T.ne;
    n = T.n;
    const int64_t *c_lo = bufs_get(&B, o_lo, 8, 0, &mc, "c_lo");
    if (!c_lo) goto done;
    const int64_t *c_hi = bufs_get(&B, o_hi, 8, 0, &mc2, "c_hi");
    if (!c_hi) goto done;
    const int64_t *pairs = bufs_get(&B, o_pairs, 8, 0, &np2, "pairs");
    if (!pairs) goto done;
    const int64_t *anc = bufs_get(&B, o_anc, 8, 0, &na, "anchors");
    if (!anc) goto done;
    uint8_t *removed = bufs_get(&B, o_rem, 1, 1, &nr, "removed");
    if (!removed) goto done;
    const uint8_t *kref = bufs_get(&B, o_ref, 1, 0, &nref, "kept_ref");
    if (!kref) goto done;
    const uint8_t *exc = NULL;
    if (o_exc != Py_None) {
        exc = bufs_get(&B, o_exc, 1, 0, &nexc, "excluded");
        if (!exc) goto done;
    }
    if (nr != n || nref != n || (exc && nexc != n)) {
        PyErr_SetString(PyExc_ValueError, "token arrays differ in length");
        goto done;
    }
    if (mc2 != mc || np2 % 2 || na % 2) { PyErr_SetString(PyExc_ValueError, "bad block, pair or anchor arrays"); goto done; }
    pieces = PyList_New(0);
    flagged = PyList_New(0);
    if (!pieces || !flagged) goto done;
    if (near_core(&text, o_norm, ratio, ts, te, ns, ne, n, c_lo, c_hi, mc, pairs, np2 / 2, anc, na / 2, removed, kref, exc, thr, context,
                  evidence, pieces, flagged) < 0)
        goto done;
    res = PyTuple_Pack(2, pieces, flagged);
done:
    Py_XDECREF(pieces);
    Py_XDECREF(flagged);
    bufs_release(&B);
    return res;
}

/* ------------------------------------------------------------------ one page, after the exact pass */

static int is_kind_skip(Py_UCS4 c) { /* _start_kind: whitespace or "\"'«“‘(>" */
    return Py_UNICODE_ISSPACE(c) || c == '"' || c == '\'' || c == 0xAB || c == 0x201C || c == 0x2018 || c == '(' || c == '>';
}

/* _start_kind(text, pos) == "sentence" */
static int starts_sentence(const Text *t, int64_t pos) {
    Py_ssize_t j = (Py_ssize_t)pos - 1;
    if (j >= t->len) j = t->len - 1; /* not reached with pos <= len */
    while (j >= 0 && is_kind_skip(TCH(t, j))) j--;
    return j >= 0 && is_terminal(TCH(t, j));
}

/* _ellipsis_after(text, pos): text[pos : pos + 4].lstrip(" \t") starts with "…" or "..." */
static int ellipsis_after(const Text *t, int64_t pos) {
    Py_ssize_t end = pos + 4 < t->len ? (Py_ssize_t)pos + 4 : t->len, i = (Py_ssize_t)pos;
    while (i < end && (TCH(t, i) == ' ' || TCH(t, i) == '\t')) i++;
    if (i < end && TCH(t, i) == 0x2026) return 1;
    return i + 2 < end && TCH(t, i) == '.' && TCH(t, i + 1) == '.' && TCH(t, i + 2) == '.';
}

#define W_NONE 0
#define W_ADJACENT 1
#define W_FRAGMENT 2
#define W_TRUNCATED 3
#define W_JOINED 4
#define W_ALL 5 /* no artefact evidence asked: every piece removed */

/* _evidence_at(text, a, b, ka, kb, sa, sk, ea, ek) as a W_ code; -1 on a bad offset */
static int evidence_at(const Text *t, int64_t a, int64_t b, int64_t ka, int64_t kb, int64_t sa, int64_t sk, int64_t ea, int64_t ek) {
    if (b + 1 >= ka && kb + 1 >= a) return W_ADJACENT;
    if (sa < 0 || sk < 0 || ea < 0 || ek < 0 || sa >= t->len || sk >= t->len) {
        PyErr_SetString(PyExc_ValueError, "piece offset outside the text");
        return -1;
    }
    int ka_sent = starts_sentence(t, sk), a_sent = starts_sentence(t, sa);
    if ((Py_UNICODE_ISLOWER(TCH(t, sa)) && a_sent && !ka_sent) || (Py_UNICODE_ISLOWER(TCH(t, sk)) && ka_sent && !a_sent)) return W_FRAGMENT;
    if (ellipsis_after(t, ea) != ellipsis_after(t, ek)) return W_TRUNCATED;
    return W_NONE;
}

typedef struct {
    int64_t a, b, i;
} Iv;

static int cmp_iv(const void *x, const void *y) {
    const Iv *p = (const Iv *)x, *q = (const Iv *)y;
    if (p->a != q->a) return (p->a > q->a) - (p->a < q->a);
    if (p->b != q->b) return (p->b > q->b) - (p->b < q->b);
    return (p->i > q->i) - (p->i < q->i);
}

static void mark_range(uint8_t *m, Py_ssize_t n, int64_t a, int64_t b) { /* m[a : b + 1] = 1 (clipped to n) */
    int64_t hi = b < n ? b + 1 : n;
    for (int64_t t = a < 0 ? 0 : a; t < hi; t++) m[t] = 1;
}

typedef struct {
    int64_t start, end, idx;
} Fl;

static int cmp_fl(const void *x, const void *y) { /* (start, end), then position: a stable sort */
    const Fl *p = (const Fl *)x, *q = (const Fl *)y;
    if (p->start != q->start) return (p->start > q->start) - (p->start < q->start);
    if (p->end != q->end) return (p->end > q->end) - (p->end < q->end);
    return 0;
}

/* within_page(text, norm, ratio, tstart, tend, nstart, nend, raw, excluded, removed, c_lo, c_hi, pairs,
               near_stage, threshold, context, evidence) -> (codes, near_pieces, flagged_order, near_flagged)
   within.within_analysis of a page without periodic runs, from its exact pieces on: _gate, the
   removed and kept-copy masks, near_repeats (when near_stage and two or more candidate blocks) and
   the merge of the flagged repeats. raw: int64 (m, 7) rows (a, b, d, start, end, kept start,
   kept end) of the exact pieces; removed: zeroed, one byte per token, filled here. codes: bytes,
   one W_ code per exact piece (W_NONE: flagged). flagged_order: the flagged pieces in their final
   order, i >= 0 the exact piece i, -1 - j the near item j. */
static PyObject *k_within_page(PyObject *self, PyObject *args) {
    PyObject *o_text, *o_norm, *ratio, *o_ts, *o_te, *o_ns, *o_ne, *o_raw, *o_exc, *o_rem, *o_lo, *o_hi, *o_pairs;
    double thr;
    int near_stage, context, evidence;
    if (!PyArg_ParseTuple(args, "UUOOOOOOOOOOOpdpp", &o_text, &o_norm, &ratio, &o_ts, &o_te, &o_ns, &o_ne, &o_raw, &o_exc, &o_rem, &o_lo,
                          &o_hi, &o_pairs, &near_stage, &thr, &context, &evidence))
        return NULL;
    Bufs B = {.n = 0};
    PyObject *res = NULL, *codes_obj = NULL, *near_p = NULL, *near_f = NULL, *order = NULL;
    Py_ssize_t n, nraw, nexc, nr, mc, mc2, np2;
    uint8_t *kref = NULL, *seen = NULL;
    int64_t *parent = NULL, *anc = NULL, *csum = NULL;
    Iv *ivs = NULL;
    Fl *fl = NULL;
    uint8_t *has = NULL;
    Text text;
    if (text_of(o_text, &text) < 0) return NULL;
    TokBufs T;
    if (tok_bufs(&B, o_ts, o_te, o_ns, o_ne, &T) < 0) goto done;
    const int64_t *ts = T.ts, *te = T.te, *ns = T.ns, *ne = T.ne;
    n = T.n;
    const int64_t *raw = bufs_get(&B, o_raw, 8, 0, &nraw, "raw");
    if (!raw) goto done;
    const uint8_t *exc = bufs_get(&B, o_exc, 1, 0, &nexc, "excluded");
    if (!exc) goto done;
    uint8_t *removed = bufs_get(&B, o_rem, 1, 1, &nr, "removed");
    if (!removed) goto done;
    const int64_t *c_lo = bufs_get(&B, o_lo, 8, 0, &mc, "c_lo");
    if (!c_lo) goto done;
    const int64_t *c_hi = bufs_get(&B, o_hi, 8, 0, &mc2, "c_hi");
    if (!c_hi) goto done;
    const int64_t *pairs = bufs_get(&B, o_pairs, 8, 0, &np2, "pairs");
    if (!pairs) goto done;
    if (nexc != n || nr != n) { PyErr_SetString(PyExc_ValueError, "token arrays differ in length"); goto done; }
    if (nraw % 7 || mc2 != mc || np2 % 2) { PyErr_SetString(PyExc_ValueError, "bad piece, block or pair arrays"); goto done; }
    Py_ssize_t m = nraw / 7;
    codes_obj = PyBytes_FromStringAndSize(NULL, m);
    near_p = PyList_New(0);
    near_f = PyList_New(0);
    order = PyList_New(0);
    kref = (uint8_t *)calloc(n + 1, 1);
    parent = (int64_t *)malloc(sizeof(int64_t) * (m + 1));
    ivs = (Iv *)malloc(sizeof(Iv) * (m + 1));
    has = (uint8_t *)calloc(m + 1, 1);
    anc = (int64_t *)malloc(sizeof(int64_t) * (4 * m + 1));
    if (!codes_obj || !near_p || !near_f || !order) goto done;
    if (!kref || !parent || !ivs || !has || !anc) { PyErr_NoMemory(); goto done; }
    char *code = PyBytes_AS_STRING(codes_obj);
    /* _gate: evidence of each piece, clusters of removed pieces touching each other */
    for (Py_ssize_t i = 0; i < m; i++) {
        const int64_t *r = raw + 7 * i;
        if (!evidence) { code[i] = W_ALL; continue; }
        int w = evidence_at(&text, r[0], r[1], r[0] + r[2], r[1] + r[2], r[3], r[5], r[4], r[6]);
        if (w < 0) goto done;
        code[i] = (char)w;
        parent[i] = i;
        ivs[i].a = r[0];
        ivs[i].b = r[1];
        ivs[i].i = i;
    }
    if (evidence && m) {
        qsort(ivs, m, sizeof(Iv), cmp_iv);
        int64_t end = -1000000000LL, last = -1;
        for (Py_ssize_t q = 0; q < m; q++) {
            int64_t a = ivs[q].a, b = ivs[q].b, i = ivs[q].i;
            if (last >= 0 && a - end - 1 <= 0) { /* _JOIN_GAP */
                Py_ssize_t ra = find_root(parent, last), rb = find_root(parent, i);
                if (ra != rb) {
                    if (ra < rb) parent[rb] = ra;
                    else parent[ra] = rb;
                }
            }
            if (b > end || last < 0) {
                end = end > b ? end : b;
                last = i;
            }
        }
        for (Py_ssize_t i = 0; i < m; i++)
            if (code[i]) has[find_root(parent, i)] = 1;
        for (Py_ssize_t i = 0; i < m; i++)
            if (!code[i] && has[find_root(parent, i)]) code[i] = W_JOINED;
    }
    /* removed and kept-copy masks of the removed pieces; anchors (first and last token of each
       removed run, and of its kept copy) */
    Py_ssize_t nanc = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (!code[i]) continue;
        const int64_t *r = raw + 7 * i;
        int64_t a = lsearch(ts, n, r[3]), b = lsearch(te, n, r[4]), ka = lsearch(ts, n, r[5]), kb = lsearch(te, n, r[6]);
        mark_range(removed, n, a, b);
        mark_range(kref, n, ka, kb);
        anc[2 * nanc] = a;
        anc[2 * nanc + 1] = ka;
        anc[2 * nanc + 2] = b;
        anc[2 * nanc + 3] = kb;
        nanc += 2;
    }
    if (!near_stage) { /* flagged: the exact ones, in their order */
        for (Py_ssize_t i = 0; i < m; i++)
            if (!code[i]) {
                PyObject *v = PyLong_FromSsize_t(i);
                if (!v || PyList_Append(order, v) < 0) { Py_XDECREF(v); goto done; }
                Py_DECREF(v);
            }
        goto finish;
    }
    if (mc >= 2) {
        uint8_t *excl = (uint8_t *)exc;
        if (near_core(&text, o_norm, ratio, ts, te, ns, ne, n, c_lo, c_hi, mc, pairs, np2 / 2, anc, nanc, removed, kref, excl, thr, context,
                      evidence, near_p, near_f) < 0)
            goto done;
    }
    Py_ssize_t nnf = PyList_GET_SIZE(near_f);
    fl = (Fl *)malloc(sizeof(Fl) * (m + nnf + 1));
    if (!fl) { PyErr_NoMemory(); goto done; }
    Py_ssize_t nf = 0;
    /* exact flagged pieces not inside a block the near pass removed */
    for (Py_ssize_t i = 0; i < m; i++) {
        if (code[i]) continue;
        const int64_t *r = raw + 7 * i;
        Py_ssize_t fa = lsearch(ts, n, r[3]);
        if (fa >= n) { PyErr_SetString(PyExc_ValueError, "flagged piece after the last token"); goto done; }
        if (removed[fa]) continue;
        fl[nf].start = r[3];
        fl[nf].end = r[4];
        fl[nf].idx = i;
        nf++;
    }
    if (nf && nnf) { /* a near-flagged block already reported by the exact pass is not reported twice */
        seen = (uint8_t *)calloc(n + 1, 1);
        csum = (int64_t *)malloc(sizeof(int64_t) * (n + 1));
        if (!seen || !csum) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t q = 0; q < nf; q++) {
            const int64_t *r = raw + 7 * fl[q].idx;
            mark_range(seen, n, lsearch(ts, n, r[3]), lsearch(te, n, r[4]));
            mark_range(seen, n, lsearch(ts, n, r[5]), lsearch(te, n, r[6]));
        }
        csum[0] = 0;
        for (Py_ssize_t t = 0; t < n; t++) csum[t + 1] = csum[t] + seen[t];
        for (Py_ssize_t j = 0; j < nnf; j++) {
            PyObject *it = PyList_GET_ITEM(near_f, j);
            long long s0, e0, ks, ke;
            int rule;
            double sc;
            if (!PyArg_ParseTuple(it, "LLidLL", &s0, &e0, &rule, &sc, &ks, &ke)) goto done;
            int64_t x[4] = {lsearch(ts, n, s0), lsearch(te, n, e0), lsearch(ts, n, ks), lsearch(te, n, ke)};
            int hit = 0;
            for (int h = 0; h < 4 && !hit; h += 2) {
                int64_t lo = x[h] < n ? x[h] : n, hi = x[h + 1] + 1 < n ? x[h + 1] + 1 : n;
                if (hi < lo) hi = lo;
                hit = csum[hi] - csum[lo] > 0;
            }
            if (hit) continue;
            fl[nf].start = s0;
            fl[nf].end = e0;
            fl[nf].idx = -1 - j;
            nf++;
        }
    } else {
        for (Py_ssize_t j = 0; j < nnf; j++) {
            long long s0, e0, ks, ke;
            int rule;
            double sc;
            if (!PyArg_ParseTuple(PyList_GET_ITEM(near_f, j), "LLidLL", &s0, &e0, &rule, &sc, &ks, &ke)) goto done;
            fl[nf].start = s0;
            fl[nf].end = e0;
            fl[nf].idx = -1 - j;
            nf++;
        }
    }
    /* flagged.sort(key=(start, end)): stable (insertion sort; few items) */
    for (Py_ssize_t q = 1; q < nf; q++) {
        Fl v = fl[q];
        Py_ssize_t j = q;
        while (j > 0 && cmp_fl(&fl[j - 1], &v) > 0) {
            fl[j] = fl[j - 1];
            j--;
        }
        fl[j] = v;
    }
    for (Py_ssize_t q = 0; q < nf; q++) {
        PyObject *v = PyLong_FromLongLong(fl[q].idx);
        if (!v || PyList_Append(order, v) < 0) { Py_XDECREF(v); goto done; }
        Py_DECREF(v);
    }
finish:
    res = PyTuple_Pack(4, codes_obj, near_p, order, near_f);
done:
    Py_XDECREF(codes_obj);
    Py_XDECREF(near_p);
    Py_XDECREF(near_f);
    Py_XDECREF(order);
    free(kref); free(seen); free(parent); free(anc); free(csum); free(ivs); free(fl); free(has);
    bufs_release(&B);
    return res;
}

/* ------------------------------------------------------------------ spans.finish_pieces */

static int is_opening(Py_UCS4 c) { /* spans.OPENING */
    switch (c) {
    case 0x22: case 0x27: case 0xAB: case 0x201C: case 0x2018: case 0x201E: case 0x2039: case 0x28: case 0x5B: case 0x7B: case 0xBF:
    case 0xA1: return 1;
    default: return 0;
    }
}

static int is_closing(Py_UCS4 c) { /* spans.CLOSING */
    switch (c) {
    case 0x22: case 0x27: case 0xBB: case 0x201D: case 0x2019: case 0x203A: case 0x29: case 0x5D: case 0x7D: case 0x2E: case 0x2C:
    case 0x3B: case 0x3A: case 0x21: case 0x3F: case 0x2026: case 0x3002: case 0xFF01: case 0xFF1F: case 0x3001: case 0xFF0C:
    case 0xFF1B: case 0xFF1A: return 1;
    default: return 0;
    }
}

static int is_trailing(Py_UCS4 c) { /* spans._TRAILING_ATTACH */
    switch (c) {
    case 0x2E: case 0x2C: case 0x3B: case 0x3A: case 0x21: case 0x3F: case 0x2026: case 0x29: case 0x5D: case 0x7D: case 0xBB: case 0x201D:
    case 0x2019: case 0x203A: return 1;
    default: return 0;
    }
}

/* spans._breaks(text[a:b]): line breaks ("\r\n" counts once), as str.splitlines counts them */
static Py_ssize_t breaks(const Text *t, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t c = 0;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 ch = TCH(t, i);
        if (Py_UNICODE_ISLINEBREAK(ch)) {
            c++;
            if (ch == '\r' && i + 1 < b && TCH(t, i + 1) == '\n') i++;
        }
    }
    return c;
}

static int gap_junk(const Text *t, Py_ssize_t a, Py_ssize_t b) { /* spans._is_gap_junk(text[a:b]) */
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 ch = TCH(t, i);
        if (Py_UNICODE_ISALNUM(ch) || Py_UNICODE_ISLINEBREAK(ch)) return 0;
    }
    return 1;
}

static int all_space(const Text *t, Py_ssize_t a, Py_ssize_t b) { /* text[a:b] == "" or text[a:b].isspace() */
    for (Py_ssize_t i = a; i < b; i++)
        if (!Py_UNICODE_ISSPACE(TCH(t, i))) return 0;
    return 1;
}

static int cmp_iv2(const void *x, const void *y) { /* (start, end, index) */
    return cmp_iv(x, y);
}

/* finish(text, pieces) -> [(piece, start, end), ...] or None.
   spans.finish_pieces: the final (start, end) of each output piece and the input piece it comes
   from; None when a piece lies outside the text or its offsets are not ints (the Python code
   then runs). */
static PyObject *k_finish(PyObject *self, PyObject *args) {
    PyObject *o_text, *arg_lst;
    if (!PyArg_ParseTuple(args, "UO!", &o_text, &PyList_Type, &arg_lst)) return NULL;
    Text t;
    if (text_of(o_text, &t) < 0) return NULL;
    /* a private copy that owns its items: the caller's list may be changed by a piece's
       start/end getters while this runs (they are Python code) */
    PyObject *lst = PySequence_List(arg_lst);
    if (!lst) return NULL;
    Py_ssize_t n = t.len, m = PyList_GET_SIZE(lst), k = 0;
    PyObject *res = NULL, *k_start = PyUnicode_InternFromString("start"), *k_end = PyUnicode_InternFromString("end");
    Iv *ps = (Iv *)malloc(sizeof(Iv) * (m + 1));
    int64_t *os = (int64_t *)malloc(sizeof(int64_t) * (m + 1)), *oe = (int64_t *)malloc(sizeof(int64_t) * (m + 1));
    int64_t *oi = (int64_t *)malloc(sizeof(int64_t) * (m + 1)), *cb = (int64_t *)malloc(sizeof(int64_t) * (m + 2));
    int64_t *ra = (int64_t *)malloc(sizeof(int64_t) * (m + 2)), *rb = (int64_t *)malloc(sizeof(int64_t) * (m + 2));
    if (!k_start || !k_end) goto done;
    if (!ps || !os || !oe || !oi || !cb || !ra || !rb) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *p = PyList_GET_ITEM(lst, i);
        PyObject *a = PyObject_GetAttr(p, k_start);
        if (!a) goto done;
        PyObject *b = PyObject_GetAttr(p, k_end);
        if (!b) { Py_DECREF(a); goto done; }
        int exact = PyLong_CheckExact(a) && PyLong_CheckExact(b);
        long long s = exact ? PyLong_AsLongLong(a) : 0, e = exact ? PyLong_AsLongLong(b) : 0;
        Py_DECREF(a);
        Py_DECREF(b);
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) goto done;
            PyErr_Clear();
            exact = 0;
        }
        if (!exact) { res = Py_None; Py_INCREF(res); goto done; }
        if (e <= s) continue;
        if (s < 0 || e > n) { res = Py_None; Py_INCREF(res); goto done; }
        ps[k].a = s;
        ps[k].b = e;
        ps[k].i = i;
        k++;
    }
    res = PyList_New(0);
    if (!res || !k) goto done;
    qsort(ps, k, sizeof(Iv), cmp_iv2);
    /* 1. de-overlap (earlier piece wins the overlap) */
    Py_ssize_t M = 0;
    for (Py_ssize_t q = 0; q < k; q++) {
        int64_t s = ps[q].a, e = ps[q].b;
        if (M && s < oe[M - 1]) {
            if (e <= oe[M - 1]) continue;
            s = oe[M - 1];
        }
        os[M] = s;
        oe[M] = e;
        oi[M] = ps[q].i;
        M++;
    }
    /* 2. punctuation attached to the piece (in place: os[i + 1] is still the next merged start) */
    for (Py_ssize_t i = 0; i < M; i++) {
        int64_t lo = i ? oe[i - 1] : 0, hi = i + 1 < M ? os[i + 1] : n;
        int64_t s = os[i], e = oe[i];
        while (s > lo && is_opening(TCH(&t, s - 1))) s--;
        while (e < hi && is_closing(TCH(&t, e))) e++;
        os[i] = s;
        oe[i] = e;
    }
    /* 3. punctuation-only gaps between neighbouring pieces go with the earlier piece */
    for (Py_ssize_t i = 0; i + 1 < M; i++)
        if (oe[i] < os[i + 1] && gap_junk(&t, oe[i], os[i + 1])) oe[i] = os[i + 1];
    /* 4. whitespace: clusters of pieces separated only by whitespace; one run of the cut kept */
    Py_ssize_t C = 0;
    for (Py_ssize_t i = 0; i < M; i++)
        if (!i || !all_space(&t, oe[i - 1], os[i])) cb[C++] = i;
    cb[C] = M;
    for (Py_ssize_t c = 0; c < C; c++) {
        Py_ssize_t first = cb[c], last = cb[c + 1] - 1;
        int64_t s = os[first], e = oe[last];
        int64_t lo = c ? oe[cb[c] - 1] : 0, hi = c + 1 < C ? os[cb[c + 1]] : n;
        int64_t ls = s, re = e;
        while (ls > lo && Py_UNICODE_ISSPACE(TCH(&t, ls - 1))) ls--;
        while (re < hi && Py_UNICODE_ISSPACE(TCH(&t, re))) re++;
        Py_ssize_t R = 0;
        ra[R] = ls; rb[R] = s; R++;
        for (Py_ssize_t q = first; q < last; q++) { ra[R] = oe[q]; rb[R] = os[q + 1]; R++; }
        ra[R] = e; rb[R] = re; R++;
        Py_ssize_t keep;
        if (ls == 0) keep = 0;
        else if (re == n) keep = R - 1;
        else {
            keep = -1;
            Py_ssize_t best = -1;
            for (Py_ssize_t g = 0; g < R; g++)
                if (rb[g] > ra[g]) {
                    Py_ssize_t br = breaks(&t, ra[g], rb[g]);
                    if (keep < 0 || br > best) { keep = g; best = br; }
                }
            if (keep >= 0 && e == re && is_trailing(TCH(&t, e)) && best == 0) keep = -1; /* "word CUT, more" -> "word, more" */
        }
        if (keep != 0) os[first] = ls;
        for (Py_ssize_t g = 1; g < R - 1; g++)
            if (g != keep) oe[first + g - 1] = os[first + g];
        if (keep != R - 1) oe[last] = re;
    }
    for (Py_ssize_t i = 0; i < M; i++) {
        PyObject *it = Py_BuildValue("(OLL)", PyList_GET_ITEM(lst, oi[i]), (long long)os[i], (long long)oe[i]);
        if (!it || PyList_Append(res, it) < 0) {
            Py_XDECREF(it);
            Py_CLEAR(res);
            goto done;
        }
        Py_DECREF(it);
    }
done:
    Py_XDECREF(k_start);
    Py_XDECREF(k_end);
    Py_DECREF(lst);
    free(ps); free(os); free(oe); free(oi); free(cb); free(ra); free(rb);
    return res;
}

/* ------------------------------------------------------------------ mark */

/* mark(out, a, b): out[a[i] : min(b[i] + 1, n)] = 1 for each i (within._mark into a zeroed mask). */
static PyObject *k_mark(PyObject *self, PyObject *args) {
    PyObject *o_out, *o_a, *o_b;
    if (!PyArg_ParseTuple(args, "OOO", &o_out, &o_a, &o_b)) return NULL;
    Bufs B = {.n = 0};
    Py_ssize_t n, na, nb;
    PyObject *res = NULL;
    uint8_t *out = bufs_get(&B, o_out, 1, 1, &n, "out");
    if (!out) goto done;
    const int64_t *a = bufs_get(&B, o_a, 8, 0, &na, "a");
    if (!a) goto done;
    const int64_t *b = bufs_get(&B, o_b, 8, 0, &nb, "b");
    if (!b) goto done;
    if (na != nb) { PyErr_SetString(PyExc_ValueError, "a and b differ in length"); goto done; }
    for (Py_ssize_t i = 0; i < na; i++)
        if (a[i] < 0) { PyErr_SetString(PyExc_ValueError, "negative start"); goto done; }
    for (Py_ssize_t i = 0; i < na; i++) {
        int64_t hi = b[i] < n ? b[i] + 1 : n;
        for (int64_t t = a[i]; t < hi; t++) out[t] = 1;
    }
    res = Py_None;
    Py_INCREF(res);
done:
    bufs_release(&B);
    return res;
}

static PyMethodDef methods[] = {
    {"sentence_bounds", k_sentence_bounds, METH_VARARGS, "segment.sentence_bounds: (starts, ends) as int64 bytearrays"},
    {"near_blocks", k_near_blocks, METH_VARARGS, "candidate blocks of the near pass of many pages"},
    {"exact_groups", k_exact_groups, METH_VARARGS, "repeat groups of the k-grams of each page"},
    {"exact_pieces", k_exact_pieces, METH_VARARGS, "exact-repeat pieces of many pages"},
    {"near_page", k_near_page, METH_VARARGS, "near_repeats after its candidate pairs"},
    {"within_page", k_within_page, METH_VARARGS, "within_analysis of a page after its exact pass"},
    {"finish", k_finish, METH_VARARGS, "spans.finish_pieces: final (piece, start, end)"},
    {"mark", k_mark, METH_VARARGS, "union of token slices into a mask"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "within", "Kernels of the within-page passes.", -1, methods};

PyMODINIT_FUNC PyInit_within(void) { return PyModule_Create(&moddef); }
