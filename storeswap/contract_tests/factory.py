"""Loading a store factory from ``module:callable`` or ``path/to/file.py:callable`` (no pytest needed).

One loader for the contract suite's ``--store-factory`` and for ``storeswap
evaluate --source-factory / --target-factory``, so the same spec names the
same adapter in both.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from storeswap.core.errors import ConfigurationError
from storeswap.core.port import ItemStore

__all__ = ["load_factory", "factory_name"]


def load_factory(spec: str) -> Callable[[], ItemStore]:
    """The callable named by ``spec``; a ConfigurationError naming the spec when it cannot be loaded."""
    if ":" not in spec:
        raise ConfigurationError(f"factory {spec!r}: expected module:callable or path/to/file.py:callable")
    target, _, attr = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target).resolve()
            mod_spec = importlib.util.spec_from_file_location(f"storeswap_factory_{path.stem}", path)
            if mod_spec is None or mod_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = sys.modules.get(mod_spec.name)
            if module is None or getattr(module, "__file__", None) != str(path):
                module = importlib.util.module_from_spec(mod_spec)
                sys.modules[mod_spec.name] = module
                mod_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                # `pytest` (unlike `python -m pytest`) does not put the working directory on sys.path.
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(target)
        factory = getattr(module, attr)
    except Exception as e:
        raise ConfigurationError(f"factory {spec!r} cannot be loaded: {type(e).__name__}: {e}") from e
    if not callable(factory):
        raise ConfigurationError(f"factory {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]


def factory_name(factory: Callable[[], ItemStore], spec: str) -> str:
    """The test id of a factory's store: its ``store_name`` attribute, else the callable's name."""
    return str(getattr(factory, "store_name", None) or getattr(factory, "__name__", None) or spec)
