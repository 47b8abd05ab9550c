/* Text kernels of dedupe.core: normalisation (slow path), tokenisation and polynomial hashing.
 *
 * Each function has a numpy twin (normalize.py, tokenize.py, hashing.py) that stays the reference;
 * the tests compare the two exactly. Tables are derived in Python and passed in as buffers, so
 * this file holds no Unicode data of its own and no global mutable state.
 *
 *   normalize(text, comb, single, exp_len, exp_start, pool, fold, combining)
 *       -> (str, bytearray orig_start int64, bytearray orig_end int64)
 *       the result of normalize._normalize_slow_reference: clusters (a starter and the
 *       combining marks after it) of one BMP character are mapped through the tables, every
 *       other cluster through fold(cluster) (NFKC + casefold, in Python).
 *   fold(text, table) -> str, None or False
 *       text with every character c replaced by table[c] (uint32 per BMP code point), or None
 *       when a character is above the BMP or unmapped (UNMAPPED), or False when a character
 *       marked EXPANDS comes first: normalize.normalize's fast path for text that is NFKC already
 *       (the table maps only such characters, see normalize._fold_table).
 *   report_lines(doc_id, spans, round) -> bytes or None
 *       the UTF-8 of io.jsonl's report lines of a result's spans (its report_rows through the JSON
 *       encoder, one line each), or None when a value is not of the plain type formatted here (or
 *       a str holds a lone surrogate): the caller then takes the generic encoder.
 *   json_str(s) -> bytes or None
 *       the UTF-8 of the JSON string of s as json's encoder writes it (ensure_ascii=False), or None
 *       when s holds a lone surrogate (not UTF-8).
 *   tokens(text, cls, char_class) -> (bytearray nstart int64, nend int64, hashes uint64, single bool)
 *       runs of WORD characters and single SINGLE characters (class table for the BMP,
 *       char_class(cp) above it), hashed like hashing.range_hashes(cp, nstart, nend, CHAR_BASE).
 *   range_hashes(values uint64, start int64, end int64, base, out uint64)
 *   kgram_hashes(values uint64, k, base, out uint64)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#define BMP 0x10000
#define UNMAPPED 0xFFFFFFFFu
#define EXPANDS 0xFFFFFFFEu /* fold: a character whose case folding is longer than one character */
#define GOLDEN 0x9E3779B97F4A7C15ull
#define CHAR_BASE 0x100000001B3ull
#define SEP 0
#define WORD 1
#define SINGLE 2

#include "dd_hash.h" /* fmix64 */

static inline uint64_t finish(uint64_t raw, uint64_t len) { return fmix64(raw ^ (len * GOLDEN)); }

/* legacy (not ready) str objects exist up to Python 3.11 */
static inline int ready(PyObject *text) {
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_READY(text);
#else
    (void)text;
    return 0;
#endif
}

/* ---- growable buffers ------------------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t len;  /* in items */
    Py_ssize_t cap;  /* in items */
    Py_ssize_t item; /* item size in bytes */
    PyObject *ba;    /* the bytearray holding data (handed to Python without a copy), or NULL: PyMem */
} Vec;

static int vec_init(Vec *v, Py_ssize_t item, Py_ssize_t cap, int bytearray) {
    if (cap < 16) cap = 16;
    v->item = item;
    v->len = 0;
    v->cap = cap;
    v->data = NULL;
    v->ba = NULL;
    if (cap > PY_SSIZE_T_MAX / item) {
        PyErr_NoMemory();
        return -1;
    }
    if (bytearray) {
        v->ba = PyByteArray_FromStringAndSize(NULL, cap * item);
        if (v->ba == NULL) return -1;
        v->data = PyByteArray_AS_STRING(v->ba);
        return 0;
    }
    v->data = PyMem_Malloc((size_t)(cap * item));
    if (v->data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void vec_free(Vec *v) {
    if (v->ba != NULL)
        Py_CLEAR(v->ba);
    else
        PyMem_Free(v->data);
    v->data = NULL;
}

/* the bytearray of a bytearray-backed vector, cut to its length (a new reference) */
static PyObject *vec_take(Vec *v) {
    if (PyByteArray_Resize(v->ba, v->len * v->item) < 0) return NULL;
    Py_INCREF(v->ba);
    return v->ba;
}

/* make room for `more` items */
static int vec_reserve(Vec *v, Py_ssize_t more) {
    if (more <= v->cap - v->len) return 0;
    Py_ssize_t need = v->len + more;
    Py_ssize_t cap = v->cap;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 2 / v->item) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    if (v->ba != NULL) {
        if (PyByteArray_Resize(v->ba, cap * v->item) < 0) return -1;
        v->data = PyByteArray_AS_STRING(v->ba);
    } else {
        char *d = PyMem_Realloc(v->data, (size_t)(cap * v->item));
        if (d == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        v->data = d;
    }
    v->cap = cap;
    return 0;
}

/* ---- buffer helpers ----------------------------------------------------------------------- */

/* is the struct format of a buffer one native integer (or bool) code? sign: 'u' unsigned, 'i' signed */
static int format_ok(const char *f, char sign) {
    if (f == NULL) f = "B"; /* plain bytes */
    if (*f == '@' || *f == '=' || (*f == '<' && PY_LITTLE_ENDIAN)) f++;
    if (f[0] == '\0' || f[1] != '\0') return 0;
    return strchr(sign == 'u' ? "?BHILQN" : "bhilqn", f[0]) != NULL;
}

/* a C-contiguous 1-D buffer of `count` items (-1: any count) of `item` bytes of integers of `sign` */
static int get_buf(PyObject *obj, Py_buffer *view, Py_ssize_t item, char sign, Py_ssize_t count, int writable,
                   const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->itemsize != item || view->len % item != 0 || view->ndim > 1 || !format_ok(view->format, sign)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a 1-D buffer of %zd-byte %s integers", what, item,
                     sign == 'u' ? "unsigned" : "signed");
        PyBuffer_Release(view);
        return -1;
    }
    if ((uintptr_t)view->buf % (uintptr_t)item != 0) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer is not aligned to its %zd-byte items", what, item);
        PyBuffer_Release(view);
        return -1;
    }
    if (count >= 0 && view->len / item != count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items, got %zd", what, count, view->len / item);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* ---- normalisation ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *comb;      /* [BMP] is a combining mark */
    const uint32_t *single;   /* [BMP] NFKC(c).casefold() when one character, else UNMAPPED */
    const int64_t *exp_len;   /* [BMP] len(NFKC(c).casefold()), -1 for the surrogates */
    const int64_t *exp_start; /* [BMP] its start in pool */
    const uint32_t *pool;
    int64_t pool_len;
    PyObject *text, *fold, *combining;
    Vec out, os, oe; /* output code points, orig_start, orig_end: always the same length */
} Norm;

/* room for `more` output characters (in all three vectors) */
static inline int norm_reserve(Norm *st, Py_ssize_t more) {
    if (more <= st->out.cap - st->out.len) return 0;
    if (vec_reserve(&st->out, more) < 0 || vec_reserve(&st->os, more) < 0 || vec_reserve(&st->oe, more) < 0) return -1;
    return 0;
}

/* is code point c (above the BMP) a combining mark (unicodedata.combining(chr(c)) != 0)? -1 on error */
static int astral_combining(Py_UCS4 c, PyObject *combining) {
    PyObject *ch = PyUnicode_FromOrdinal((int)c);
    if (ch == NULL) return -1;
    PyObject *r = PyObject_CallOneArg(combining, ch);
    Py_DECREF(ch);
    if (r == NULL) return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* the cluster text[i:j] through fold() (the per-cluster path of the reference) */
static int norm_hard(Norm *st, Py_ssize_t i, Py_ssize_t j) {
    PyObject *chunk = PyUnicode_Substring(st->text, i, j);
    if (chunk == NULL) return -1;
    PyObject *r = PyObject_CallOneArg(st->fold, chunk);
    Py_DECREF(chunk);
    if (r == NULL) return -1;
    if (!PyUnicode_Check(r)) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_ValueError, "normalize: fold must return a str");
        return -1;
    }
    Py_ssize_t rn = PyUnicode_GET_LENGTH(r);
    if (norm_reserve(st, rn) < 0) {
        Py_DECREF(r);
        return -1;
    }
    int rk = PyUnicode_KIND(r);
    const void *rd = PyUnicode_DATA(r);
    Py_ssize_t at = st->out.len;
    uint32_t *o = (uint32_t *)st->out.data + at;
    int64_t *ps = (int64_t *)st->os.data + at, *pe = (int64_t *)st->oe.data + at;
    for (Py_ssize_t q = 0; q < rn; q++) {
        o[q] = PyUnicode_READ(rk, rd, q);
        ps[q] = (int64_t)i;
        pe[q] = (int64_t)j;
    }
    st->out.len = st->os.len = st->oe.len = at + rn;
    Py_DECREF(r);
    return 0;
}

/* one cluster of one BMP character c at i: 1 done, 0 not from the tables (a lone surrogate), -1 error */
static inline int norm_bmp(Norm *st, Py_UCS4 c, Py_ssize_t i) {
    uint32_t m = st->single[c];
    Py_ssize_t at = st->out.len;
    if (m != UNMAPPED) {
        if (norm_reserve(st, 1) < 0) return -1;
        ((uint32_t *)st->out.data)[at] = m;
        ((int64_t *)st->os.data)[at] = (int64_t)i;
        ((int64_t *)st->oe.data)[at] = (int64_t)i + 1;
        st->out.len = st->os.len = st->oe.len = at + 1;
        return 1;
    }
    int64_t ln = st->exp_len[c], sp = st->exp_start[c];
    if (ln < 0) return 0;
    if (sp < 0 || sp > st->pool_len || ln > st->pool_len - sp) {
        PyErr_SetString(PyExc_ValueError, "normalize: expansion outside the pool");
        return -1;
    }
    if (norm_reserve(st, (Py_ssize_t)ln) < 0) return -1;
    uint32_t *o = (uint32_t *)st->out.data + at;
    int64_t *ps = (int64_t *)st->os.data + at, *pe = (int64_t *)st->oe.data + at;
    for (int64_t q = 0; q < ln; q++) {
        o[q] = st->pool[sp + q];
        ps[q] = (int64_t)i;
        pe[q] = (int64_t)i + 1;
    }
    st->out.len = st->os.len = st->oe.len = at + (Py_ssize_t)ln;
    return 1;
}

/* the cluster loop for one string kind (T: Py_UCS1, Py_UCS2 or Py_UCS4; WIDE: may hold astral characters) */
#define DEF_NORM_LOOP(NAME, T, WIDE)                                                 \
    static int NAME(Norm *st, const T *d, Py_ssize_t n) {                            \
        Py_ssize_t i = 0;                                                            \
        while (i < n) {                                                              \
            Py_UCS4 c = d[i];                                                        \
            Py_ssize_t j = i + 1;                                                    \
            while (j < n) {                                                          \
                Py_UCS4 x = d[j];                                                    \
                int t;                                                               \
                if (!(WIDE) || x < BMP) {                                            \
                    t = st->comb[x];                                                 \
                } else if ((t = astral_combining(x, st->combining)) < 0) {           \
                    return -1;                                                       \
                }                                                                    \
                if (!t) break;                                                       \
                j++;                                                                 \
            }                                                                        \
            int done = 0;                                                            \
            if (j == i + 1 && (!(WIDE) || c < BMP)) {                                \
                uint32_t m = st->single[c];                                          \
                Py_ssize_t at = st->out.len;                                         \
                if (m != UNMAPPED && at < st->out.cap) { /* the common case */       \
                    ((uint32_t *)st->out.data)[at] = m;                              \
                    ((int64_t *)st->os.data)[at] = (int64_t)i;                       \
                    ((int64_t *)st->oe.data)[at] = (int64_t)j;                       \
                    st->out.len = st->os.len = st->oe.len = at + 1;                  \
                    i = j;                                                           \
                    continue;                                                        \
                }                                                                    \
                if ((done = norm_bmp(st, c, i)) < 0) return -1;                      \
            }                                                                        \
            if (!done && norm_hard(st, i, j) < 0) return -1;                         \
            i = j;                                                                   \
        }                                                                            \
        return 0;                                                                    \
    }

DEF_NORM_LOOP(norm_ucs1, Py_UCS1, 0)
DEF_NORM_LOOP(norm_ucs2, Py_UCS2, 0)
DEF_NORM_LOOP(norm_ucs4, Py_UCS4, 1)

static PyObject *text_normalize(PyObject *self, PyObject *args) {
    PyObject *text, *o_comb, *o_single, *o_len, *o_start, *o_pool, *fold, *combining;
    if (!PyArg_ParseTuple(args, "UOOOOOOO:normalize", &text, &o_comb, &o_single, &o_len, &o_start, &o_pool, &fold,
                          &combining))
        return NULL;
    if (ready(text) < 0) return NULL;
    if (!PyCallable_Check(fold) || !PyCallable_Check(combining)) {
        PyErr_SetString(PyExc_ValueError, "normalize: fold and combining must be callable");
        return NULL;
    }
    Py_buffer b_comb, b_single, b_len, b_start, b_pool;
    int got = 0;
    PyObject *result = NULL;
    Norm st;
    memset(&st, 0, sizeof st);
    if (get_buf(o_comb, &b_comb, 1, 'u', BMP, 0, "comb") < 0) goto done;
    got = 1;
    if (get_buf(o_single, &b_single, 4, 'u', BMP, 0, "single") < 0) goto done;
    got = 2;
    if (get_buf(o_len, &b_len, 8, 'i', BMP, 0, "exp_len") < 0) goto done;
    got = 3;
    if (get_buf(o_start, &b_start, 8, 'i', BMP, 0, "exp_start") < 0) goto done;
    got = 4;
    if (get_buf(o_pool, &b_pool, 4, 'u', -1, 0, "pool") < 0) goto done;
    got = 5;
    st.comb = b_comb.buf;
    st.single = b_single.buf;
    st.exp_len = b_len.buf;
    st.exp_start = b_start.buf;
    st.pool = b_pool.buf;
    st.pool_len = (int64_t)(b_pool.len / 4);
    st.text = text;
    st.fold = fold;
    st.combining = combining;

    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_ssize_t cap = n + n / 16 + 16;
    if (vec_init(&st.out, 4, cap, 0) < 0 || vec_init(&st.os, 8, cap, 1) < 0 || vec_init(&st.oe, 8, cap, 1) < 0) goto done;
    int rc;
    if (kind == PyUnicode_1BYTE_KIND)
        rc = norm_ucs1(&st, (const Py_UCS1 *)data, n);
    else if (kind == PyUnicode_2BYTE_KIND)
        rc = norm_ucs2(&st, (const Py_UCS2 *)data, n);
    else
        rc = norm_ucs4(&st, (const Py_UCS4 *)data, n);
    if (rc < 0) goto done;
    {
        PyObject *s = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, st.out.data, st.out.len);
        /* the identity map (every character maps to one character: a no-break space, a
         * full-width letter): (s, None, None), no arrays to build nor to map through */
        int ident = st.out.len == n;
        const int64_t *ps = (const int64_t *)st.os.data, *pe = (const int64_t *)st.oe.data;
        for (Py_ssize_t i = 0; ident && i < st.out.len; i++) ident = ps[i] == (int64_t)i && pe[i] == (int64_t)i + 1;
        if (s != NULL && ident) {
            result = PyTuple_Pack(3, s, Py_None, Py_None);
            Py_DECREF(s);
            goto done;
        }
        PyObject *a = s ? vec_take(&st.os) : NULL;
        PyObject *b = a ? vec_take(&st.oe) : NULL;
        if (b != NULL) result = PyTuple_Pack(3, s, a, b);
        Py_XDECREF(s);
        Py_XDECREF(a);
        Py_XDECREF(b);
    }
done:
    vec_free(&st.out);
    vec_free(&st.os);
    vec_free(&st.oe);
    if (got >= 5) PyBuffer_Release(&b_pool);
    if (got >= 4) PyBuffer_Release(&b_start);
    if (got >= 3) PyBuffer_Release(&b_len);
    if (got >= 2) PyBuffer_Release(&b_single);
    if (got >= 1) PyBuffer_Release(&b_comb);
    return result;
}

/* ---- fold: the fast path of normalize -------------------------------------------------------- */

/* pass 1 for one string kind: 1 when every character is a mapped BMP character (*maxc: the largest
 * mapped value), 0 when one is not, 2 when one (before any unmapped one) is marked EXPANDS, -1 on
 * a table value that is no code point */
#define DEF_FOLD_CHECK(NAME, T)                                                                   \
    static int NAME(const T *d, Py_ssize_t n, const uint32_t *tab, Py_UCS4 *maxc) {              \
        uint32_t mx = 0;                                                                          \
        for (Py_ssize_t i = 0; i < n; i++) {                                                      \
            Py_UCS4 c = d[i];                                                                     \
            if (c >= BMP) return 0;                                                               \
            uint32_t m = tab[c];                                                                  \
            if (m == UNMAPPED) return 0;                                                          \
            if (m == EXPANDS) return 2;                                                           \
            if (m > mx) mx = m;                                                                   \
        }                                                                                         \
        if (mx > 0x10FFFF) {                                                                      \
            PyErr_SetString(PyExc_ValueError, "fold: a table value is not a code point");         \
            return -1;                                                                            \
        }                                                                                         \
        *maxc = (Py_UCS4)mx;                                                                      \
        return 1;                                                                                 \
    }

DEF_FOLD_CHECK(fold_check1, Py_UCS1)
DEF_FOLD_CHECK(fold_check2, Py_UCS2)
DEF_FOLD_CHECK(fold_check4, Py_UCS4)

/* pass 2: write the mapped characters into a new str of kind OK (OT its code unit) */
#define FOLD_WRITE(T, OT)                                                                         \
    do {                                                                                          \
        const T *d_ = (const T *)data;                                                            \
        OT *o_ = (OT *)PyUnicode_DATA(out);                                                       \
        for (Py_ssize_t i = 0; i < n; i++) o_[i] = (OT)tab[d_[i]];                                \
    } while (0)

static PyObject *text_fold(PyObject *self, PyObject *args) {
    PyObject *text, *o_table;
    if (!PyArg_ParseTuple(args, "UO:fold", &text, &o_table)) return NULL;
    if (ready(text) < 0) return NULL;
    Py_buffer bt;
    if (get_buf(o_table, &bt, 4, 'u', BMP, 0, "table") < 0) return NULL;
    const uint32_t *tab = bt.buf;
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_UCS4 maxc = 0;
    int ok;
    if (kind == PyUnicode_1BYTE_KIND)
        ok = fold_check1((const Py_UCS1 *)data, n, tab, &maxc);
    else if (kind == PyUnicode_2BYTE_KIND)
        ok = fold_check2((const Py_UCS2 *)data, n, tab, &maxc);
    else
        ok = fold_check4((const Py_UCS4 *)data, n, tab, &maxc);
    if (ok != 1) {
        PyBuffer_Release(&bt);
        if (ok < 0) return NULL;
        if (ok == 2) Py_RETURN_FALSE;
        Py_RETURN_NONE;
    }
    PyObject *out = PyUnicode_New(n, maxc);
    if (out == NULL) {
        PyBuffer_Release(&bt);
        return NULL;
    }
    const int ok_kind = PyUnicode_KIND(out);
    /* every character of text is a BMP code point here (checked), so tab[d[i]] is in range */
    if (kind == PyUnicode_1BYTE_KIND) {
        if (ok_kind == PyUnicode_1BYTE_KIND) FOLD_WRITE(Py_UCS1, Py_UCS1);
        else if (ok_kind == PyUnicode_2BYTE_KIND) FOLD_WRITE(Py_UCS1, Py_UCS2);
        else FOLD_WRITE(Py_UCS1, Py_UCS4);
    } else if (kind == PyUnicode_2BYTE_KIND) {
        if (ok_kind == PyUnicode_1BYTE_KIND) FOLD_WRITE(Py_UCS2, Py_UCS1);
        else if (ok_kind == PyUnicode_2BYTE_KIND) FOLD_WRITE(Py_UCS2, Py_UCS2);
        else FOLD_WRITE(Py_UCS2, Py_UCS4);
    } else {
        if (ok_kind == PyUnicode_1BYTE_KIND) FOLD_WRITE(Py_UCS4, Py_UCS1);
        else if (ok_kind == PyUnicode_2BYTE_KIND) FOLD_WRITE(Py_UCS4, Py_UCS2);
        else FOLD_WRITE(Py_UCS4, Py_UCS4);
    }
    PyBuffer_Release(&bt);
    return out;
}

/* ---- report lines: JSON of span rows ------------------------------------------------------- */

/* append `n` bytes */
static inline int buf_put(Vec *b, const char *s, Py_ssize_t n) {
    if (vec_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static const char HEX[] = "0123456789abcdef";

/* the JSON escape of an ASCII character other than itself (json's encoder, ensure_ascii=False):
   0 = written as it is */
static const char JSON_ESC[128] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* one loop per string kind (T: its code unit type), the kind's test hoisted out of the loop */
#define JSON_STR_LOOP(T)                                                                           \
    {                                                                                              \
        const T *d = (const T *)data;                                                              \
        for (Py_ssize_t i = 0; i < n; i++) {                                                       \
            Py_UCS4 c = d[i];                                                                      \
            if (c < 0x80) {                                                                        \
                char e = JSON_ESC[c];                                                              \
                if (!e) {                                                                          \
                    *o++ = (char)c;                                                                \
                } else if (e != 'u') {                                                             \
                    *o++ = '\\';                                                                   \
                    *o++ = e;                                                                      \
                } else {                                                                           \
                    *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';                               \
                    *o++ = HEX[(c >> 4) & 0xf]; *o++ = HEX[c & 0xf];                               \
                }                                                                                  \
            } else if (c < 0x800) {                                                                \
                *o++ = (char)(0xC0 | (c >> 6));                                                    \
                *o++ = (char)(0x80 | (c & 0x3F));                                                  \
            } else if (c >= 0xD800 && c <= 0xDFFF) {                                               \
                return 1;                                                                          \
            } else if (c < 0x10000) {                                                              \
                *o++ = (char)(0xE0 | (c >> 12));                                                   \
                *o++ = (char)(0x80 | ((c >> 6) & 0x3F));                                           \
                *o++ = (char)(0x80 | (c & 0x3F));                                                  \
            } else {                                                                               \
                *o++ = (char)(0xF0 | (c >> 18));                                                   \
                *o++ = (char)(0x80 | ((c >> 12) & 0x3F));                                          \
                *o++ = (char)(0x80 | ((c >> 6) & 0x3F));                                           \
                *o++ = (char)(0x80 | (c & 0x3F));                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* a str as a JSON string in UTF-8, escaped as json's encoder does with ensure_ascii=False
 * (\\ \" \b \f \n \r \t, other code points below 0x20 as \u00xx, everything else as is): 0 done,
 * 1 not formatted here (a lone surrogate: not UTF-8), -1 error */
static int put_json_str(Vec *b, PyObject *s) {
    if (ready(s) < 0) return -1;
    const int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n > (PY_SSIZE_T_MAX - 2) / 6) {
        PyErr_NoMemory();
        return -1;
    }
    if (vec_reserve(b, 6 * n + 2) < 0) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    if (kind == PyUnicode_1BYTE_KIND)
        JSON_STR_LOOP(Py_UCS1)
    else if (kind == PyUnicode_2BYTE_KIND)
        JSON_STR_LOOP(Py_UCS2)
    else
        JSON_STR_LOOP(Py_UCS4)
    *o++ = '"';
    b->len = o - b->data;
    return 0;
}

/* an exact int as int.__repr__ gives it: 0 done, 1 not formatted here, -1 error */
static int put_json_int(Vec *b, PyObject *v) {
    if (!PyLong_CheckExact(v)) return 1;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) return 1;
    if (x == -1 && PyErr_Occurred()) return -1;
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%lld", x);
    if (k <= 0 || k >= (int)sizeof tmp) return 1;
    return buf_put(b, tmp, k);
}

/* a str, or None as null: 0 / 1 / -1 as put_json_str */
static int put_json_opt_str(Vec *b, PyObject *v) {
    if (v == Py_None) return buf_put(b, "null", 4);
    if (!PyUnicode_CheckExact(v)) return 1;
    return put_json_str(b, v);
}

#define PUT_LIT(B, S) buf_put((B), (S), (Py_ssize_t)(sizeof(S) - 1))

/* one span's line; the attributes are read in the order report_rows reads them */
static const char *const SPAN_ATTRS[10] = {"kept", "kept_doc", "start", "end", "kind", "removed", "text", "score", "site_pages", "rule"};

static int report_line(Vec *b, PyObject *doc_id, PyObject *sp, PyObject *round_fn, PyObject *four, PyObject *const *names) {
    PyObject *a[10] = {NULL};
    int rc = -1;
    for (int k = 0; k < 10; k++) {
        a[k] = PyObject_GetAttr(sp, names[k]);
        if (a[k] == NULL) goto done;
    }
    PyObject *kept = a[0], *kept_doc = a[1], *start = a[2], *end = a[3], *kind = a[4], *removed = a[5], *text = a[6];
    PyObject *score = a[7], *pages = a[8], *rule = a[9];
    rc = 1;
    if (!PyLong_CheckExact(start) || !PyLong_CheckExact(end) || !PyUnicode_CheckExact(kind) || !PyBool_Check(removed) ||
        !PyUnicode_CheckExact(text))
        goto done;
    if (kept != Py_None && (!PyTuple_CheckExact(kept) || PyTuple_GET_SIZE(kept) < 2)) goto done;
    if (kept != Py_None && kept_doc != Py_None && !PyUnicode_CheckExact(kept_doc)) goto done;
    if (pages != Py_None && !PyLong_CheckExact(pages)) goto done;
    if (rule != Py_None && !PyUnicode_CheckExact(rule)) goto done;
    /* score: round(float(score), 4), finite */
    double sc;
    {
        PyObject *f = PyNumber_Float(score);
        if (f == NULL) {
            rc = -1;
            goto done;
        }
        double v = PyFloat_AS_DOUBLE(f);
        if (v == floor(v) && fabs(v) < 1e15) { /* a whole number (1.0 mostly): round(v, 4) is v */
            Py_DECREF(f);
            sc = v;
            goto rounded;
        }
        PyObject *r = PyObject_CallFunctionObjArgs(round_fn, f, four, NULL);
        Py_DECREF(f);
        if (r == NULL) {
            rc = -1;
            goto done;
        }
        if (!PyFloat_CheckExact(r)) {
            Py_DECREF(r);
            goto done;
        }
        sc = PyFloat_AS_DOUBLE(r);
        Py_DECREF(r);
    }
rounded:
    if (!isfinite(sc)) goto done;
    int t;
#define STEP(EXPR)          \
    do {                    \
        t = (EXPR);         \
        if (t != 0) {       \
            rc = t;         \
            goto done;      \
        }                   \
    } while (0)
    STEP(PUT_LIT(b, "{\"doc_id\":"));
    STEP(put_json_str(b, doc_id));
    STEP(PUT_LIT(b, ",\"start\":"));
    STEP(put_json_int(b, start));
    STEP(PUT_LIT(b, ",\"end\":"));
    STEP(put_json_int(b, end));
    STEP(PUT_LIT(b, ",\"kind\":"));
    STEP(put_json_str(b, kind));
    STEP(PUT_LIT(b, ",\"removed\":"));
    STEP(removed == Py_True ? PUT_LIT(b, "true") : PUT_LIT(b, "false"));
    STEP(PUT_LIT(b, ",\"text\":"));
    STEP(put_json_str(b, text));
    STEP(PUT_LIT(b, ",\"kept\":"));
    if (kept == Py_None) {
        STEP(PUT_LIT(b, "null"));
    } else {
        STEP(PUT_LIT(b, "{\"doc_id\":"));
        STEP(put_json_str(b, kept_doc == Py_None ? doc_id : kept_doc));
        STEP(PUT_LIT(b, ",\"start\":"));
        STEP(put_json_int(b, PyTuple_GET_ITEM(kept, 0)));
        STEP(PUT_LIT(b, ",\"end\":"));
        STEP(put_json_int(b, PyTuple_GET_ITEM(kept, 1)));
        STEP(PUT_LIT(b, "}"));
    }
    STEP(PUT_LIT(b, ",\"score\":"));
    {
        char *r = PyOS_double_to_string(sc, 'r', 0, Py_DTSF_ADD_DOT_0, NULL); /* float.__repr__ */
        if (r == NULL) {
            rc = -1;
            goto done;
        }
        t = buf_put(b, r, (Py_ssize_t)strlen(r));
        PyMem_Free(r);
        if (t != 0) {
            rc = t;
            goto done;
        }
    }
    STEP(PUT_LIT(b, ",\"site_pages\":"));
    STEP(pages == Py_None ? PUT_LIT(b, "null") : put_json_int(b, pages));
    STEP(PUT_LIT(b, ",\"rule\":"));
    STEP(put_json_opt_str(b, rule));
    STEP(PUT_LIT(b, "}\n"));
#undef STEP
    rc = 0;
done:
    for (int k = 0; k < 10; k++) Py_XDECREF(a[k]);
    return rc;
}

/* What a formatting pass into ``b`` returns, ``b`` freed: its bytes (rc 0), None (rc > 0: a value
   it does not format, the caller's fallback) or NULL (rc < 0: the exception is set). */
static PyObject *bytes_or_none(Vec *b, int rc) {
    PyObject *result = NULL;
    if (rc == 0) {
        result = PyBytes_FromStringAndSize(b->data, b->len);
    } else if (rc > 0) {
        result = Py_None;
        Py_INCREF(result);
    }
    vec_free(b);
    return result;
}

static PyObject *text_report_lines(PyObject *self, PyObject *args) {
    PyObject *doc_id, *spans, *round_fn;
    if (!PyArg_ParseTuple(args, "OOO:report_lines", &doc_id, &spans, &round_fn)) return NULL;
    if (!PyCallable_Check(round_fn)) {
        PyErr_SetString(PyExc_ValueError, "report_lines: round must be callable");
        return NULL;
    }
    if (!PyUnicode_CheckExact(doc_id)) Py_RETURN_NONE;
    /* a tuple (a list is copied): formatting a span can run Python code (a score's __float__,
       round) that could shrink a list under the loop */
    if (!PySequence_Check(spans)) {
        PyErr_SetString(PyExc_TypeError, "report_lines: spans must be a sequence");
        return NULL;
    }
    PyObject *seq = PySequence_Tuple(spans);
    if (seq == NULL) return NULL;
    PyObject *four = PyLong_FromLong(4);
    if (four == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    Vec b;
    PyObject *result = NULL;
    PyObject *names[10] = {NULL};
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    for (int k = 0; k < 10; k++) {
        names[k] = PyUnicode_InternFromString(SPAN_ATTRS[k]);
        if (names[k] == NULL) goto out;
    }
    if (vec_init(&b, 1, 256 * (n + 1), 0) < 0) goto out;
    int rc = 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i++)
        rc = report_line(&b, doc_id, PyTuple_GET_ITEM(seq, i), round_fn, four, names);
    result = bytes_or_none(&b, rc);
out:
    for (int k = 0; k < 10; k++) Py_XDECREF(names[k]);
    Py_DECREF(four);
    Py_DECREF(seq);
    return result;
}

static PyObject *text_json_str(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "json_str: expected a str");
        return NULL;
    }
    Vec b;
    if (vec_init(&b, 1, 16, 0) < 0) return NULL;
    return bytes_or_none(&b, put_json_str(&b, arg));
}

/* json_deeper(data, limit) -> bool: do the lists and objects of the JSON text ``data`` nest more
 * than ``limit`` deep? Brackets inside strings do not count: a '"' outside a string opens one, a
 * backslash in it takes the next byte, a '"' (or the end) closes it. */
static PyObject *text_json_deeper(PyObject *self, PyObject *args) {
    Py_buffer buf;
    long limit;
    if (!PyArg_ParseTuple(args, "y*l:json_deeper", &buf, &limit)) return NULL;
    if (limit < 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "json_deeper: limit must be >= 0");
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)buf.buf;
    const Py_ssize_t n = buf.len;
    long depth = 0;
    int over = 0, in_str = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                over = 1;
                break;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return PyBool_FromLong(over);
}

/* raw_str(s) -> (kind, bytes): the str's code units as stored (1, 2 or 4 bytes each) */
static PyObject *text_raw_str(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "raw_str: expected a str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(arg) < 0) return NULL;
#endif
    int kind = PyUnicode_KIND(arg);
    PyObject *b = PyBytes_FromStringAndSize((const char *)PyUnicode_DATA(arg), PyUnicode_GET_LENGTH(arg) * kind);
    if (!b) return NULL;
    return Py_BuildValue("(iN)", kind, b);
}

/* from_raw(kind, data) -> str: the str whose code units (kind bytes each) are data */
static PyObject *text_from_raw(PyObject *self, PyObject *args) {
    int kind;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "iy*", &kind, &buf)) return NULL;
    PyObject *out = NULL;
    if (kind != 1 && kind != 2 && kind != 4)
        PyErr_SetString(PyExc_ValueError, "from_raw: kind must be 1, 2 or 4");
    else if (buf.len % kind)
        PyErr_SetString(PyExc_ValueError, "from_raw: data is not a whole number of code units");
    else {
        int ok = 1;
        if (kind == 4) { /* PyUnicode_FromKindAndData takes code points up to 0x10FFFF only */
            const Py_UCS4 *u = (const Py_UCS4 *)buf.buf;
            for (Py_ssize_t i = 0, n = buf.len / 4; i < n && ok; i++) ok = u[i] <= 0x10FFFF;
        }
        if (ok)
            out = PyUnicode_FromKindAndData(kind, buf.buf, buf.len / kind);
        else
            PyErr_SetString(PyExc_ValueError, "from_raw: a code unit above U+10FFFF");
    }
    PyBuffer_Release(&buf);
    return out;
}

/* ---- tokenisation ------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *cls;
    PyObject *char_class;
    Py_ssize_t count;  /* tokens found */
    Py_ssize_t cap;    /* room in the outputs */
    int64_t *s, *e;    /* nstart, nend */
    uint64_t *h;       /* hashes */
    uint8_t *one;      /* single */
    /* classes of recent astral code points (a direct-mapped memo: each distinct one costs one
     * Python call, not every occurrence; 0 = empty, never an astral code point) */
    Py_UCS4 memo_cp[256];
    uint8_t memo_k[256];
} Tok;

/* class of a code point above the BMP: char_class(c); -1 on error */
static int astral_class(Py_UCS4 c, PyObject *char_class) {
    PyObject *o = PyLong_FromUnsignedLong((unsigned long)c);
    if (o == NULL) return -1;
    PyObject *r = PyObject_CallOneArg(char_class, o);
    Py_DECREF(o);
    if (r == NULL) return -1;
    long v = PyLong_AsLong(r);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v > 255) {
        PyErr_SetString(PyExc_ValueError, "tokens: char_class must return a class in [0, 255]");
        return -1;
    }
    return (int)v;
}

static inline int astral_memo(Tok *t, Py_UCS4 c) {
    unsigned slot = (unsigned)(c * 2654435761u) >> 24;
    if (t->memo_cp[slot] == c) return t->memo_k[slot];
    int k = astral_class(c, t->char_class);
    if (k >= 0) {
        t->memo_cp[slot] = c;
        t->memo_k[slot] = (uint8_t)k;
    }
    return k;
}

/* The token loop for one string kind: writes the tokens (at most t->cap, checked). The hash is
 * sum d[q] * CHAR_BASE**(q - i) over the token. */
#define DEF_TOK_LOOP(NAME, T, WIDE)                                                     \
    static int NAME(Tok *t, const T *d, Py_ssize_t n) {                                 \
        const uint8_t *cls = t->cls;                                                    \
        Py_ssize_t i = 0, m = 0;                                                        \
        while (i < n) {                                                                 \
            Py_UCS4 c = d[i];                                                           \
            int k;                                                                      \
            if (!(WIDE) || c < BMP) {                                                   \
                k = cls[c];                                                             \
            } else if ((k = astral_memo(t, c)) < 0) {                                    \
                return -1;                                                              \
            }                                                                           \
            if (k != WORD && k != SINGLE) {                                             \
                i++;                                                                    \
                continue;                                                               \
            }                                                                           \
            uint64_t h = c, p = CHAR_BASE;                                              \
            Py_ssize_t j = i + 1;                                                       \
            if (k == WORD) {                                                            \
                for (; j < n; j++) {                                                    \
                    Py_UCS4 x = d[j];                                                   \
                    int kx;                                                             \
                    if (!(WIDE) || x < BMP) {                                           \
                        kx = cls[x];                                                    \
                    } else if ((kx = astral_memo(t, x)) < 0) {                                   \
                        return -1;                                                      \
                    }                                                                   \
                    if (kx != WORD) break;                                              \
                    h += (uint64_t)x * p;                                               \
                    p *= CHAR_BASE;                                                     \
                }                                                                       \
            }                                                                           \
            if (m >= t->cap) {                                                          \
                PyErr_SetString(PyExc_RuntimeError, "tokens: more tokens than room");   \
                return -1;                                                              \
            }                                                                           \
            t->s[m] = (int64_t)i;                                                       \
            t->e[m] = (int64_t)j;                                                       \
            t->h[m] = finish(h, (uint64_t)(j - i));                                     \
            t->one[m] = (uint8_t)(k == SINGLE);                                         \
            m++;                                                                        \
            i = j;                                                                      \
        }                                                                               \
        t->count = m;                                                                   \
        return 0;                                                                       \
    }

DEF_TOK_LOOP(tok_ucs1, Py_UCS1, 0)
DEF_TOK_LOOP(tok_ucs2, Py_UCS2, 0)
DEF_TOK_LOOP(tok_ucs4, Py_UCS4, 1)

static int tok_run(Tok *t, int kind, const void *data, Py_ssize_t n) {
    if (kind == PyUnicode_1BYTE_KIND) return tok_ucs1(t, data, n);
    if (kind == PyUnicode_2BYTE_KIND) return tok_ucs2(t, data, n);
    return tok_ucs4(t, data, n);
}

static PyObject *text_tokens(PyObject *self, PyObject *args) {
    PyObject *text, *o_cls, *char_class;
    if (!PyArg_ParseTuple(args, "UOO:tokens", &text, &o_cls, &char_class)) return NULL;
    if (ready(text) < 0) return NULL;
    if (!PyCallable_Check(char_class)) {
        PyErr_SetString(PyExc_ValueError, "tokens: char_class must be callable");
        return NULL;
    }
    Py_buffer b_cls;
    if (get_buf(o_cls, &b_cls, 1, 'u', BMP, 0, "cls") < 0) return NULL;
    PyObject *result = NULL, *a = NULL, *b = NULL, *h = NULL, *one = NULL;
    Tok t;
    memset(&t, 0, sizeof t);
    t.cls = b_cls.buf;
    t.char_class = char_class;
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    /* one pass into outputs of the largest possible size (a token per character), then cut to
     * size: large outputs are mapped memory, whose untouched pages cost nothing and are returned
     * by the shrinking realloc */
    if (n > PY_SSIZE_T_MAX / 8) {
        PyBuffer_Release(&b_cls);
        return PyErr_NoMemory();
    }
    a = PyByteArray_FromStringAndSize(NULL, n * 8);
    b = a ? PyByteArray_FromStringAndSize(NULL, n * 8) : NULL;
    h = b ? PyByteArray_FromStringAndSize(NULL, n * 8) : NULL;
    one = h ? PyByteArray_FromStringAndSize(NULL, n) : NULL;
    if (one == NULL) goto done;
    t.s = (int64_t *)PyByteArray_AS_STRING(a);
    t.e = (int64_t *)PyByteArray_AS_STRING(b);
    t.h = (uint64_t *)PyByteArray_AS_STRING(h);
    t.one = (uint8_t *)PyByteArray_AS_STRING(one);
    t.cap = n;
    if (tok_run(&t, kind, data, n) < 0) goto done;
    Py_ssize_t m = t.count;
    if (PyByteArray_Resize(a, m * 8) < 0 || PyByteArray_Resize(b, m * 8) < 0 || PyByteArray_Resize(h, m * 8) < 0 ||
        PyByteArray_Resize(one, m) < 0)
        goto done;
    result = PyTuple_Pack(4, a, b, h, one);
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(h);
    Py_XDECREF(one);
    PyBuffer_Release(&b_cls);
    return result;
}

/* ---- polynomial hashes -------------------------------------------------------------------- */

static PyObject *text_range_hashes(PyObject *self, PyObject *args) {
    PyObject *o_v, *o_s, *o_e, *o_out;
    unsigned long long base;
    if (!PyArg_ParseTuple(args, "OOOKO:range_hashes", &o_v, &o_s, &o_e, &base, &o_out)) return NULL;
    Py_buffer bv, bs, be, bo;
    if (get_buf(o_v, &bv, 8, 'u', -1, 0, "values") < 0) return NULL;
    if (get_buf(o_s, &bs, 8, 'i', -1, 0, "start") < 0) {
        PyBuffer_Release(&bv);
        return NULL;
    }
    Py_ssize_t m = bs.len / 8;
    if (get_buf(o_e, &be, 8, 'i', m, 0, "end") < 0) {
        PyBuffer_Release(&bv);
        PyBuffer_Release(&bs);
        return NULL;
    }
    if (get_buf(o_out, &bo, 8, 'u', m, 1, "out") < 0) {
        PyBuffer_Release(&bv);
        PyBuffer_Release(&bs);
        PyBuffer_Release(&be);
        return NULL;
    }
    PyObject *result = NULL;
    uint64_t *g = NULL, *pw = NULL;
    const uint64_t *v = bv.buf;
    const int64_t *st = bs.buf, *en = be.buf;
    uint64_t *out = bo.buf;
    const int64_t n = (int64_t)(bv.len / 8);
    const int64_t direct_max = n + 2 * (int64_t)m; /* the most work for which Horner on each range pays */
    int64_t total = 0, maxlen = 0;
    for (Py_ssize_t r = 0; r < m; r++) {
        int64_t s = st[r], e = en[r];
        if (s < 0 || e < s || e > n) {
            PyErr_SetString(PyExc_ValueError, "range_hashes: need 0 <= start <= end <= len(values)");
            goto done;
        }
        if (total <= direct_max) total += e - s; /* stops growing past the threshold: no overflow */
        if (e - s > maxlen) maxlen = e - s;
    }
    if (total <= direct_max) { /* short ranges: Horner's rule on each */
        for (Py_ssize_t r = 0; r < m; r++) {
            uint64_t h = 0;
            for (int64_t q = en[r] - 1; q >= st[r]; q--) h = h * base + v[q];
            out[r] = finish(h, (uint64_t)(en[r] - st[r]));
        }
    } else { /* g[i] = sum_{q >= i} v[q] * base**(q - i); raw(s, e) = g[s] - base**(e - s) * g[e] */
        g = PyMem_Malloc((size_t)(n + 1) * 8);
        pw = PyMem_Malloc((size_t)(maxlen + 1) * 8);
        if (g == NULL || pw == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        g[n] = 0;
        for (int64_t q = n - 1; q >= 0; q--) g[q] = g[q + 1] * base + v[q];
        pw[0] = 1;
        for (int64_t q = 1; q <= maxlen; q++) pw[q] = pw[q - 1] * base;
        for (Py_ssize_t r = 0; r < m; r++) {
            int64_t s = st[r], e = en[r];
            out[r] = finish(g[s] - pw[e - s] * g[e], (uint64_t)(e - s));
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyMem_Free(g);
    PyMem_Free(pw);
    PyBuffer_Release(&bv);
    PyBuffer_Release(&bs);
    PyBuffer_Release(&be);
    PyBuffer_Release(&bo);
    return result;
}

static PyObject *text_kgram_hashes(PyObject *self, PyObject *args) {
    PyObject *o_v, *o_out;
    Py_ssize_t k;
    unsigned long long base;
    if (!PyArg_ParseTuple(args, "OnKO:kgram_hashes", &o_v, &k, &base, &o_out)) return NULL;
    Py_buffer bv, bo;
    if (get_buf(o_v, &bv, 8, 'u', -1, 0, "values") < 0) return NULL;
    const Py_ssize_t n = bv.len / 8;
    if (k < 1 || k > n) {
        PyErr_SetString(PyExc_ValueError, "kgram_hashes: need 1 <= k <= len(values)");
        PyBuffer_Release(&bv);
        return NULL;
    }
    if (get_buf(o_out, &bo, 8, 'u', n - k + 1, 1, "out") < 0) {
        PyBuffer_Release(&bv);
        return NULL;
    }
    const uint64_t *v = bv.buf;
    uint64_t *out = bo.buf;
    const uint64_t lenmix = (uint64_t)k * GOLDEN;
    /* pk = base**k; walking right to left, h(i) = v[i] + base * h(i + 1) - pk * v[i + k] */
    uint64_t pk = 1;
    for (Py_ssize_t q = 0; q < k; q++) pk *= base;
    uint64_t h = 0;
    for (Py_ssize_t q = n - 1; q >= n - k; q--) h = h * base + v[q];
    out[n - k] = fmix64(h ^ lenmix);
    for (Py_ssize_t i = n - k - 1; i >= 0; i--) {
        h = h * base + v[i] - pk * v[i + k];
        out[i] = fmix64(h ^ lenmix);
    }
    PyBuffer_Release(&bv);
    PyBuffer_Release(&bo);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"normalize", text_normalize, METH_VARARGS,
     "normalize(text, comb, single, exp_len, exp_start, pool, fold, combining) -> (str, orig_start, orig_end)"},
    {"fold", text_fold, METH_VARARGS, "fold(text, table) -> str, or None when a character is not in the table"},
    {"report_lines", text_report_lines, METH_VARARGS, "report_lines(doc_id, spans, round) -> bytes, or None when not formatted here"},
    {"json_str", text_json_str, METH_O, "json_str(s) -> the UTF-8 of its JSON string, or None (a lone surrogate)"},
    {"raw_str", text_raw_str, METH_O, "raw_str(s) -> (kind, bytes): the str's code units as stored"},
    {"json_deeper", text_json_deeper, METH_VARARGS, "json_deeper(data, limit) -> bool: lists and objects nested over limit deep"},
    {"from_raw", text_from_raw, METH_VARARGS, "from_raw(kind, data) -> str: the str of those code units"},
    {"tokens", text_tokens, METH_VARARGS, "tokens(text, cls, char_class) -> (nstart, nend, hashes, single)"},
    {"range_hashes", text_range_hashes, METH_VARARGS, "range_hashes(values, start, end, base, out) -> None"},
    {"kgram_hashes", text_kgram_hashes, METH_VARARGS, "kgram_hashes(values, k, base, out) -> None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "text", "Text kernels of dedupe.core (normalise, tokenise, hash).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_text(void) { return PyModule_Create(&module); }
