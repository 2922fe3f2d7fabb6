"""Type stub of the optional compiled module built from cvalues.c."""

from collections.abc import Callable
from typing import Any

def normalize_item(
    item: Any, normalize_value: Callable[..., Any], value_size: Callable[[Any], int]
) -> dict[str, Any] | None: ...
