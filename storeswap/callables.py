"""Loading a callable named ``module:callable`` or ``path/to/file.py:callable``: one loader for every option
that names user code (``--store-factory``, ``--source-factory`` / ``--target-factory``, ``--transform``)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storeswap.core.errors import ConfigurationError

__all__ = ["load_callable"]


def load_callable(spec: str, *, label: str, noun: str = "callable") -> Callable[..., Any]:
    """The callable ``spec`` names; one :class:`ConfigurationError` (``label`` names the option) when it cannot load.

    A ``.py`` path is loaded once per resolved path (a second load returns the same module), so that a
    function's identity, and what a checkpoint binds by it, is stable within a process.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigurationError(f"{label} {spec!r}: expected module:{noun} or path/to/file.py:{noun}")
    target, _, attr = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target).resolve()
            mod_spec = importlib.util.spec_from_file_location(f"storeswap_user_{path.stem}", path)
            if mod_spec is None or mod_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = sys.modules.get(mod_spec.name)
            if module is None or getattr(module, "__file__", None) != str(path):
                module = importlib.util.module_from_spec(mod_spec)
                sys.modules[mod_spec.name] = module
                mod_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                # `pytest` and console scripts (unlike `python -m`) do not put the working directory on sys.path.
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(target)
        found = getattr(module, attr)
    except Exception as e:
        raise ConfigurationError(f"{label} {spec!r} cannot be loaded: {type(e).__name__}: {e}") from e
    if not callable(found):
        raise ConfigurationError(f"{label} {spec!r} is not callable")
    return found  # type: ignore[no-any-return]
