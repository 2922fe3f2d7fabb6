"""Names users may have imported keep working after the reshaping of issue 11 (old names for one release)."""

from __future__ import annotations


def test_index_projection_and_its_old_name() -> None:
    import storeswap
    from storeswap.core import schema
    from storeswap.core.expressions import ast

    assert storeswap.IndexProjection is schema.IndexProjection
    assert storeswap.Projection is schema.IndexProjection  # the old name
    assert schema.Projection is schema.IndexProjection
    assert ast.Projection is not schema.IndexProjection  # the expression projection keeps its name


def test_key_dict_and_its_old_name() -> None:
    import storeswap
    from storeswap.core import values

    assert values.Key is values.KeyDict
    assert storeswap.Key is not values.KeyDict  # storeswap.Key stays the condition builder


def test_the_port_still_exports_its_input_types() -> None:
    from storeswap.core import port, requests

    for name in ("QueryResult", "TxPut", "TxUpdate", "TxDelete", "TxCheck", "TxGet", "BatchPut", "BatchDelete"):
        assert getattr(port, name) is getattr(requests, name)
    assert port.MAX_BATCH_WRITE == 25 and port.MAX_BATCH_GET == 100
    assert port.MAX_TRANSACTION_ACTIONS == 100 and port.MAX_TRANSACTION_BYTES == 4 * 1024 * 1024


def test_redact_url_is_still_importable_from_connect() -> None:
    from storeswap import connect, redaction

    assert connect.redact_url is redaction.redact_url


def test_export_file_names_are_still_importable_from_export() -> None:
    from storeswap.migrate import export, export_format

    assert (export.SPEC_FILE, export.SUMMARY_FILE, export.FILES_FILE) == (
        export_format.SPEC_FILE, export_format.SUMMARY_FILE, export_format.FILES_FILE,
    )


def test_key_condition_helpers_are_still_importable_from_their_old_homes() -> None:
    from storeswap.core import engine, expressions
    from storeswap.core.expressions import key_conditions

    assert engine.key_condition_matches is key_conditions.key_condition_matches
    assert engine.sort_condition_matches is key_conditions.sort_condition_matches
    assert expressions.key_condition is key_conditions.key_condition
    assert expressions.condition_names is key_conditions.condition_names
