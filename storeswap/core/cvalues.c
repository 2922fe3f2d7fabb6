/* Compiled fast path of storeswap.core.values.normalize_item (see values.py).
 *
 * normalize_item(item, normalize_value, value_size) handles the common
 * top-level attribute types itself (exact str, bool, None, bytes, and
 * Decimals already in canonical form) and hands every other attribute to the
 * pure-Python normalize_value / value_size it is given, so the rules live in
 * one place and any error is the one the Python code raises.  It returns None
 * whenever it cannot decide by itself (not an exact dict, a non-str or empty
 * attribute name, a non-UTF-8-encodable string, an item over the size
 * limit): the caller then runs the pure-Python path, which raises the error.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_ITEM_SIZE 409600
#define MAX_NUMBER_DIGITS 38
#define MAX_INTEGER_DIGITS 126

static PyObject *DecimalType = NULL;
static PyObject *str_where = NULL;
static PyObject *str_depth = NULL;
static PyObject *zero = NULL;

/* UTF-8 length of s, or -1 (with no error set) when it holds lone surrogates. */
static Py_ssize_t utf8_len(PyObject *s) {
    if (PyUnicode_IS_ASCII(s)) return PyUnicode_GET_LENGTH(s);
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == NULL) { PyErr_Clear(); return -1; }
    return n;
}

/* Size of a Decimal whose str() is `t` (length n) when it is canonical, else -1.
 * Canonical: no exponent, no leading zeros, no trailing fractional zeros, not "-0",
 * at most 38 significant digits, at most 126 integer digits (below 1E+126, V1).  str() writes an exponent
 * for anything below 1E-6, but not for an integral Decimal of exponent 0 however large (Decimal(10**126)),
 * so the integer digits are bounded here. */
static long canonical_number_size(const char *t, Py_ssize_t n) {
    Py_ssize_t i = 0;
    if (n == 1 && t[0] == '0') return 1;
    if (i < n && t[i] == '-') i++;
    if (i >= n) return -1;
    Py_ssize_t int_start = i, dot = -1;
    for (; i < n; i++) {
        char c = t[i];
        if (c == '.') { if (dot >= 0) return -1; dot = i; continue; }
        if (c < '0' || c > '9') return -1;  /* E, NaN, Infinity */
    }
    long digits, exponent;
    if (dot < 0) {
        Py_ssize_t len = n - int_start;
        if (t[int_start] == '0') return -1;  /* "-0" or a leading zero */
        if (len > MAX_INTEGER_DIGITS) return -1;  /* 1E+126 or more: the Python rules refuse it */
        Py_ssize_t end = n;
        while (end > int_start && t[end - 1] == '0') end--;
        digits = (long)(end - int_start);
        exponent = (long)(n - end);
        (void)len;
    } else {
        Py_ssize_t int_len = dot - int_start, frac_len = n - dot - 1;
        if (int_len < 1 || frac_len < 1) return -1;
        if (t[n - 1] == '0') return -1;  /* trailing fractional zero: not canonical */
        if (int_len > 1 && t[int_start] == '0') return -1;
        if (t[int_start] == '0') {
            Py_ssize_t j = dot + 1;
            while (j < n && t[j] == '0') j++;
            digits = (long)(n - j);
        } else {
            digits = (long)(int_len + frac_len);
        }
        exponent = -(long)frac_len;
    }
    if (digits > MAX_NUMBER_DIGITS) return -1;
    long m = (digits + exponent) % 2;
    if (m < 0) m += 2;
    return (digits + m + 1) / 2 + 1;
}

/* The stored size of the Decimal `value` when its text is canonical; -1 when the Python rules must decide,
 * -2 with an error set. */
static long decimal_size(PyObject *value) {
    PyObject *s = PyObject_Str(value);
    if (s == NULL) return -2;
    Py_ssize_t sl;
    const char *txt = PyUnicode_AsUTF8AndSize(s, &sl);
    long ns = txt == NULL ? -2 : canonical_number_size(txt, sl);
    Py_DECREF(s);
    return ns;
}

/* The canonical copy of `item` (a new reference), Py_None (a new reference) when the Python rules must
 * decide, or NULL with an error set.  With `check_only`, nothing is built and no Python code runs: `item`
 * itself (a new reference) when it is already canonical (every attribute one the loop decides by itself:
 * the copy would be an equal dict), else Py_None. */
static PyObject *fast_normalize_mode(PyObject *item, PyObject *normalize_value, PyObject *value_size, int check_only) {
    if (!PyDict_CheckExact(item)) Py_RETURN_NONE;
    PyObject *out = check_only ? NULL : PyDict_New();
    if (out == NULL && !check_only) return NULL;
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    long long size = 0;
    while (PyDict_Next(item, &pos, &name, &value)) {
        if (!PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0) goto fallback;
        Py_ssize_t nl = utf8_len(name);
        if (nl < 0) goto fallback;
        size += nl;
        PyTypeObject *t = Py_TYPE(value);
        PyObject *norm = NULL;
        if (t == &PyUnicode_Type) {
            Py_ssize_t vl = utf8_len(value);
            if (vl < 0) goto fallback;
            size += vl;
        } else if (t == &PyBool_Type || value == Py_None) {
            size += 1;
        } else if (t == &PyBytes_Type) {
            size += PyBytes_GET_SIZE(value);
        } else if ((PyObject *)t == DecimalType) {
            long ns = decimal_size(value);
            if (ns == -2) goto error;
            if (ns < 0) goto delegate;
            size += ns;
        } else {
            goto delegate;
        }
        if (!check_only && PyDict_SetItem(out, name, value) < 0) goto error;
        continue;
    delegate:
        if (check_only) goto fallback;
        {
            /* Anything else: the Python rules, with the same arguments normalize_item passes. */
            /* Python code runs here: hold our own references to the borrowed name and value. */
            Py_INCREF(name);
            Py_INCREF(value);
            PyObject *kw = Py_BuildValue("{OOOO}", str_where, name, str_depth, zero);
            PyObject *a = kw == NULL ? NULL : PyTuple_Pack(1, value);
            norm = a == NULL ? NULL : PyObject_Call(normalize_value, a, kw);
            Py_XDECREF(a);
            Py_XDECREF(kw);
            Py_DECREF(value);
            if (norm == NULL) { Py_DECREF(name); goto error; }
            PyObject *vs = PyObject_CallOneArg(value_size, norm);
            long long v = vs == NULL ? -1 : PyLong_AsLongLong(vs);
            Py_XDECREF(vs);
            int rc = (v == -1 && PyErr_Occurred()) ? -1 : PyDict_SetItem(out, name, norm);
            Py_DECREF(norm);
            Py_DECREF(name);
            if (rc < 0) goto error;
            size += v;
        }
    }
    if (size > MAX_ITEM_SIZE) goto fallback;
    if (check_only) { Py_INCREF(item); return item; }
    return out;
fallback:
    Py_XDECREF(out);
    Py_RETURN_NONE;
error:
    Py_XDECREF(out);
    return NULL;
}

static PyObject *fast_normalize(PyObject *item, PyObject *normalize_value, PyObject *value_size) {
    return fast_normalize_mode(item, normalize_value, value_size, 0);
}

static PyObject *normalize_item(PyObject *self, PyObject *args) {
    PyObject *item, *normalize_value, *value_size;
    if (!PyArg_ParseTuple(args, "OOO", &item, &normalize_value, &value_size)) return NULL;
    return fast_normalize(item, normalize_value, value_size);
}

/* ---- normalize_items: a bulk's items, normalised and their key attributes checked, in one pass ----
 *
 * normalize_items(items, normalize_value, value_size, normalize_python, key_attrs, check_keys[, lent]) -> list
 *
 * For each item, in order: the fast path above, else normalize_python(item) (the reference, which raises the
 * error); then each (name, kind, limit, required) of key_attrs: a present exact non-empty str of kind S with at
 * most limit / 4 characters passes (4 UTF-8 bytes per character at most), an absent attribute that is not
 * required passes; anything else hands the normalised item to check_keys (keys.check_item_keys), the rule.
 *
 * When `lent` is true (`items` is a LentItems: a store's own objects, lent to a copy, that nobody changes) and
 * every item is already canonical and passes the key checks above (a scan page: what a migration writes), the
 * result holds those dicts themselves, not equal copies: one C pass that runs no Python code decides it for the
 * whole list.  A list with any other item, a caller's plain list (its owner could change an item after its
 * check, before it is written) and any other iterable (a generator may hand out one dict it mutates) go
 * through the copying loop. */

/* 1: every key attribute of the normalised `norm` passes the quick check, 0: check_keys must decide, -1: error. */
static int keys_pass(PyObject *norm, PyObject *key_attrs) {
    Py_ssize_t nkeys = PyTuple_GET_SIZE(key_attrs);
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *a = PyTuple_GET_ITEM(key_attrs, k);
        PyObject *v = PyDict_GetItemWithError(norm, PyTuple_GET_ITEM(a, 0));
        if (v == NULL) {
            if (PyErr_Occurred()) return -1;
            if (PyObject_IsTrue(PyTuple_GET_ITEM(a, 3)) != 0) return 0;
            continue;
        }
        Py_ssize_t n = PyUnicode_CheckExact(v) ? PyUnicode_GET_LENGTH(v) : 0;
        long limit = PyLong_AsLong(PyTuple_GET_ITEM(a, 2));
        if (limit == -1 && PyErr_Occurred()) return -1;
        if (!(PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(a, 1), "S") == 0 && n > 0 && n * 4 <= limit)) return 0;
    }
    return 1;
}

/* The list of `items` themselves when every one is canonical with passing keys; Py_None otherwise; NULL: error. */
static PyObject *all_canonical(PyObject *items, PyObject *key_attrs) {
    Py_ssize_t n = PyList_GET_SIZE(items);
    PyObject *out = PyList_New(n);  /* allocated first: no allocation in the loop can start a collection */
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *same = fast_normalize_mode(item, NULL, NULL, 1);
        if (same == NULL) { Py_DECREF(out); return NULL; }
        if (same == Py_None) { Py_DECREF(same); Py_DECREF(out); Py_RETURN_NONE; }
        PyList_SET_ITEM(out, i, same);
        int ok = keys_pass(same, key_attrs);
        if (ok < 0) { Py_DECREF(out); return NULL; }
        if (ok == 0) { Py_DECREF(out); Py_RETURN_NONE; }
    }
    return out;
}

static PyObject *normalize_items(PyObject *self, PyObject *args) {
    PyObject *items, *normalize_value, *value_size, *normalize_python, *key_attrs, *check_keys;
    int lent = 0;
    if (!PyArg_ParseTuple(args, "OOOOO!O|p", &items, &normalize_value, &value_size, &normalize_python,
                          &PyTuple_Type, &key_attrs, &check_keys, &lent))
        return NULL;
    Py_ssize_t nkeys = PyTuple_GET_SIZE(key_attrs);
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *a = PyTuple_GET_ITEM(key_attrs, k);
        if (!PyTuple_CheckExact(a) || PyTuple_GET_SIZE(a) != 4 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(a, 0)) ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(a, 1)) || !PyLong_CheckExact(PyTuple_GET_ITEM(a, 2))) {
            PyErr_SetString(PyExc_TypeError, "normalize_items: key_attrs holds (name, kind, limit, required) tuples");
            return NULL;
        }
    }
    if (lent && PyList_Check(items)) {
        PyObject *same = all_canonical(items, key_attrs);
        if (same != Py_None) return same;  /* the items themselves, or NULL (an error) */
        Py_DECREF(same);
    }
    PyObject *it = PyObject_GetIter(items);
    if (it == NULL) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) { Py_DECREF(it); return NULL; }
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *norm = fast_normalize(item, normalize_value, value_size);
        if (norm == Py_None) {
            Py_DECREF(norm);
            norm = PyObject_CallOneArg(normalize_python, item);
        }
        Py_DECREF(item);
        if (norm == NULL) goto error;
        /* the Python rules return a dict; anything else: let them decide */
        int ok = PyDict_Check(norm) ? keys_pass(norm, key_attrs) : 0;
        if (ok < 0) { Py_DECREF(norm); goto error; }
        if (ok == 0) {
            PyObject *r = PyObject_CallOneArg(check_keys, norm);
            if (r == NULL) { Py_DECREF(norm); goto error; }
            Py_DECREF(r);
        }
        int rc = PyList_Append(out, norm);
        Py_DECREF(norm);
        if (rc < 0) goto error;
    }
    if (PyErr_Occurred()) goto error;
    Py_DECREF(it);
    return out;
error:
    Py_DECREF(it);
    Py_DECREF(out);
    return NULL;
}

/* ---- copy_item: values.copy_value of an item (exact dict) whose maps and lists are exact dicts and lists ----
 * Returns None for anything else (the caller runs the Python copy_value). */
/* item_size(item, value_size) -> int | None: the fast path of values.item_size.
 * Top-level str, bool, None, bytes and canonical Decimal values are sized here with the rules of
 * fast_normalize; any other value is sized by the Python value_size it is given (which raises for an
 * unsupported type).  None when the Python code must decide: not an exact dict, a name that is not an exact
 * str, or a string with lone surrogates. */
static PyObject *item_size_of(PyObject *item, PyObject *value_size);

static PyObject *item_size(PyObject *self, PyObject *args) {
    PyObject *item, *value_size;
    if (!PyArg_ParseTuple(args, "OO", &item, &value_size)) return NULL;
    if (!PyDict_CheckExact(item)) Py_RETURN_NONE;
    Py_INCREF(item);  /* the Python value_size may run: keep the dict alive */
    PyObject *out = item_size_of(item, value_size);
    Py_DECREF(item);
    return out;
}

static PyObject *item_size_of(PyObject *item, PyObject *value_size) {
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    long long size = 0;
    while (PyDict_Next(item, &pos, &name, &value)) {
        if (!PyUnicode_CheckExact(name)) Py_RETURN_NONE;
        Py_ssize_t nl = utf8_len(name);
        if (nl < 0) Py_RETURN_NONE;
        size += nl;
        PyTypeObject *t = Py_TYPE(value);
        if (t == &PyUnicode_Type) {
            Py_ssize_t vl = utf8_len(value);
            if (vl < 0) Py_RETURN_NONE;
            size += vl;
            continue;
        }
        if (t == &PyBool_Type || value == Py_None) {
            size += 1;
            continue;
        }
        if (t == &PyBytes_Type) {
            size += PyBytes_GET_SIZE(value);
            continue;
        }
        if ((PyObject *)t == DecimalType) {
            long ns = decimal_size(value);
            if (ns == -2) return NULL;
            if (ns >= 0) {
                size += ns;
                continue;
            }
        }
        /* Anything else: the Python rule (PyDict_Next stays memory-safe if that code changes the dict). */
        Py_INCREF(value);
        PyObject *vs = PyObject_CallOneArg(value_size, value);
        Py_DECREF(value);
        long long v = vs == NULL ? -1 : PyLong_AsLongLong(vs);
        Py_XDECREF(vs);
        if (v == -1 && PyErr_Occurred()) return NULL;
        size += v;
    }
    return PyLong_FromLongLong(size);
}

static PyObject *copy_tree(PyObject *v, int depth);

static int needs_python(PyObject *v) {
    return (PyDict_Check(v) && !PyDict_CheckExact(v)) || (PyList_Check(v) && !PyList_CheckExact(v));
}

static PyObject *copy_tree(PyObject *v, int depth) {
    if (depth > 64) Py_RETURN_NONE;
    if (PyDict_CheckExact(v)) {
        PyObject *out = PyDict_Copy(v);
        if (out == NULL) return NULL;
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        while (PyDict_Next(v, &pos, &k, &x)) {
            if (needs_python(x)) { Py_DECREF(out); Py_RETURN_NONE; }
            if (!PyDict_CheckExact(x) && !PyList_CheckExact(x)) continue;
            PyObject *c = copy_tree(x, depth + 1);
            if (c == NULL || c == Py_None) { Py_DECREF(out); return c; }
            int rc = PyDict_SetItem(out, k, c);  /* an existing key: the dict's layout does not change */
            Py_DECREF(c);
            if (rc < 0) { Py_DECREF(out); return NULL; }
        }
        return out;
    }
    Py_ssize_t n = PyList_GET_SIZE(v);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyList_GET_ITEM(v, i), *c;
        if (needs_python(x)) { Py_DECREF(out); Py_RETURN_NONE; }
        if (PyDict_CheckExact(x) || PyList_CheckExact(x)) {
            c = copy_tree(x, depth + 1);
            if (c == NULL || c == Py_None) { Py_DECREF(out); return c; }
        } else {
            Py_INCREF(x);
            c = x;
        }
        PyList_SET_ITEM(out, i, c);
    }
    return out;
}

static PyObject *copy_item(PyObject *self, PyObject *item) {
    if (!PyDict_CheckExact(item)) Py_RETURN_NONE;
    return copy_tree(item, 0);
}

static PyMethodDef methods[] = {
    {"normalize_item", normalize_item, METH_VARARGS,
     "normalize_item(item, normalize_value, value_size) -> dict | None: the fast path of values.normalize_item."},
    {"normalize_items", normalize_items, METH_VARARGS,
     "normalize_items(items, normalize_value, value_size, normalize_python, key_attrs, check_keys[, lent]) -> list:"
     " the fast path of prepare.bulk_items_python."},
    {"item_size", item_size, METH_VARARGS,
     "item_size(item, value_size) -> int | None: the fast path of values.item_size (None: the Python code decides)."},
    {"copy_item", copy_item, METH_O, "copy_item(item) -> dict | None: the fast path of values.copy_value for an item."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "storeswap.core.cvalues",
                                    "Compiled fast path of storeswap.core.values.", -1, methods};

PyMODINIT_FUNC PyInit_cvalues(void) {
    PyObject *decimal = PyImport_ImportModule("decimal");
    if (decimal == NULL) return NULL;
    DecimalType = PyObject_GetAttrString(decimal, "Decimal");
    Py_DECREF(decimal);
    if (DecimalType == NULL) return NULL;
    str_where = PyUnicode_InternFromString("where");
    str_depth = PyUnicode_InternFromString("depth");
    zero = PyLong_FromLong(0);
    if (str_where == NULL || str_depth == NULL || zero == NULL) return NULL;
    return PyModule_Create(&module);
}
