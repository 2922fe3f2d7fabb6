"""DynamoDB expressions: parse, build, bind and evaluate.

* :mod:`.parser` turns expression strings into unbound AST trees (cached);
* :mod:`.builders` builds bound trees in boto3 style (``Key``, ``Attr``);
* :mod:`.binding` resolves placeholders and validates a request's expressions;
* :mod:`.evaluator` evaluates bound trees on items in Python;
* :mod:`.key_conditions` validates key conditions and matches items against them.
"""

from storeswap.core.expressions.binding import CompiledExpressions, bind, compile_expressions
from storeswap.core.expressions.builders import Attr, Key
from storeswap.core.expressions.evaluator import (
    MISSING,
    apply_update,
    evaluate,
    project,
    resolve,
    values_equal,
)
from storeswap.core.expressions.key_conditions import condition_names, key_condition
from storeswap.core.expressions.parser import ParsedExpr, parse_condition, parse_projection, parse_update

__all__ = [
    "parse_condition",
    "parse_update",
    "parse_projection",
    "ParsedExpr",
    "bind",
    "compile_expressions",
    "CompiledExpressions",
    "Key",
    "Attr",
    "evaluate",
    "apply_update",
    "project",
    "resolve",
    "MISSING",
    "key_condition",
    "values_equal",
    "condition_names",
]
