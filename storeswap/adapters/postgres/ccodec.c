/* Compiled fast path of storeswap.adapters.postgres.codec.encode_item (format in codec.py).
 *
 * encode_item(item) returns the same bytes as the pure-Python encoder for
 * items made of exact str, Decimal, bytes, bool, None, dict and list values;
 * for anything else (typed sets, ints, subclasses, strings with lone
 * surrogates) it returns None and the caller runs the pure-Python encoder.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *DecimalType = NULL;

/* An output buffer: PyMem memory, or (obj set) the storage of a bytes object being built, which is handed out
 * as the result without a copy. */
typedef struct { char *buf; Py_ssize_t len, cap; PyObject *obj; } Buf;

static int grow(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->len + extra) cap *= 2;
    if (b->obj != NULL) {
        if (_PyBytes_Resize(&b->obj, cap) < 0) { b->buf = NULL; return -1; }  /* obj is NULL then */
        b->buf = PyBytes_AS_STRING(b->obj);
        b->cap = cap;
        return 0;
    }
    char *p = PyMem_Realloc(b->buf, cap);
    if (p == NULL) { PyErr_NoMemory(); return -1; }
    b->buf = p;
    b->cap = cap;
    return 0;
}

static int put_varint(Buf *b, size_t n) {
    if (grow(b, 10) < 0) return -1;
    while (n >= 0x80) { b->buf[b->len++] = (char)((n & 0x7F) | 0x80); n >>= 7; }
    b->buf[b->len++] = (char)n;
    return 0;
}

static int put_bytes(Buf *b, const char *p, Py_ssize_t n) {
    if (put_varint(b, (size_t)n) < 0 || grow(b, n) < 0) return -1;
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

static int put_tag(Buf *b, char tag) {
    if (grow(b, 1) < 0) return -1;
    b->buf[b->len++] = tag;
    return 0;
}

/* 0 ok, -1 Python error, 1 unsupported (fall back). */
static int put_str(Buf *b, PyObject *s) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == NULL) { PyErr_Clear(); return 1; }  /* lone surrogates: Python's surrogatepass */
    return put_bytes(b, p, n);
}

static int enc(Buf *b, PyObject *v, int depth);

static int enc_map(Buf *b, PyObject *d, int depth) {
    if (put_varint(b, (size_t)PyDict_GET_SIZE(d)) < 0) return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) return 1;
        int r = put_str(b, k);
        if (r) return r;
        r = enc(b, v, depth + 1);
        if (r) return r;
    }
    return 0;
}

static int enc(Buf *b, PyObject *v, int depth) {
    if (depth > 64) return 1;
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type) {
        if (put_tag(b, 'S') < 0) return -1;
        return put_str(b, v);
    }
    if ((PyObject *)t == DecimalType) {
        PyObject *s = PyObject_Str(v);
        if (s == NULL) return -1;
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(s, &n);
        int r = p == NULL ? -1 : (put_tag(b, 'N') < 0 || put_bytes(b, p, n) < 0) ? -1 : 0;
        Py_DECREF(s);
        return r;
    }
    if (t == &PyDict_Type) {
        if (put_tag(b, 'M') < 0) return -1;
        return enc_map(b, v, depth);
    }
    if (t == &PyList_Type) {
        Py_ssize_t n = PyList_GET_SIZE(v);
        if (put_tag(b, 'L') < 0 || put_varint(b, (size_t)n) < 0) return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            int r = enc(b, PyList_GET_ITEM(v, i), depth + 1);
            if (r) return r;
        }
        return 0;
    }
    if (t == &PyBool_Type) return put_tag(b, v == Py_True ? 'T' : 'F');
    if (v == Py_None) return put_tag(b, 'Z');
    if (t == &PyBytes_Type) {
        if (put_tag(b, 'B') < 0) return -1;
        return put_bytes(b, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    }
    if (t == &PyByteArray_Type) {
        if (put_tag(b, 'B') < 0) return -1;
        return put_bytes(b, PyByteArray_AS_STRING(v), PyByteArray_GET_SIZE(v));
    }
    return 1;
}

static PyObject *encode_item(PyObject *self, PyObject *item) {
    if (!PyDict_CheckExact(item)) Py_RETURN_NONE;
    Buf b = {PyMem_Malloc(1024), 0, 1024};
    if (b.buf == NULL) return PyErr_NoMemory();
    b.buf[b.len++] = 1; /* VERSION */
    int r = enc_map(&b, item, 0);
    PyObject *out = NULL;
    if (r == 0) out = PyBytes_FromStringAndSize(b.buf, b.len);
    PyMem_Free(b.buf);
    if (r > 0) Py_RETURN_NONE;
    return out;
}

static PyObject *encode_value(PyObject *self, PyObject *value) {
    Buf b = {PyMem_Malloc(256), 0, 256};
    if (b.buf == NULL) return PyErr_NoMemory();
    int r = enc(&b, value, 0);
    PyObject *out = NULL;
    if (r == 0) out = PyBytes_FromStringAndSize(b.buf, b.len);
    PyMem_Free(b.buf);
    if (r > 0) Py_RETURN_NONE;
    return out;
}


/* ---- copy_rows: binary COPY rows (bucket, pk[, sk], item) of a table with S/B keys and no other columns ---- */

static void be32(char *p, uint32_t v) { p[0] = (char)(v >> 24); p[1] = (char)(v >> 16); p[2] = (char)(v >> 8); p[3] = (char)v; }

/* The key value's bytes: UTF-8 of an exact str (kind 'S') or an exact bytes (kind 'B'); NULL: unsupported. */
static const char *key_bytes(PyObject *v, char kind, Py_ssize_t *n) {
    if (kind == 'S') {
        if (!PyUnicode_CheckExact(v)) return NULL;
        const char *p = PyUnicode_AsUTF8AndSize(v, n);
        if (p == NULL) PyErr_Clear();  /* lone surrogates: the Python path */
        return p;
    }
    if (!PyBytes_CheckExact(v)) return NULL;
    *n = PyBytes_GET_SIZE(v);
    return PyBytes_AS_STRING(v);
}

/* BLAKE2b (RFC 7693), unkeyed, digest of outlen <= 8 bytes read as hashlib's digest() big-endian integer:
 * the same values as keys.partition_bucket (4 bytes) and Layout.lock_id (8 bytes), tested against hashlib. */
static const uint64_t B2_IV[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                  0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                  0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};
#define B2_ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2_G(a, b, c, d, x, y)                  \
    do {                                        \
        v[a] = v[a] + v[b] + (x);               \
        v[d] = B2_ROTR(v[d] ^ v[a], 32);        \
        v[c] = v[c] + v[d];                     \
        v[b] = B2_ROTR(v[b] ^ v[c], 24);        \
        v[a] = v[a] + v[b] + (y);               \
        v[d] = B2_ROTR(v[d] ^ v[a], 16);        \
        v[c] = v[c] + v[d];                     \
        v[b] = B2_ROTR(v[b] ^ v[c], 63);        \
    } while (0)

static void b2_compress(uint64_t h[8], const unsigned char block[128], uint64_t t, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) { v[i] = h[i]; v[i + 8] = B2_IV[i]; }
    v[12] ^= t;
    if (last) v[14] = ~v[14];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(m, block, sizeof m);  /* the message words are little-endian */
#else
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--) w = (w << 8) | block[i * 8 + j];
        m[i] = w;
    }
#endif
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = B2_SIGMA[r];
        B2_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        B2_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        B2_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        B2_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        B2_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        B2_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        B2_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        B2_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

static uint64_t blake2b_int(const char *data, Py_ssize_t n, int outlen) {
    uint64_t h[8];
    unsigned char block[128];
    for (int i = 0; i < 8; i++) h[i] = B2_IV[i];
    h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
    uint64_t t = 0;
    const unsigned char *p = (const unsigned char *)data;
    while (n > 128) {
        t += 128;
        b2_compress(h, p, t, 0);
        p += 128;
        n -= 128;
    }
    memset(block, 0, sizeof block);
    if (n > 0) memcpy(block, p, (size_t)n);
    t += (uint64_t)n;
    b2_compress(h, block, t, 1);
    uint64_t out = 0;
    for (int i = 0; i < outlen; i++) out = (out << 8) | ((h[i / 8] >> (8 * (i % 8))) & 0xFF);
    return out;
}

static int cmp_bytes(const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb) {
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c) return c;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

/* The framing state of one call: the key attributes, the lock prefix, and the previous row (order, bucket reuse). */
typedef struct {
    PyObject *pk_name, *sk_name;
    int has_sk;
    char pk_kind, sk_kind;
    Py_buffer prefix;
    PyObject *prev_pk, *prev_sk;  /* borrowed from items (the list keeps them alive) */
    uint64_t prev_bucket, bucket;
    int ordered;
    Buf lk;
} Framer;

/* Parse (items, pk, sk, kinds, lock_prefix); 0 ok (release with framer_done), -1 error. */
static int framer_init(Framer *f, PyObject *args, PyObject **items) {
    const char *kinds;
    memset(f, 0, sizeof *f);
    if (!PyArg_ParseTuple(args, "O!UOsy*", &PyList_Type, items, &f->pk_name, &f->sk_name, &kinds, &f->prefix))
        return -1;
    f->has_sk = f->sk_name != Py_None;
    if (strlen(kinds) != (size_t)(1 + f->has_sk)) {
        PyBuffer_Release(&f->prefix);
        PyErr_SetString(PyExc_ValueError, "copy_rows: kinds holds one kind letter per key attribute");
        return -1;
    }
    f->pk_kind = kinds[0];
    f->sk_kind = f->has_sk ? kinds[1] : 0;
    f->ordered = 1;
    f->lk.buf = PyMem_Malloc(256);
    f->lk.cap = 256;
    if (f->lk.buf == NULL) { PyBuffer_Release(&f->prefix); PyErr_NoMemory(); return -1; }
    return 0;
}

static void framer_done(Framer *f) {
    PyBuffer_Release(&f->prefix);
    PyMem_Free(f->lk.buf);
}

/* Append `item`'s binary COPY row to `row` and set *lock to its lock id: 0 ok, -1 Python error, 1 unsupported. */
static int frame_row(Framer *f, PyObject *item, Buf *row, uint64_t *lock) {
    if (!PyDict_CheckExact(item)) return 1;
    PyObject *pkv = PyDict_GetItemWithError(item, f->pk_name);
    PyObject *skv = f->has_sk ? PyDict_GetItemWithError(item, f->sk_name) : NULL;
    if (pkv == NULL || (f->has_sk && skv == NULL)) return PyErr_Occurred() ? -1 : 1;
    Py_ssize_t npk, nsk = 0;
    const char *ppk = key_bytes(pkv, f->pk_kind, &npk), *psk = NULL;
    if (ppk == NULL) return 1;
    if (f->has_sk) {
        psk = key_bytes(skv, f->sk_kind, &nsk);
        if (psk == NULL) return 1;
    }
    Buf *lk = &f->lk;
    /* bucket: blake2b-32 of tag + key bytes (keys.partition_bucket); scan pages come grouped by partition */
    Py_ssize_t nprev = 0;
    const char *pprev = f->prev_pk == NULL ? NULL : key_bytes(f->prev_pk, f->pk_kind, &nprev);
    int same_pk = pprev != NULL && cmp_bytes(pprev, nprev, ppk, npk) == 0;
    if (!same_pk) {
        lk->len = 0;
        if (put_tag(lk, f->pk_kind) < 0 || grow(lk, npk) < 0) return -1;
        memcpy(lk->buf + lk->len, ppk, npk);
        lk->len += npk;
        f->bucket = blake2b_int(lk->buf, lk->len, 4);
    }
    uint64_t bucket = f->bucket;
    /* order: (bucket, pk, sk), as PostgreSQL compares bigint and bytea */
    if (f->prev_pk != NULL && f->ordered) {
        if (bucket != f->prev_bucket) f->ordered = bucket > f->prev_bucket;
        else if (!same_pk) f->ordered = cmp_bytes(pprev, nprev, ppk, npk) < 0;
        else if (f->has_sk) {
            Py_ssize_t nps;
            const char *pps = key_bytes(f->prev_sk, f->sk_kind, &nps);
            f->ordered = pps != NULL && cmp_bytes(pps, nps, psk, nsk) < 0;
        } else f->ordered = 0;
    }
    f->prev_pk = pkv; f->prev_sk = skv; f->prev_bucket = bucket;
    /* lock id: blake2b-64 of the table's prefix + encode_value(pk) [+ encode_value(sk)] (Layout.lock_id) */
    lk->len = 0;
    if (grow(lk, f->prefix.len) < 0) return -1;
    memcpy(lk->buf, f->prefix.buf, f->prefix.len);
    lk->len = f->prefix.len;
    int r = enc(lk, pkv, 0);
    if (r == 0 && f->has_sk) r = enc(lk, skv, 0);
    if (r) return r;
    *lock = blake2b_int(lk->buf, lk->len, 8);
    /* the row: field count, then (length, value) per column */
    if (grow(row, 2 + 12 + 4 + npk + 4 + nsk + 4) < 0) return -1;
    char *p = row->buf + row->len;
    p[0] = 0; p[1] = (char)(f->has_sk ? 4 : 3);
    be32(p + 2, 8);
    be32(p + 6, (uint32_t)(bucket >> 32));
    be32(p + 10, (uint32_t)bucket);
    row->len += 14;
    be32(row->buf + row->len, (uint32_t)npk); memcpy(row->buf + row->len + 4, ppk, npk); row->len += 4 + npk;
    if (f->has_sk) { be32(row->buf + row->len, (uint32_t)nsk); memcpy(row->buf + row->len + 4, psk, nsk); row->len += 4 + nsk; }
    Py_ssize_t at = row->len;
    row->len += 4;
    if (put_tag(row, 1) < 0) return -1;  /* codec VERSION */
    r = enc_map(row, item, 0);
    if (r) return r;
    if (row->len - at - 4 > 0x7FFFFFFF) return 1;
    be32(row->buf + at, (uint32_t)(row->len - at - 4));
    return 0;
}

static PyObject *copy_rows(PyObject *self, PyObject *args) {
    Framer f;
    PyObject *items;
    if (framer_init(&f, args, &items) < 0) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(items);
    PyObject *frames = PyList_New(count), *locks = PyList_New(count), *result = NULL;
    Buf row = {PyMem_Malloc(2048), 0, 2048};
    int unsupported = 0;
    if (frames == NULL || locks == NULL || row.buf == NULL) { if (!PyErr_Occurred()) PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t lock;
        row.len = 0;
        int r = frame_row(&f, PyList_GET_ITEM(items, i), &row, &lock);
        if (r < 0) goto done;
        if (r > 0) { unsupported = 1; goto done; }
        PyObject *lock_obj = PyLong_FromLongLong((long long)lock);
        if (lock_obj == NULL) goto done;
        PyList_SET_ITEM(locks, i, lock_obj);
        PyObject *frame = PyBytes_FromStringAndSize(row.buf, row.len);
        if (frame == NULL) goto done;
        PyList_SET_ITEM(frames, i, frame);
    }
    result = Py_BuildValue("(OOO)", frames, locks, f.ordered ? Py_True : Py_False);
done:
    framer_done(&f);
    PyMem_Free(row.buf);
    Py_XDECREF(frames);
    Py_XDECREF(locks);
    if (unsupported && !PyErr_Occurred()) Py_RETURN_NONE;
    return result;
}

/* ",<v>" (or "<v>" without the comma) in decimal, as %lld writes it; returns the characters written (<= 21). */
static Py_ssize_t put_decimal(char *p, long long v, int comma) {
    char tmp[20];
    int n = 0;
    Py_ssize_t at = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    if (comma) p[at++] = ',';
    if (v < 0) p[at++] = '-';
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    while (n) p[at++] = tmp[--n];
    return at;
}

static int cmp_lock(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* copy_payload(items, pk, sk, kinds, lock_prefix) -> (payload, lock_list) | None: the rows of items in key order
 * and without a key twice, as one binary COPY stream (header, rows, trailer), and their lock ids sorted as the
 * text of an array literal ("1,-2,..."); None when the items are not in key order, name a key twice, or one
 * needs the Python encoder (copy_rows then frames them one by one). */
static PyObject *copy_payload(PyObject *self, PyObject *args) {
    static const char header[19] = "PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
    Framer f;
    PyObject *items;
    if (framer_init(&f, args, &items) < 0) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(items);
    PyObject *result = NULL;
    int unsupported = 0;
    /* the stream is framed straight into the bytes object returned (a page is ~1 MB: no second copy) */
    Buf out = {NULL, 0, 64 + count * 1100, PyBytes_FromStringAndSize(NULL, 64 + count * 1100)}, text = {NULL, 0, 0, NULL};
    long long *locks = PyMem_Malloc(sizeof(long long) * (count > 0 ? count : 1));
    if (out.obj == NULL || locks == NULL) { if (!PyErr_Occurred()) PyErr_NoMemory(); goto done; }
    out.buf = PyBytes_AS_STRING(out.obj);
    memcpy(out.buf, header, 19);
    out.len = 19;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t lock;
        int r = frame_row(&f, PyList_GET_ITEM(items, i), &out, &lock);
        if (r < 0) goto done;
        if (r > 0 || !f.ordered) { unsupported = 1; goto done; }
        locks[i] = (long long)lock;
    }
    if (grow(&out, 2) < 0) goto done;
    out.buf[out.len++] = (char)0xff;
    out.buf[out.len++] = (char)0xff;
    qsort(locks, (size_t)count, sizeof(long long), cmp_lock);
    text.cap = 21 * (count > 0 ? count : 1) + 2;
    text.buf = PyMem_Malloc(text.cap);
    if (text.buf == NULL) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i > 0 && locks[i] == locks[i - 1]) { unsupported = 1; goto done; }  /* a key twice: the dedup path */
        text.len += put_decimal(text.buf + text.len, locks[i], i > 0);
    }
    if (_PyBytes_Resize(&out.obj, out.len) < 0) goto done;
    result = Py_BuildValue("(Os#)", out.obj, text.buf, text.len);
done:
    framer_done(&f);
    Py_XDECREF(out.obj);
    PyMem_Free(text.buf);
    PyMem_Free(locks);
    if (unsupported && !PyErr_Occurred()) Py_RETURN_NONE;
    return result;
}

static PyMethodDef methods[] = {
    {"encode_item", encode_item, METH_O, "encode_item(item) -> bytes | None: the fast path of codec.encode_item."},
    {"encode_value", encode_value, METH_O, "encode_value(value) -> bytes | None: the fast path of codec.encode_value."},
    {"copy_rows", copy_rows, METH_VARARGS,
     "copy_rows(items, pk, sk, kinds, lock_prefix) -> (frames, lock_ids, ordered) | None:"
     " the fast path of bulk.copy_rows."},
    {"copy_payload", copy_payload, METH_VARARGS,
     "copy_payload(items, pk, sk, kinds, lock_prefix) -> (payload, lock_list) | None:"
     " the fast path of bulk.copy_payload."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "storeswap.adapters.postgres.ccodec",
                                    "Compiled fast path of storeswap.adapters.postgres.codec.", -1, methods};

PyMODINIT_FUNC PyInit_ccodec(void) {
    PyObject *decimal = PyImport_ImportModule("decimal");
    if (decimal == NULL) return NULL;
    DecimalType = PyObject_GetAttrString(decimal, "Decimal");
    Py_DECREF(decimal);
    if (DecimalType == NULL) return NULL;
    return PyModule_Create(&module);
}
