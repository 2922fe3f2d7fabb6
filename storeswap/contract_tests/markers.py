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

__all__ = ["GAP_KINDS", "GAP_MARK", "STRATEGY_GAPS", "strategy_gaps", "notimpl", "notyet", "never"]

GAP_KINDS = ("notimpl", "notyet", "never")
#: Name of the pytest mark that carries a gap declaration.
GAP_MARK = "storeswap_gap"

#: Known gaps the generative differential test (``test_differential``) must not generate, per store.
#:
#: A strict marker on a targeted test already pins each of these behaviours
#: (the comment names it); a random test that hits one again would only
#: rediscover it, so the differential test's strategies leave the feature out
#: for that store, and keep it for every other store.  A name added here
#: needs such a marker; when the marker goes (the gap closed), so does the name.
STRATEGY_GAPS: dict[str, frozenset[str]] = {
    "dynamodb": frozenset(
        {
            # test_conditions::test_values_of_different_types_never_compare_equal[N-vs-BOOL], test_in (moto: 1 == True)
            "bool_values",
            # test_conditions::test_a_missing_attribute_is_not_equal_to_null (moto: missing == NULL)
            "null_equals_missing",
            # test_conditions::test_ordering_across_types_is_false, test_between_is_inclusive (moto: HTTP 500)
            "ordering_conditions",
            # test_conditions::test_size[str-*], test_size_of_a_missing_attribute_is_false (code points; 500)
            "size_conditions",
            # test_conditions::test_contains[B-substring], test_begins_with_on_attributes (binary)
            "binary_contains_begins_with",
            # test_updates::test_arithmetic (moto: a 39-digit result is not rejected)
            "wide_numbers",
            # test_updates::test_list_append_on_a_missing_attribute_fails (moto: HTTP 500)
            "list_append_missing",
            # test_updates::test_set_through_a_missing_or_wrong_parent_fails[SET l[0].x = :v] (moto: accepted)
            "set_list_element",
            # test_updates::test_set_through_a_missing_or_wrong_parent_fails[SET s.x / e.x] (moto: accepted on strings)
            "set_through_string",
            # test_updates::test_update_return_values[UPDATED_OLD], ..._on_a_new_item[UPDATED_NEW]
            "updated_return_values",
            # test_query_scan::test_index_key_of_wrong_type_or_empty_is_rejected (moto: UpdateItem accepts them)
            "update_index_keys",
            # test_batches_transactions::test_several_failing_actions_each_have_a_reason (moto: ValidationError)
            "failing_transaction_updates",
            # test_query_scan::test_projections_return_only_the_named_paths[*[*]] (moto: "#n0[1]" unparsed)
            "projection_list_index",
            # test_updates::test_remove_under_a_missing_parent_of_a_new_item_is_ignored (moto: ValidationError)
            "remove_list_element",
        }
    ),
}


def strategy_gaps(store: str) -> frozenset[str]:
    """The :data:`STRATEGY_GAPS` of ``store`` (none for stores without gaps)."""
    return STRATEGY_GAPS.get(store, frozenset())


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
