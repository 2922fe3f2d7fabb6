"""``storeswap evaluate``: can this table move off DynamoDB, and at what cost?

One run answers with evidence: the readiness check (:func:`storeswap.migrate.check_table`),
the contract suite against both stores, a copy with a verify, and a benchmark of
the table's own access patterns on both stores; then a verdict with its reasons.

Python API::

    from storeswap.evaluate import Endpoint, EvaluateOptions, evaluate, write_evaluation

    doc = evaluate(Endpoint(source, "dynamodb"), Endpoint(target, "postgres"), ["orders"])
    write_evaluation(doc, "storeswap-report")
    print(doc["verdict"]["headline"])
"""

from __future__ import annotations

from storeswap.evaluate.report import write_evaluation
from storeswap.evaluate.run import Endpoint, EvaluateOptions, Progress, evaluate
from storeswap.evaluate.verdict import Reason, Verdict, decide

__all__ = ["evaluate", "Endpoint", "EvaluateOptions", "Progress", "write_evaluation", "decide", "Verdict", "Reason"]
