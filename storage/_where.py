"""The ``where`` language: comparisons of metric names with numbers, joined by and/or.

Grammar (hand-written recursive descent; nothing is ever evaluated or spliced into SQL)::

    expr       := conjunct ("or" conjunct)*
    conjunct   := atom ("and" atom)*
    atom       := "(" expr ")" | comparison
    comparison := NAME OP NUMBER | NUMBER OP NAME
    OP         := "<" | "<=" | ">" | ">=" | "==" | "!="

Numbers are decimal literals with an optional sign and exponent (``5``, ``-0.5``, ``1e6``).

Limits, each refused with one line: at most ``MAX_CHARS`` characters, ``MAX_TERMS``
comparisons and ``MAX_DEPTH`` nested parentheses. Each comparison is one subquery, and
PostgreSQL's planning time grows faster than linearly with them (measured: 32 ``and`` terms
plan in about 0.2 s, 160 in 15 s); the depth bound keeps the recursive parser far from
Python's recursion limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from storage._errors import InvalidQuery

OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
MAX_CHARS = 1000
MAX_TERMS = 32
MAX_DEPTH = 16
_HELP = "e.g. 'latency_ms < 5 and params <= 1e6'"
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<op><=|>=|==|!=|<|>)"
    r"|(?P<paren>[()])"
    r")"
)


@dataclass(frozen=True)
class Comparison:
    metric: str
    op: str
    value: float


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    parts: tuple[Condition, ...]


Condition = Comparison | BoolOp


def _reject(expr: str, pos: int, what: str) -> InvalidQuery:
    # A long expression is quoted around the offending position only.
    shown = repr(expr) if len(expr) <= 80 else f"...{expr[max(0, pos - 30):pos + 30]!r}..."
    return InvalidQuery(
        f"--where takes comparisons of metric names with numbers joined by and/or; "
        f"{what} at position {pos} of {shown}. Write {_HELP}."
    )


def _tokens(expr: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        match = _TOKEN.match(expr, pos)
        start = pos + (len(expr[pos:]) - len(expr[pos:].lstrip()))
        if match is None or match.end() == pos or match.lastgroup is None:
            char = expr[start]
            if expr.startswith("--", start) or expr.startswith("/*", start):
                raise _reject(expr, start, "comments are not allowed")
            if char == "=":
                raise _reject(expr, start, "'=' is not an operator (use '==')")
            if char in "'\"`":
                raise _reject(expr, start, "quotes are not allowed")
            raise _reject(expr, start, f"unexpected character {char!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup), start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        if len(expr) > MAX_CHARS:
            raise InvalidQuery(
                f"--where may be at most {MAX_CHARS} characters; got {len(expr)} "
                f"({expr[:40]!r}...). Filter on fewer metrics, e.g. {_HELP[5:]}."
            )
        self.tokens = _tokens(expr)
        self.i = 0
        self.terms = 0
        self.depth = 0

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token and token[0] == "name" and token[1].lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Condition:
        if not self.tokens:
            raise InvalidQuery(f"--where must not be empty; got {self.expr!r}. Write {_HELP}.")
        node = self._expr()
        token = self._peek()
        if token is not None:
            raise _reject(
                self.expr, token[2], f"expected 'and', 'or' or the end, got {token[1]!r}"
            )
        return node

    def _expr(self) -> Condition:
        parts = [self._conjunct()]
        while self._keyword("or"):
            parts.append(self._conjunct())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def _conjunct(self) -> Condition:
        parts = [self._atom()]
        while self._keyword("and"):
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def _atom(self) -> Condition:
        token = self._next("a metric name, a number or '('")
        if token[1] == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _reject(self.expr, token[2],
                              f"parentheses may nest at most {MAX_DEPTH} deep")
            node = self._expr()
            self.depth -= 1
            close = self._next("')'")
            if close[1] != ")":
                raise _reject(self.expr, close[2], f"expected ')', got {close[1]!r}")
            return node
        op = self._next("a comparison operator")
        if op[0] != "op":
            what = (
                "function calls are not allowed"
                if op[1] == "("
                else (f"expected one of {', '.join(OPERATORS)} after {token[1]!r}, got {op[1]!r}")
            )
            raise _reject(self.expr, op[2], what)
        right = self._next("a number or a metric name")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise _reject(self.expr, token[2], f"at most {MAX_TERMS} comparisons are allowed")
        if token[0] == "name" and right[0] == "number":
            return Comparison(self._metric(token), op[1], self._number(right))
        if token[0] == "number" and right[0] == "name":
            mirrored = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op[1], op[1])
            return Comparison(self._metric(right), mirrored, self._number(token))
        raise _reject(
            self.expr,
            token[2],
            f"a comparison needs one metric name and one number, "
            f"got {token[1]!r} {op[1]} {right[1]!r}",
        )

    def _next(self, wanted: str) -> tuple[str, str, int]:
        token = self._peek()
        if token is None:
            raise _reject(self.expr, len(self.expr), f"expected {wanted} but the input ended")
        self.i += 1
        return token

    def _metric(self, token: tuple[str, str, int]) -> str:
        if token[1].lower() in ("and", "or"):
            raise _reject(self.expr, token[2], f"expected a metric name, got {token[1]!r}")
        return token[1]

    def _number(self, token: tuple[str, str, int]) -> float:
        value = float(token[1])
        if not math.isfinite(value):
            raise _reject(self.expr, token[2], f"number {token[1]!r} is out of range")
        return value


def parse_where(expr: str) -> Condition:
    """Parse a ``where`` expression into a tree of :class:`Comparison` and :class:`BoolOp`.

    Raises:
        InvalidQuery: one line naming the rule, the position and an example.
    """
    return _Parser(expr).parse()


def metrics_of(node: Condition) -> set[str]:
    """The metric names a condition mentions."""
    if isinstance(node, Comparison):
        return {node.metric}
    return set().union(*(metrics_of(part) for part in node.parts))


def check_metrics(node: Condition, known: Iterable[str], study: str) -> None:
    """Raise :class:`InvalidQuery` when the condition names a metric the study never recorded."""
    known = sorted(set(known))
    unknown = sorted(metrics_of(node) - set(known))
    if unknown:
        raise InvalidQuery(
            f"--where may only name metrics of study {study!r}; got unknown "
            f"{', '.join(repr(name) for name in unknown)}. Known metrics: "
            f"{', '.join(known) or '(none yet)'}."
        )
