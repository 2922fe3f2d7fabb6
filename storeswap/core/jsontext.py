"""The one rule for what parsing JSON text users hand storeswap raises (files, request bodies, cursors).

``json.loads`` (and orjson) raise ``ValueError`` for text that is not JSON or not UTF-8 (``JSONDecodeError`` and
``UnicodeDecodeError`` are both ValueErrors), and ``RecursionError`` for text nested beyond the parser's stack
(``"[" * 100_000``): every reader of such text catches :data:`JSON_ERRORS` and turns them into its one typed
error, so that no input, however deep, escapes as a Python error.
"""

from __future__ import annotations

from typing import Final

__all__ = ["JSON_ERRORS", "describe"]

#: What parsing untrusted JSON text raises.
JSON_ERRORS: Final = (ValueError, RecursionError)


def describe(e: BaseException) -> str:
    """What a :data:`JSON_ERRORS` error says of its text, for a message."""
    return "nested too deeply" if isinstance(e, RecursionError) else str(e)
