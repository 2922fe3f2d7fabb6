"""Type stub of the optional compiled module built from cwire.c."""

from typing import Any

def decode_item(typed: Any) -> dict[str, Any] | None: ...
