"""Type stub of the optional compiled module built from cvalues.c."""

from collections.abc import Callable
from typing import Any

def normalize_item(
    item: Any, normalize_value: Callable[..., Any], value_size: Callable[[Any], int]
) -> dict[str, Any] | None: ...
def normalize_items(
    items: Any,
    normalize_value: Callable[..., Any],
    value_size: Callable[[Any], int],
    normalize_python: Callable[[Any], dict[str, Any]],
    key_attrs: tuple[tuple[str, str, int, bool], ...],
    check_keys: Callable[[dict[str, Any]], Any],
    lent: bool = ...,
) -> list[dict[str, Any]]: ...
def item_size(item: Any, value_size: Callable[[Any], int]) -> int | None: ...
def copy_item(item: Any) -> dict[str, Any] | None: ...
