"""Optional compiled fast paths (C); everything else is in pyproject.toml.

The extensions are ``optional``: without a C compiler (or Python headers) the
build skips them and storeswap runs on its pure-Python code, which is the
reference the compiled code is tested against (tests/test_compiled.py).
``STORESWAP_PURE=1`` skips them on purpose.
"""

import os

from setuptools import Extension, setup

EXTENSIONS = [
    Extension("storeswap.core.cvalues", ["storeswap/core/cvalues.c"], optional=True),
    Extension("storeswap.adapters.postgres.ccodec", ["storeswap/adapters/postgres/ccodec.c"], optional=True),
    Extension("storeswap.gateway.cwire", ["storeswap/gateway/cwire.c"], optional=True),
]

setup(ext_modules=[] if os.environ.get("STORESWAP_PURE") else EXTENSIONS)
