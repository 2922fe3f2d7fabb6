"""Tokenizer and recursive-descent parser for DynamoDB expression strings.

Produces *unbound* AST trees (:mod:`storeswap.core.expressions.ast`): attribute
names may still be :class:`NameRef` placeholders and values are
:class:`ValueRef` placeholders; :func:`storeswap.core.expressions.binding.bind`
resolves them.  Parsing depends on the text only, so results are cached.

Grammar (after the AWS Developer Guide, "Condition and filter expressions,
operators, and functions" and "Update expressions")::

    condition  ::= or
    or         ::= and ( OR and )*
    and        ::= not ( AND not )*
    not        ::= NOT not | primary
    primary    ::= '(' condition ')'
                 | function '(' args ')'              -- attribute_exists, attribute_not_exists,
                                                      -- attribute_type, begins_with, contains
                 | operand comparator operand         -- = <> < <= > >=
                 | operand BETWEEN operand AND operand
                 | operand IN '(' operand (',' operand)* ')'   -- 1..100 operands
    operand    ::= path | :value | size '(' path ')'
    path       ::= name ( '.' name | '[' digits ']' )*
    name       ::= identifier | #placeholder

    update     ::= clause+                            -- SET REMOVE ADD DELETE, each at most once
    SET        ::= path '=' value ( ',' path '=' value )*
    value      ::= uoperand ( ('+' | '-') uoperand )?
    uoperand   ::= path | :value | if_not_exists '(' path ',' uoperand ')'
                 | list_append '(' uoperand ',' uoperand ')'
    REMOVE     ::= path ( ',' path )*
    ADD        ::= path :value ( ',' path :value )*
    DELETE     ::= path :value ( ',' path :value )*

    projection ::= path ( ',' path )*

Limits, checked before any recursion so that hostile input costs bounded
time and stack (X1): an expression string is at most
:data:`MAX_EXPRESSION_BYTES` (4 KB of UTF-8, DynamoDB's limit), and it
nests at most :data:`MAX_EXPRESSION_DEPTH` levels; each ``(``, ``NOT`` and
function call opens one level here, and the binder applies the same limit to
the finished tree, where each AND / OR also counts (see
:func:`storeswap.core.expressions.binding.check_depth`).

Keywords (AND, OR, NOT, BETWEEN, IN, SET, REMOVE, ADD, DELETE) are
case-insensitive.  Function names are case-sensitive, as in DynamoDB
("Invalid function name; function: BEGINS_WITH").  Every error is a
:class:`ValidationError` whose ``position`` is the 0-based offset of the
offending character, also quoted in the message ("... at position 7").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final, Generic, NamedTuple, TypeVar

from attrs import define

from storeswap.core.errors import ValidationError
from storeswap.core.expressions.ast import (
    COMPARATORS,
    AddAction,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Contains,
    DeleteAction,
    IfNotExists,
    In,
    ListAppend,
    NameRef,
    Not,
    Operand,
    Path,
    Projection,
    RemoveAction,
    SetAction,
    Size,
    UpdateExpr,
    ValueRef,
)
from storeswap.core.expressions.ast import And as AndNode
from storeswap.core.expressions.ast import Arith as ArithNode
from storeswap.core.expressions.ast import Or as OrNode

__all__ = [
    "ParsedExpr",
    "parse_condition",
    "parse_update",
    "parse_projection",
    "RESERVED_WORDS",
    "MAX_IN_OPERANDS",
    "MAX_EXPRESSION_BYTES",
    "MAX_EXPRESSION_DEPTH",
    "check_length",
]

T = TypeVar("T")

#: ``IN`` takes at most this many operands on its right-hand side (C2).
MAX_IN_OPERANDS: Final = 100

#: An expression string is at most this many bytes of UTF-8 (DynamoDB: "the maximum
#: length of any expression string is 4 KB").
MAX_EXPRESSION_BYTES: Final = 4096

#: An expression tree nests at most this many levels.  DynamoDB documents no such
#: limit; ours keeps every recursive walk of a tree (parser, binder, validation,
#: renderers) far inside Python's stack, so hostile input gets a ValidationError,
#: never a RecursionError.  A chain of ANDs / ORs is one level per operator.
MAX_EXPRESSION_DEPTH: Final = 100

# Copied from the Developer Guide page "Reserved words in DynamoDB" (573 words).
_RESERVED_TEXT: Final = """
    ABORT ABSOLUTE ACTION ADD AFTER AGENT AGGREGATE ALL ALLOCATE ALTER ANALYZE AND ANY ARCHIVE ARE ARRAY AS ASC
    ASCII ASENSITIVE ASSERTION ASYMMETRIC AT ATOMIC ATTACH ATTRIBUTE AUTH AUTHORIZATION AUTHORIZE AUTO AVG BACK
    BACKUP BASE BATCH BEFORE BEGIN BETWEEN BIGINT BINARY BIT BLOB BLOCK BOOLEAN BOTH BREADTH BUCKET BULK BY BYTE
    CALL CALLED CALLING CAPACITY CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER CHECK CLASS CLOB CLOSE CLUSTER
    CLUSTERED CLUSTERING CLUSTERS COALESCE COLLATE COLLATION COLLECTION COLUMN COLUMNS COMBINE COMMENT COMMIT
    COMPACT COMPILE COMPRESS CONDITION CONFLICT CONNECT CONNECTION CONSISTENCY CONSISTENT CONSTRAINT CONSTRAINTS
    CONSTRUCTOR CONSUMED CONTINUE CONVERT COPY CORRESPONDING COUNT COUNTER CREATE CROSS CUBE CURRENT CURSOR CYCLE
    DATA DATABASE DATE DATETIME DAY DEALLOCATE DEC DECIMAL DECLARE DEFAULT DEFERRABLE DEFERRED DEFINE DEFINED
    DEFINITION DELETE DELIMITED DEPTH DEREF DESC DESCRIBE DESCRIPTOR DETACH DETERMINISTIC DIAGNOSTICS DIRECTORIES
    DISABLE DISCONNECT DISTINCT DISTRIBUTE DO DOMAIN DOUBLE DROP DUMP DURATION DYNAMIC EACH ELEMENT ELSE ELSEIF
    EMPTY ENABLE END EQUAL EQUALS ERROR ESCAPE ESCAPED EVAL EVALUATE EXCEEDED EXCEPT EXCEPTION EXCEPTIONS
    EXCLUSIVE EXEC EXECUTE EXISTS EXIT EXPLAIN EXPLODE EXPORT EXPRESSION EXTENDED EXTERNAL EXTRACT FAIL FALSE
    FAMILY FETCH FIELDS FILE FILTER FILTERING FINAL FINISH FIRST FIXED FLATTERN FLOAT FOR FORCE FOREIGN FORMAT
    FORWARD FOUND FREE FROM FULL FUNCTION FUNCTIONS GENERAL GENERATE GET GLOB GLOBAL GO GOTO GRANT GREATER GROUP
    GROUPING HANDLER HASH HAVE HAVING HEAP HIDDEN HOLD HOUR IDENTIFIED IDENTITY IF IGNORE IMMEDIATE IMPORT IN
    INCLUDING INCLUSIVE INCREMENT INCREMENTAL INDEX INDEXED INDEXES INDICATOR INFINITE INITIALLY INLINE INNER
    INNTER INOUT INPUT INSENSITIVE INSERT INSTEAD INT INTEGER INTERSECT INTERVAL INTO INVALIDATE IS ISOLATION ITEM
    ITEMS ITERATE JOIN KEY KEYS LAG LANGUAGE LARGE LAST LATERAL LEAD LEADING LEAVE LEFT LENGTH LESS LEVEL LIKE
    LIMIT LIMITED LINES LIST LOAD LOCAL LOCALTIME LOCALTIMESTAMP LOCATION LOCATOR LOCK LOCKS LOG LOGED LONG LOOP
    LOWER MAP MATCH MATERIALIZED MAX MAXLEN MEMBER MERGE METHOD METRICS MIN MINUS MINUTE MISSING MOD MODE MODIFIES
    MODIFY MODULE MONTH MULTI MULTISET NAME NAMES NATIONAL NATURAL NCHAR NCLOB NEW NEXT NO NONE NOT NULL NULLIF
    NUMBER NUMERIC OBJECT OF OFFLINE OFFSET OLD ON ONLINE ONLY OPAQUE OPEN OPERATOR OPTION OR ORDER ORDINALITY
    OTHER OTHERS OUT OUTER OUTPUT OVER OVERLAPS OVERRIDE OWNER PAD PARALLEL PARAMETER PARAMETERS PARTIAL PARTITION
    PARTITIONED PARTITIONS PATH PERCENT PERCENTILE PERMISSION PERMISSIONS PIPE PIPELINED PLAN POOL POSITION
    PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVATE PRIVILEGES PROCEDURE PROCESSED PROJECT PROJECTION PROPERTY
    PROVISIONING PUBLIC PUT QUERY QUIT QUORUM RAISE RANDOM RANGE RANK RAW READ READS REAL REBUILD RECORD RECURSIVE
    REDUCE REF REFERENCE REFERENCES REFERENCING REGEXP REGION REINDEX RELATIVE RELEASE REMAINDER RENAME REPEAT
    REPLACE REQUEST RESET RESIGNAL RESOURCE RESPONSE RESTORE RESTRICT RESULT RETURN RETURNING RETURNS REVERSE
    REVOKE RIGHT ROLE ROLES ROLLBACK ROLLUP ROUTINE ROW ROWS RULE RULES SAMPLE SATISFIES SAVE SAVEPOINT SCAN
    SCHEMA SCOPE SCROLL SEARCH SECOND SECTION SEGMENT SEGMENTS SELECT SELF SEMI SENSITIVE SEPARATE SEQUENCE
    SERIALIZABLE SESSION SET SETS SHARD SHARE SHARED SHORT SHOW SIGNAL SIMILAR SIZE SKEWED SMALLINT SNAPSHOT SOME
    SOURCE SPACE SPACES SPARSE SPECIFIC SPECIFICTYPE SPLIT SQL SQLCODE SQLERROR SQLEXCEPTION SQLSTATE SQLWARNING
    START STATE STATIC STATUS STORAGE STORE STORED STREAM STRING STRUCT STYLE SUB SUBMULTISET SUBPARTITION
    SUBSTRING SUBTYPE SUM SUPER SYMMETRIC SYNONYM SYSTEM TABLE TABLESAMPLE TEMP TEMPORARY TERMINATED TEXT THAN
    THEN THROUGHPUT TIME TIMESTAMP TIMEZONE TINYINT TO TOKEN TOTAL TOUCH TRAILING TRANSACTION TRANSFORM TRANSLATE
    TRANSLATION TREAT TRIGGER TRIM TRUE TRUNCATE TTL TUPLE TYPE UNDER UNDO UNION UNIQUE UNIT UNKNOWN UNLOGGED
    UNNEST UNPROCESSED UNSIGNED UNTIL UPDATE UPPER URL USAGE USE USER USERS USING UUID VACUUM VALUE VALUED VALUES
    VARCHAR VARIABLE VARIANCE VARINT VARYING VIEW VIEWS VIRTUAL VOID WAIT WHEN WHENEVER WHERE WHILE WINDOW WITH
    WITHIN WITHOUT WORK WRAPPED WRITE YEAR ZONE
"""
#: DynamoDB's reserved words, upper case; they are compared case-insensitively.  A bare
#: attribute name that is one of them must be written as a ``#placeholder`` instead.
RESERVED_WORDS: Final[frozenset[str]] = frozenset(_RESERVED_TEXT.split())

_CONDITION_FUNCTIONS: Final = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
_UPDATE_FUNCTIONS: Final = frozenset({"if_not_exists", "list_append"})
_ALL_FUNCTIONS: Final = _CONDITION_FUNCTIONS | _UPDATE_FUNCTIONS | {"size"}
_CLAUSES: Final = ("SET", "REMOVE", "ADD", "DELETE")

# Token kinds.
_IDENT: Final = "identifier"
_NAME: Final = "name placeholder"
_VALUE: Final = "value placeholder"
_INT: Final = "number"
_OP: Final = "operator"
_EOF: Final = "end"

# Longest operators first so that "<=" never lexes as "<" "=".
_TOKEN_RE: Final = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<ident>[A-Za-z][A-Za-z0-9_]*)"
    r"|(?P<name>#[A-Za-z0-9_]+)"
    r"|(?P<value>:[A-Za-z0-9_]+)"
    r"|(?P<int>[0-9]+)"
    r"|(?P<op><>|<=|>=|[=<>(),.\[\]+\-])"
)
_KIND_OF_GROUP: Final = {"ident": _IDENT, "name": _NAME, "value": _VALUE, "int": _INT, "op": _OP}


class _Token(NamedTuple):
    kind: str
    text: str
    pos: int


@define(frozen=True, slots=True)
class ParsedExpr(Generic[T]):
    """A parsed, still unbound expression and the placeholders it uses.

    ``names`` holds the ``#name`` placeholders and ``values`` the ``:value``
    placeholders (with their leading ``#`` / ``:``), so callers can check
    for undefined and unused ones (Q3).
    """

    tree: T
    names: frozenset[str]
    values: frozenset[str]


def _error(message: str, position: int) -> ValidationError:
    return ValidationError(f"{message} at position {position}", position=position)


def check_length(text: str) -> None:
    """Raise :class:`ValidationError` when ``text`` is longer than :data:`MAX_EXPRESSION_BYTES` in UTF-8."""
    # A character is at most 4 bytes, so short strings need no encoding.
    if len(text) * 4 <= MAX_EXPRESSION_BYTES:
        return
    # surrogatepass: a lone surrogate is refused by the tokenizer, not by the encoder.
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_EXPRESSION_BYTES:
        raise ValidationError(
            f"the expression is {size} bytes long; the limit is {MAX_EXPRESSION_BYTES} bytes (4 KB)"
            f" at position {MAX_EXPRESSION_BYTES}",
            position=MAX_EXPRESSION_BYTES,
        )


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    end = len(text)
    match = _TOKEN_RE.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise _bad_character(text, pos)
        group = m.lastgroup
        assert group is not None
        if group != "ws":
            tokens.append(_Token(_KIND_OF_GROUP[group], m.group(), pos))
        pos = m.end()
    tokens.append(_Token(_EOF, "", end))
    return tokens


def _bad_character(text: str, pos: int) -> ValidationError:
    ch = text[pos]
    if ch == "#":
        return _error("'#' must be followed by a placeholder name such as #name", pos)
    if ch == ":":
        return _error("':' must be followed by a placeholder name such as :value", pos)
    if ch == "_":
        return _error("attribute names must start with a letter; use a #name placeholder for other names", pos)
    if ch == "!" and text.startswith("!=", pos):
        return _error("unexpected '!='; the not-equal operator is '<>'", pos)
    if ch in "\"'":
        return _error("quoted strings are not allowed in expressions; pass values as :value placeholders", pos)
    return _error(f"unexpected character {ch!r}", pos)


def _describe(tok: _Token) -> str:
    if tok.kind == _EOF:
        return "the end of the expression"
    return repr(tok.text)


class _Parser:
    """One parse of one expression string; collects the placeholders it meets."""

    def __init__(self, text: str) -> None:
        if not text or text.isspace():
            raise ValidationError("the expression is empty at position 0", position=0)
        check_length(text)
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.names: set[str] = set()
        self.values: set[str] = set()

    # -- token helpers -------------------------------------------------

    def peek(self, ahead: int = 0) -> _Token:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else self.tokens[-1]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != _EOF:
            self.i += 1
        return tok

    def at_op(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == _OP and tok.text == text

    def at_keyword(self, word: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == _IDENT and tok.text.upper() == word

    def at_function(self) -> bool:
        return self.tokens[self.i].kind == _IDENT and self.peek(1).kind == _OP and self.peek(1).text == "("

    def expect_op(self, text: str, what: str) -> _Token:
        tok = self.advance()
        if tok.kind != _OP or tok.text != text:
            raise _error(f"expected {text!r} {what} but found {_describe(tok)}", tok.pos)
        return tok

    def expect_end(self) -> None:
        tok = self.peek()
        if tok.kind == _EOF:
            return
        if tok.kind == _OP and tok.text == ")":
            raise _error("unbalanced parentheses: unexpected ')'", tok.pos)
        raise _error(f"unexpected {_describe(tok)} after a complete expression", tok.pos)

    def nest(self, tok: _Token) -> None:
        """Open one nesting level at ``tok``; callers close it with ``self.depth -= 1``."""
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise _error(f"the expression nests deeper than {MAX_EXPRESSION_DEPTH} levels", tok.pos)

    # -- paths ---------------------------------------------------------

    def name_element(self, tok: _Token) -> str | NameRef:
        if tok.kind == _NAME:
            self.names.add(tok.text)
            return NameRef(tok.text, tok.pos)
        if tok.kind == _IDENT:
            if tok.text.upper() in RESERVED_WORDS:
                raise _error(
                    f"attribute name {tok.text!r} is a reserved word; use an expression attribute name "
                    f"placeholder (such as #{tok.text}) instead",
                    tok.pos,
                )
            return tok.text
        if tok.kind == _VALUE:
            raise _error(f"expected an attribute name but found the value placeholder {tok.text}", tok.pos)
        raise _error(f"expected an attribute name but found {_describe(tok)}", tok.pos)

    def path(self) -> Path:
        first = self.advance()
        elements: list[str | int | NameRef] = [self.name_element(first)]
        while True:
            tok = self.peek()
            if tok.kind != _OP:
                break
            if tok.text == ".":
                self.advance()
                elements.append(self.name_element(self.advance()))
            elif tok.text == "[":
                self.advance()
                index = self.advance()
                if index.kind == _EOF:
                    raise _error("unterminated list index: '[' is never closed", tok.pos)
                if index.kind != _INT:
                    raise _error(
                        f"bad list index {_describe(index)}: list indexes are non-negative integer literals",
                        index.pos,
                    )
                close = self.advance()
                if close.kind == _EOF:
                    raise _error("unterminated list index: '[' is never closed", tok.pos)
                if close.kind != _OP or close.text != "]":
                    raise _error(
                        f"bad list index: expected ']' after {index.text} but found {_describe(close)}", close.pos
                    )
                elements.append(int(index.text))
            else:
                break
        return Path(tuple(elements), first.pos)

    # -- shared function-call parsing ----------------------------------

    def call_args(self, parse_arg: Callable[[], Operand]) -> tuple[_Token, list[tuple[Operand, int]]]:
        """Parse ``name ( arg, ... )``; return the name token and (argument, position) pairs."""
        name = self.advance()
        opening = self.advance()  # "(", checked by at_function()
        args: list[tuple[Operand, int]] = []
        if self.at_op(")"):
            self.advance()
            return name, args
        self.nest(opening)
        while True:
            pos = self.peek().pos
            args.append((parse_arg(), pos))
            tok = self.advance()
            if tok.kind == _OP and tok.text == ",":
                continue
            if tok.kind == _OP and tok.text == ")":
                self.depth -= 1
                return name, args
            if tok.kind == _EOF:
                raise _error(f"unterminated call of {name.text}: '(' is never closed", opening.pos)
            raise _error(f"expected ',' or ')' in the arguments of {name.text} but found {_describe(tok)}", tok.pos)

    @staticmethod
    def arg_count(name: _Token, args: list[tuple[Operand, int]], expected: int) -> None:
        if len(args) != expected:
            raise _error(f"wrong number of arguments for {name.text}: expected {expected}, got {len(args)}", name.pos)

    @staticmethod
    def path_arg(name: _Token, arg: tuple[Operand, int], ordinal: str) -> Path:
        node, pos = arg
        if not isinstance(node, Path):
            raise _error(f"the {ordinal} argument of {name.text} must be an attribute path", pos)
        return node

    @staticmethod
    def unknown_function(name: _Token) -> ValidationError:
        text = name.text
        if text.lower() in _ALL_FUNCTIONS:
            return _error(
                f"unknown function {text!r}: function names are case-sensitive (use {text.lower()!r})", name.pos
            )
        return _error(f"unknown function {text!r}", name.pos)

    # -- conditions ----------------------------------------------------

    def condition(self) -> Condition:
        left = self.and_condition()
        while self.at_keyword("OR"):
            self.advance()
            left = OrNode(left, self.and_condition())
        return left

    def and_condition(self) -> Condition:
        left = self.not_condition()
        while self.at_keyword("AND"):
            self.advance()
            left = AndNode(left, self.not_condition())
        return left

    def not_condition(self) -> Condition:
        if self.at_keyword("NOT"):
            self.nest(self.advance())
            inner = self.not_condition()
            self.depth -= 1
            return Not(inner)
        return self.primary()

    def primary(self) -> Condition:
        tok = self.peek()
        if tok.kind == _OP and tok.text == "(":
            self.nest(self.advance())
            inner = self.condition()
            self.depth -= 1
            close = self.advance()
            if close.kind == _EOF:
                raise _error("unbalanced parentheses: '(' is never closed", tok.pos)
            if close.kind != _OP or close.text != ")":
                raise _error(f"expected ')' or a logical operator but found {_describe(close)}", close.pos)
            return inner
        if tok.kind == _EOF:
            raise _error("expected a condition but the expression ends", tok.pos)
        if self.at_function() and tok.text in _CONDITION_FUNCTIONS:
            cond = self.condition_function()
            nxt = self.peek()
            if (nxt.kind == _OP and nxt.text in COMPARATORS) or self.at_keyword("BETWEEN") or self.at_keyword("IN"):
                raise _error(f"function {tok.text} returns a condition and cannot be used as an operand", nxt.pos)
            return cond
        left = self.condition_operand()
        op = self.peek()
        if op.kind == _OP and op.text in COMPARATORS:
            self.advance()
            return Compare(op.text, left, self.condition_operand())
        if self.at_keyword("BETWEEN"):
            self.advance()
            low = self.condition_operand()
            if not self.at_keyword("AND"):
                bad = self.peek()
                raise _error(f"expected AND in BETWEEN ... AND ... but found {_describe(bad)}", bad.pos)
            self.advance()
            return Between(left, low, self.condition_operand())
        if self.at_keyword("IN"):
            return self.in_list(left)
        if isinstance(left, Size):
            raise _error("size() is not a condition; compare its result instead, e.g. size(a) > :n", tok.pos)
        if op.kind == _EOF:
            raise _error("expected a comparator, BETWEEN or IN after the operand but the expression ends", op.pos)
        raise _error(f"expected a comparator, BETWEEN or IN after the operand but found {_describe(op)}", op.pos)

    def in_list(self, left: Operand) -> In:
        self.advance()  # IN
        opening = self.expect_op("(", "after IN")
        if self.at_op(")"):
            raise _error("IN needs at least one operand in its list", self.peek().pos)
        values: list[Operand] = []
        while True:
            pos = self.peek().pos
            if len(values) == MAX_IN_OPERANDS:
                raise _error(f"IN takes at most {MAX_IN_OPERANDS} operands", pos)
            values.append(self.condition_operand())
            tok = self.advance()
            if tok.kind == _OP and tok.text == ",":
                continue
            if tok.kind == _OP and tok.text == ")":
                return In(left, tuple(values))
            if tok.kind == _EOF:
                raise _error("unbalanced parentheses: the IN list '(' is never closed", opening.pos)
            raise _error(f"expected ',' or ')' in the IN list but found {_describe(tok)}", tok.pos)

    def condition_operand(self) -> Operand:
        tok = self.peek()
        if tok.kind == _VALUE:
            self.advance()
            self.values.add(tok.text)
            return ValueRef(tok.text, tok.pos)
        if self.at_function():
            if tok.text == "size":
                name, args = self.call_args(self.condition_operand)
                self.arg_count(name, args, 1)
                return Size(self.path_arg(name, args[0], "first"))
            if tok.text in _CONDITION_FUNCTIONS:
                raise _error(f"function {tok.text} returns a condition and cannot be used as an operand", tok.pos)
            if tok.text in _UPDATE_FUNCTIONS:
                raise _error(f"function {tok.text} is only allowed in update expressions", tok.pos)
            raise self.unknown_function(tok)
        if tok.kind in (_IDENT, _NAME):
            if tok.kind == _IDENT and tok.text.upper() in ("AND", "OR", "NOT", "BETWEEN", "IN"):
                raise _error(f"unexpected keyword {tok.text.upper()}; expected an operand", tok.pos)
            return self.path()
        if tok.kind == _INT:
            raise _error(f"literal {tok.text} is not allowed; pass values as :value placeholders", tok.pos)
        if tok.kind == _EOF:
            raise _error("expected an operand but the expression ends", tok.pos)
        raise _error(f"expected an operand (attribute path or :value) but found {_describe(tok)}", tok.pos)

    def condition_function(self) -> Condition:
        name, args = self.call_args(self.condition_operand)
        fn = name.text
        if fn == "attribute_exists":
            self.arg_count(name, args, 1)
            return AttributeExists(self.path_arg(name, args[0], "first"))
        if fn == "attribute_not_exists":
            self.arg_count(name, args, 1)
            return AttributeNotExists(self.path_arg(name, args[0], "first"))
        self.arg_count(name, args, 2)
        path = self.path_arg(name, args[0], "first")
        second, pos = args[1]
        if fn == "attribute_type":
            # DynamoDB requires the type to come from ExpressionAttributeValues.
            if not isinstance(second, ValueRef):
                raise _error("the second argument of attribute_type must be a :value placeholder", pos)
            return AttributeType(path, second)
        if fn == "begins_with":
            return BeginsWith(path, second)
        assert fn == "contains"
        return Contains(path, second)

    # -- update expressions --------------------------------------------

    def update(self) -> UpdateExpr:
        clauses: dict[str, list[object]] = {}
        while self.peek().kind != _EOF:
            tok = self.advance()
            word = tok.text.upper() if tok.kind == _IDENT else ""
            if word not in _CLAUSES:
                if clauses:
                    raise _error(
                        f"unexpected {_describe(tok)}; expected ',' or a clause keyword (SET, REMOVE, ADD, DELETE)",
                        tok.pos,
                    )
                raise _error(f"expected SET, REMOVE, ADD or DELETE but found {_describe(tok)}", tok.pos)
            if word in clauses:
                raise _error(f"the {word} clause may appear only once in an update expression", tok.pos)
            if self.peek().kind == _EOF:
                raise _error(f"the {word} clause needs at least one action", self.peek().pos)
            actions: list[object] = [self.action(word)]
            while self.at_op(","):
                self.advance()
                actions.append(self.action(word))
            clauses[word] = actions
        return UpdateExpr(
            set=tuple(a for a in clauses.get("SET", ()) if isinstance(a, SetAction)),
            remove=tuple(a for a in clauses.get("REMOVE", ()) if isinstance(a, RemoveAction)),
            add=tuple(a for a in clauses.get("ADD", ()) if isinstance(a, AddAction)),
            delete=tuple(a for a in clauses.get("DELETE", ()) if isinstance(a, DeleteAction)),
        )

    def action(self, clause: str) -> SetAction | RemoveAction | AddAction | DeleteAction:
        tok = self.peek()
        if tok.kind not in (_IDENT, _NAME):
            raise _error(f"expected an attribute path in the {clause} clause but found {_describe(tok)}", tok.pos)
        if tok.kind == _IDENT and tok.text.upper() in _CLAUSES:
            raise _error(f"the {clause} clause needs at least one action before {tok.text.upper()}", tok.pos)
        path = self.path()
        if clause == "SET":
            self.expect_op("=", f"after {path} in SET")
            return SetAction(path, self.set_value())
        if clause == "REMOVE":
            return RemoveAction(path)
        value = self.peek()
        if value.kind != _VALUE:
            raise _error(f"{clause} needs a :value placeholder after {path} but found {_describe(value)}", value.pos)
        self.advance()
        self.values.add(value.text)
        ref = ValueRef(value.text, value.pos)
        return AddAction(path, ref) if clause == "ADD" else DeleteAction(path, ref)

    def set_value(self) -> Operand:
        left = self.update_operand()
        tok = self.peek()
        if tok.kind == _OP and tok.text in "+-":
            self.advance()
            right = self.update_operand()
            extra = self.peek()
            if extra.kind == _OP and extra.text in "+-":
                raise _error("a SET value allows only one + or - operator", extra.pos)
            return ArithNode(tok.text, left, right)
        return left

    def update_operand(self) -> Operand:
        tok = self.peek()
        if tok.kind == _VALUE:
            self.advance()
            self.values.add(tok.text)
            return ValueRef(tok.text, tok.pos)
        if self.at_function():
            name, args = self.call_args(self.update_operand)
            if tok.text == "if_not_exists":
                self.arg_count(name, args, 2)
                return IfNotExists(self.path_arg(name, args[0], "first"), args[1][0])
            if tok.text == "list_append":
                self.arg_count(name, args, 2)
                for node, pos in args:
                    # DynamoDB refuses list_append nested directly in list_append.
                    if isinstance(node, ListAppend):
                        raise _error("list_append cannot be nested inside list_append", pos)
                return ListAppend(args[0][0], args[1][0])
            if tok.text in _CONDITION_FUNCTIONS or tok.text == "size":
                raise _error(f"function {tok.text} is not allowed in an update expression", tok.pos)
            raise self.unknown_function(tok)
        if tok.kind in (_IDENT, _NAME):
            return self.path()
        if tok.kind == _INT:
            raise _error(f"literal {tok.text} is not allowed; pass values as :value placeholders", tok.pos)
        if tok.kind == _EOF:
            raise _error("expected a value but the expression ends", tok.pos)
        raise _error(f"expected a value (attribute path, :value or function) but found {_describe(tok)}", tok.pos)

    # -- projections ---------------------------------------------------

    def projection(self) -> Projection:
        paths = [self.path()]
        while self.at_op(","):
            self.advance()
            paths.append(self.path())
        return Projection(tuple(paths))

    def result(self, tree: T) -> ParsedExpr[T]:
        self.expect_end()
        return ParsedExpr(tree, frozenset(self.names), frozenset(self.values))


@lru_cache(maxsize=1024)
def parse_condition(text: str) -> ParsedExpr[Condition]:
    """Parse a condition, filter or key condition expression into an unbound tree."""
    parser = _Parser(text)
    return parser.result(parser.condition())


@lru_cache(maxsize=1024)
def parse_update(text: str) -> ParsedExpr[UpdateExpr]:
    """Parse an update expression (SET / REMOVE / ADD / DELETE clauses) into an unbound tree."""
    parser = _Parser(text)
    return parser.result(parser.update())


@lru_cache(maxsize=1024)
def parse_projection(text: str) -> ParsedExpr[Projection]:
    """Parse a projection expression (comma-separated paths) into an unbound tree."""
    parser = _Parser(text)
    return parser.result(parser.projection())
