"""``storeswap evaluate``: can this table move off DynamoDB, and at what cost?

One run answers with evidence: the readiness check (:func:`storeswap.migrate.check_table`),
the contract suite against both stores, a copy with a verify, and a benchmark of
the table's own access patterns on both stores; then a verdict with its reasons.

Python API::

    from storeswap.evaluate import Endpoint, EvaluateOptions, evaluate, write_evaluation

    ev = evaluate(Endpoint(source, "dynamodb", contract_store_for(source, url)), Endpoint(target, "postgres"), ["orders"])
    write_evaluation(ev, "storeswap-report")
    print(ev.verdict.headline)   # SAFE / NOT SAFE / UNKNOWN, never SAFE by default

A target without a ``contract`` (how the suite reaches it) gets UNKNOWN: the
suite must run against the very target.
"""

from __future__ import annotations

from storeswap.evaluate.document import Evaluation, Reason, Step, TableEvaluation, Verdict
from storeswap.evaluate.report import write_evaluation
from storeswap.evaluate.run import Endpoint, EvaluateOptions, Progress, evaluate
from storeswap.evaluate.suite_target import ContractStore, contract_store_for
from storeswap.evaluate.verdict import decide

__all__ = [
    "evaluate",
    "Endpoint",
    "EvaluateOptions",
    "Progress",
    "write_evaluation",
    "decide",
    "Evaluation",
    "TableEvaluation",
    "Step",
    "Verdict",
    "Reason",
    "ContractStore",
    "contract_store_for",
]
