"""Migration: copy, verify and check tables between any two stores, with proof that nothing changed.

Python API::

    from storeswap.migrate import copy_table, verify_tables, check_table, ExportSource

    report = check_table(source, "orders", target_kind="postgres")
    copy = copy_table(source, target, "orders", segments=8, workers=8, state_path="orders.state.json")
    result = verify_tables(source, target, "orders")
    assert result.identical

Sources are any :class:`storeswap.ItemStore` or an :class:`ExportSource`
(DynamoDB's "Export to S3" files).  The CLI lives in
:mod:`storeswap.cli.migrate`.
"""

from __future__ import annotations

from storeswap.migrate.check import RULES, CheckReport, Finding, Rule, check_table
from storeswap.migrate.copy import CopyProgress, CopyReport, copy_table
from storeswap.migrate.cutover import CutoverReport, cutover_check
from storeswap.migrate.export import ExportWritten, write_export
from storeswap.migrate.export_source import ExportSource
from storeswap.migrate.sources import ScanSource, StoreSource, open_source
from storeswap.migrate.verify import (
    BucketDifference,
    FieldDifference,
    ItemDifference,
    VerifyReport,
    diff_items,
    verify_tables,
)

__all__ = [
    "copy_table",
    "cutover_check",
    "CutoverReport",
    "CopyReport",
    "CopyProgress",
    "verify_tables",
    "VerifyReport",
    "BucketDifference",
    "ItemDifference",
    "FieldDifference",
    "diff_items",
    "check_table",
    "CheckReport",
    "Finding",
    "Rule",
    "RULES",
    "ExportSource",
    "write_export",
    "ExportWritten",
    "ScanSource",
    "StoreSource",
    "open_source",
]
