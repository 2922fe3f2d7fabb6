"""Gap markers, ibis style: a known gap of a store is a strict xfail with a reason.

Usage, next to the test::

    @notyet(["dynamodb"], reason="moto: numeric sort keys sorted as text")
    @notimpl(["postgres"], reason="no idempotency table yet", raises=AssertionError)
    @never(["dynamodb"], reason="DynamoDB itself does not order GSI ties")

``notimpl``: the adapter has not implemented it yet (our work).
``notyet``: the backend or emulator cannot do it yet (their work).
``never``: the store will never do it (a documented, accepted difference).

The plugin turns each into ``pytest.mark.xfail(strict=True, reason="<kind>:
<reason>", raises=...)`` for the listed stores only; other stores run the
test normally.  There is no skip: a gap that disappears makes the run fail,
so the marker gets removed.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

__all__ = ["GAP_KINDS", "GAP_MARK", "notimpl", "notyet", "never"]

GAP_KINDS = ("notimpl", "notyet", "never")
#: Name of the pytest mark that carries a gap declaration.
GAP_MARK = "storeswap_gap"


def _gap(
    kind: str, stores: Iterable[str], reason: str, raises: type[BaseException] | tuple[type[BaseException], ...] | None
):
    if isinstance(stores, str):
        stores = [stores]
    stores = tuple(stores)
    if not stores:
        raise ValueError(f"{kind}() needs at least one store name")
    if not reason:
        raise ValueError(f"{kind}() needs a reason")
    return getattr(pytest.mark, GAP_MARK)(kind=kind, stores=stores, reason=reason, raises=raises)


def notimpl(
    stores: Iterable[str],
    *,
    reason: str,
    raises: type[BaseException] | tuple[type[BaseException], ...] | None = None,
) -> pytest.MarkDecorator:
    """The adapter for ``stores`` does not implement this yet (a strict xfail there)."""
    return _gap("notimpl", stores, reason, raises)


def notyet(
    stores: Iterable[str],
    *,
    reason: str,
    raises: type[BaseException] | tuple[type[BaseException], ...] | None = None,
) -> pytest.MarkDecorator:
    """The backend (or its emulator) behind ``stores`` cannot do this yet (a strict xfail there)."""
    return _gap("notyet", stores, reason, raises)


def never(
    stores: Iterable[str],
    *,
    reason: str,
    raises: type[BaseException] | tuple[type[BaseException], ...] | None = None,
) -> pytest.MarkDecorator:
    """``stores`` will never behave like this, by design (a strict xfail there)."""
    return _gap("never", stores, reason, raises)
