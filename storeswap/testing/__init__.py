"""Test helpers for projects that use storeswap, as an opt-in pytest plugin.

``pytest -p storeswap.testing`` or, in a conftest, ``pytest_plugins =
["storeswap.testing"]`` adds the snapshot fixtures of
:mod:`storeswap.testing.snapshot` (``snapshot_store``, ``load_snapshot``,
``snapshot_table``). Nothing is registered unless a project asks for it.
"""

from __future__ import annotations

pytest_plugins = ["storeswap.testing.snapshot"]
