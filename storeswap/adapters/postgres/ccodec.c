/* Compiled fast path of storeswap.adapters.postgres.codec.encode_item (format in codec.py).
 *
 * encode_item(item) returns the same bytes as the pure-Python encoder for
 * items made of exact str, Decimal, bytes, bool, None, dict and list values;
 * for anything else (typed sets, ints, subclasses, strings with lone
 * surrogates) it returns None and the caller runs the pure-Python encoder.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *DecimalType = NULL;

typedef struct { char *buf; Py_ssize_t len, cap; } Buf;

static int grow(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->len + extra) cap *= 2;
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

static PyMethodDef methods[] = {
    {"encode_item", encode_item, METH_O, "encode_item(item) -> bytes | None: the fast path of codec.encode_item."},
    {"encode_value", encode_value, METH_O, "encode_value(value) -> bytes | None: the fast path of codec.encode_value."},
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
