/* Compiled fast path of storeswap.gateway.wire.decode_item (see wire.py).
 *
 * decode_item(typed) decodes an attribute map whose values use only the common
 * AttributeValue types -- S, N, BOOL, NULL, M and L -- each well formed: a
 * one-key JSON object whose body has the JSON type DynamoDB requires.  N
 * becomes decimal.Decimal(text), exactly as the Python decoder does.  For
 * anything else (B, the set types, an unknown or malformed value, a number
 * Decimal refuses, nesting deeper than MAX_DEPTH) it returns None and the
 * caller runs the pure-Python decoder, which decodes it or raises the error:
 * the rules and the messages live in wire.py only.
 *
 * encode_item(item) is the fast path of wire.encode_item: an attribute map of
 * the types stores return most -- exact str, Decimal, int, bool, None, dict
 * and list -- as AttributeValue JSON, built exactly as the Python encoder
 * builds it ({"N": str(number)}, {"NULL": true}, ...).  For anything else
 * (bytes, sets, other mappings or sequences, nesting deeper than MAX_DEPTH)
 * it returns None and the caller runs the Python encoder.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MAX_DEPTH 32

static PyObject *DecimalType = NULL;
/* "The Python decoder must decide": a private object, so that None can be a decoded value (NULL). */
static PyObject *Undecided = NULL;

#define UNDECIDED() return Py_NewRef(Undecided)

/* The decoded value (a new reference), Undecided (a new reference) when the Python decoder must decide,
 * or NULL with an error set (memory errors only). */
static PyObject *decode_value(PyObject *typed, int depth);

static PyObject *decode_map(PyObject *typed, int depth) {
    if (depth > MAX_DEPTH) UNDECIDED();
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (PyDict_Next(typed, &pos, &name, &value)) {
        PyObject *v = decode_value(value, depth);
        if (v == NULL || v == Undecided) {
            Py_DECREF(out);
            return v;
        }
        int rc = PyDict_SetItem(out, name, v);
        Py_DECREF(v);
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *decode_list(PyObject *body, int depth) {
    if (depth > MAX_DEPTH) UNDECIDED();
    Py_ssize_t n = PyList_GET_SIZE(body);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = decode_value(PyList_GET_ITEM(body, i), depth);
        if (v == NULL || v == Undecided) {
            Py_DECREF(out);  /* the slots not filled yet are NULL, which a list's deallocation skips */
            return v;
        }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}

static PyObject *decode_value(PyObject *typed, int depth) {
    if (!PyDict_CheckExact(typed) || PyDict_GET_SIZE(typed) != 1) UNDECIDED();
    Py_ssize_t pos = 0;
    PyObject *tag, *body;
    if (!PyDict_Next(typed, &pos, &tag, &body) || !PyUnicode_CheckExact(tag)) UNDECIDED();
    if (PyUnicode_GET_LENGTH(tag) == 1) {
        Py_UCS4 c = PyUnicode_READ_CHAR(tag, 0);
        if (c == 'S' && PyUnicode_CheckExact(body)) return Py_NewRef(body);
        if (c == 'N' && PyUnicode_CheckExact(body)) {
            /* A signalling NaN ("sNaN", " -snan7"): Decimal takes it, the Python decoder refuses it. No number
               DynamoDB accepts holds an 's', so any text with one is left to the Python decoder. */
            Py_ssize_t len = PyUnicode_GET_LENGTH(body);
            if (PyUnicode_FindChar(body, 's', 0, len, 1) != -1 || PyUnicode_FindChar(body, 'S', 0, len, 1) != -1)
                UNDECIDED();
            PyObject *d = PyObject_CallOneArg(DecimalType, body);
            if (d == NULL) {  /* not a number: the Python decoder raises DynamoDB's error */
                if (PyErr_ExceptionMatches(PyExc_MemoryError)) return NULL;
                PyErr_Clear();
                UNDECIDED();
            }
            return d;
        }
        if (c == 'M' && PyDict_CheckExact(body)) return decode_map(body, depth + 1);
        if (c == 'L' && PyList_CheckExact(body)) return decode_list(body, depth + 1);
        UNDECIDED();
    }
    if (PyUnicode_CompareWithASCIIString(tag, "BOOL") == 0 && PyBool_Check(body)) return Py_NewRef(body);
    if (PyUnicode_CompareWithASCIIString(tag, "NULL") == 0 && body == Py_True) Py_RETURN_NONE;
    UNDECIDED();
}

/* ---------------------------------------------------------------- encoding */

static PyObject *TAG_S, *TAG_N, *TAG_BOOL, *TAG_NULL, *TAG_M, *TAG_L;

/* {tag: body}, stealing the reference to body (NULL: an error is set). */
static PyObject *tagged(PyObject *tag, PyObject *body) {
    if (body == NULL) return NULL;
    PyObject *out = PyDict_New();
    if (out != NULL && PyDict_SetItem(out, tag, body) < 0) Py_CLEAR(out);
    Py_DECREF(body);
    return out;
}

static PyObject *encode_value(PyObject *v, int depth);

static PyObject *encode_map(PyObject *m, int depth) {
    if (depth > MAX_DEPTH) UNDECIDED();
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (PyDict_Next(m, &pos, &name, &value)) {
        PyObject *e = encode_value(value, depth);
        if (e == NULL || e == Undecided) {
            Py_DECREF(out);
            return e;
        }
        int rc = PyDict_SetItem(out, name, e);
        Py_DECREF(e);
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *encode_list(PyObject *l, int depth) {
    if (depth > MAX_DEPTH) UNDECIDED();
    Py_ssize_t n = PyList_GET_SIZE(l);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = encode_value(PyList_GET_ITEM(l, i), depth);
        if (e == NULL || e == Undecided) {
            Py_DECREF(out);
            return e;
        }
        PyList_SET_ITEM(out, i, e);
    }
    return out;
}

static PyObject *encode_value(PyObject *v, int depth) {
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type) return tagged(TAG_S, Py_NewRef(v));
    if ((PyObject *)t == DecimalType || t == &PyLong_Type) return tagged(TAG_N, PyObject_Str(v));
    if (t == &PyBool_Type) return tagged(TAG_BOOL, Py_NewRef(v));
    if (v == Py_None) return tagged(TAG_NULL, Py_NewRef(Py_True));
    if (t == &PyDict_Type) {
        PyObject *m = encode_map(v, depth + 1);
        return m == NULL || m == Undecided ? m : tagged(TAG_M, m);
    }
    if (t == &PyList_Type) {
        PyObject *l = encode_list(v, depth + 1);
        return l == NULL || l == Undecided ? l : tagged(TAG_L, l);
    }
    UNDECIDED();
}

static PyObject *encode_item(PyObject *self, PyObject *item) {
    if (!PyDict_CheckExact(item)) Py_RETURN_NONE;
    PyObject *out = encode_map(item, 0);
    if (out == Undecided) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

static PyObject *decode_item(PyObject *self, PyObject *typed) {
    if (!PyDict_CheckExact(typed)) Py_RETURN_NONE;
    PyObject *out = decode_map(typed, 0);
    if (out == Undecided) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"decode_item", decode_item, METH_O,
     "decode_item(typed) -> dict | None: the fast path of wire.decode_item (None: the Python decoder decides)."},
    {"encode_item", encode_item, METH_O,
     "encode_item(item) -> dict | None: the fast path of wire.encode_item (None: the Python encoder decides)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "storeswap.gateway.cwire",
                                    "Compiled fast path of storeswap.gateway.wire.", -1, methods};

PyMODINIT_FUNC PyInit_cwire(void) {
    PyObject *decimal = PyImport_ImportModule("decimal");
    if (decimal == NULL) return NULL;
    DecimalType = PyObject_GetAttrString(decimal, "Decimal");
    Py_DECREF(decimal);
    if (DecimalType == NULL) return NULL;
    Undecided = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (Undecided == NULL) return NULL;
    TAG_S = PyUnicode_InternFromString("S");
    TAG_N = PyUnicode_InternFromString("N");
    TAG_BOOL = PyUnicode_InternFromString("BOOL");
    TAG_NULL = PyUnicode_InternFromString("NULL");
    TAG_M = PyUnicode_InternFromString("M");
    TAG_L = PyUnicode_InternFromString("L");
    if (!TAG_S || !TAG_N || !TAG_BOOL || !TAG_NULL || !TAG_M || !TAG_L) return NULL;
    return PyModule_Create(&module);
}
