"""The where language: what it accepts, and that nothing else reaches SQL (injection tests)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy import inspect
from sqlalchemy import text

import storage
from storage._models import Base
from storage._where import BoolOp
from storage._where import Comparison
from tests.storage_tests.conftest import arch


@pytest.mark.parametrize(
    ("expr", "tree"),
    [
        ("latency_ms < 5", Comparison("latency_ms", "<", 5.0)),
        ("params<=1e6", Comparison("params", "<=", 1e6)),
        ("loss > -2.5E-3", Comparison("loss", ">", -2.5e-3)),
        ("5 >= latency_ms", Comparison("latency_ms", "<=", 5.0)),
        ("accuracy == .5", Comparison("accuracy", "==", 0.5)),
        (
            "a < 1 or b > 2 and c != 3",
            BoolOp(
                "or",
                (
                    Comparison("a", "<", 1.0),
                    BoolOp("and", (Comparison("b", ">", 2.0), Comparison("c", "!=", 3.0))),
                ),
            ),
        ),
        (
            "(a < 1 OR b > 2) And c != 3",
            BoolOp(
                "and",
                (
                    BoolOp("or", (Comparison("a", "<", 1.0), Comparison("b", ">", 2.0))),
                    Comparison("c", "!=", 3.0),
                ),
            ),
        ),
    ],
)
def test_accepted_expressions(expr: str, tree: object) -> None:
    assert storage.parse_where(expr) == tree


INJECTIONS = [
    ("1=1; DROP TABLE trials", "'=' is not an operator"),
    ("latency_ms < 5; DROP TABLE trials", "unexpected character ';'"),
    ("latency_ms < 5 or 1 == 1; DELETE FROM metrics", "unexpected character ';'"),
    ("latency_ms < 5 or 1 == 1", "one metric name and one number"),
    ("latency_ms < '5'", "quotes are not allowed"),
    ('latency_ms < "5"', "quotes are not allowed"),
    ("latency_ms < 5 -- comment", "comments are not allowed"),
    ("latency_ms < 5 /* c */", "comments are not allowed"),
    ("abs(latency_ms) < 5", "function calls are not allowed"),
    ("latency_ms < 5 DROP TABLE trials", "expected 'and', 'or' or the end, got 'DROP'"),
    ("latency_ms < 5 union select 1", "expected 'and', 'or' or the end, got 'union'"),
    ("__import__('os').system('rm -rf /')", "quotes are not allowed"),
    ("exit(1) < 2", "function calls are not allowed"),
    ("latency_ms < 5 and", "the input ended"),
    ("(latency_ms < 5", "expected ')'"),
    ("latency_ms < 1e999", "out of range"),
    ("latency_ms < inf", "one metric name and one number"),
    ("", "must not be empty"),
]


@pytest.mark.parametrize(("expr", "match"), INJECTIONS, ids=[e for e, _ in INJECTIONS])
def test_the_parser_rejects_with_one_clear_line(expr: str, match: str) -> None:
    with pytest.raises(storage.InvalidQuery) as info:
        storage.parse_where(expr)
    message = str(info.value)
    assert match in message
    assert "\n" not in message
    assert "e.g. 'latency_ms < 5 and params <= 1e6'" in message


def test_injections_through_best_leave_every_table_intact(
    storage_url: str, db: storage.Database, study: str
) -> None:
    db.add_results(study, [(*arch(i), {"accuracy": i / 10, "latency_ms": i}) for i in range(5)])

    def snapshot() -> tuple[set[str], int, int, int]:
        engine = create_engine(storage_url)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            counts = [
                conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("trials", "metrics", "studies")
            ]
        engine.dispose()
        return tables, *counts

    before = snapshot()
    assert set(Base.metadata.tables) <= before[0]
    for expr, _ in INJECTIONS:
        with pytest.raises(storage.InvalidQuery):
            db.best(study, 3, where=expr)
    # A metric name is a bound parameter, never SQL: a hostile name is merely unknown.
    with pytest.raises(storage.InvalidQuery, match="unknown"):
        db.best(study, 3, where="trials < 1 or metrics < 1")
    assert snapshot() == before
    assert len(db.best(study, 10, where="latency_ms < 5")) == 5


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        ("(" * 17 + "a < 1" + ")" * 17, "parentheses may nest at most 16 deep"),
        ("(" * 400 + "a < 1" + ")" * 400, "parentheses may nest at most 16 deep"),
        ("(" * 600 + "a < 1" + ")" * 600, "at most 1000 characters; got 1205"),
        (" and ".join(["a < 1"] * 33), "at most 32 comparisons"),
        (" or ".join(["a < 1"] * 3000), "at most 1000 characters; got 26996"),
    ],
    ids=["17-deep", "400-deep", "600-deep", "33-terms", "3000-terms"],
)
def test_limits_are_one_line_past_them(expr: str, match: str) -> None:
    with pytest.raises(storage.InvalidQuery, match=match) as caught:
        storage.parse_where(expr)
    # The message quotes the expression around the problem only.
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_at_the_limits_every_backend_answers(db: storage.Database, study: str) -> None:
    db.add_results(study, [(*arch(i), {"accuracy": i / 10, "latency_ms": i}) for i in range(10)])
    deep = "(" * 16 + "latency_ms >= 0" + ")" * 16
    many = " and ".join(f"latency_ms >= {i / 100}" for i in range(32))
    assert len(db.best(study, k=10, where=deep)) == 6  # the constraint keeps latency_ms <= 5
    assert len(db.best(study, k=10, where=many)) == 5
