"""Validation of what callers hand the database: objectives, constraints, metric values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from storage._errors import InvalidQuery
from storage._models import DIRECTIONS
from storage._where import OPERATORS


def objectives(value: Mapping[str, str]) -> dict[str, str]:
    if not value:
        raise InvalidQuery(
            "A study needs at least one objective; got none. "
            "Pass e.g. objectives={'accuracy': 'max'}."
        )
    for name, direction in value.items():
        if direction not in DIRECTIONS:
            raise InvalidQuery(
                f"Objective directions must be 'min' or 'max'; got {direction!r} for {name!r}."
            )
    return dict(value)


def constraints(value: Any) -> list[dict[str, Any]]:
    checked = []
    for i, item in enumerate(value or ()):
        if not isinstance(item, Mapping) or not {"metric", "op", "bound"} <= set(item):
            raise InvalidQuery(
                f"constraints[{i}] must be a dict with 'metric', 'op' and 'bound'; got {item!r}."
            )
        if item["op"] not in OPERATORS:
            raise InvalidQuery(
                f"constraints[{i}].op must be one of {list(OPERATORS)}; got {item['op']!r}."
            )
        checked.append({**item, "bound": metric_value(f"constraints[{i}].bound", item["bound"])})
    return checked


MAX_STUDY_NAME = 255
MAX_METRIC_NAME = 64


def study_name(name: Any) -> str:
    """The one rule for study names, on every backend (create, rename, copy)."""
    if (not isinstance(name, str) or not name.strip() or len(name) > MAX_STUDY_NAME
            or "\x00" in name):
        raise InvalidQuery(
            f"A study name must be 1 to {MAX_STUDY_NAME} characters, not only spaces and no "
            f"NUL; got {name!r:.80}. Choose another name."
        )
    return name


def metric_name(name: Any) -> str:
    # SQLite would keep a longer or NUL-bearing name that PostgreSQL refuses: one rule for both.
    if not isinstance(name, str) or not 0 < len(name) <= MAX_METRIC_NAME or "\x00" in name:
        raise InvalidQuery(
            f"Metric names must be strings of 1 to {MAX_METRIC_NAME} characters without NUL; "
            f"got {name!r:.80} ({len(name) if isinstance(name, str) else type(name).__name__})."
        )
    return name


def metric_value(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidQuery(
            f"Metric {name!r} must be a finite number; got {value!r}. "
            f"Report a trial that produced no valid value with fail_trial() instead."
        )
    return number


def metrics(value: Mapping[str, Any]) -> dict[str, float]:
    checked = {}
    if not isinstance(value, Mapping):
        raise InvalidQuery(
            f"Metrics must be a mapping of name -> number; got {type(value).__name__}."
        )
    for name, number in value.items():
        checked[metric_name(name)] = metric_value(name, number)
    return checked


def values(triples: Any) -> list[tuple[str, int, float]]:
    """Intermediate ``(name, step, value)`` triples, checked as metrics are."""
    checked = []
    for name, step, number in triples:
        if isinstance(step, bool) or not isinstance(step, int) or not -2**31 <= step < 2**31:
            raise InvalidQuery(f"Steps must be 32-bit integers; got {step!r} for {name!r}.")
        checked.append((metric_name(name), step, metric_value(name, number)))
    return checked


def problem(metrics_: Any, triples: Any = ()) -> str | None:
    """Why the database would refuse these metrics or intermediate values, or None: callers
    fail the trial with this message instead of letting the write raise."""
    try:
        metrics(metrics_)
        values(triples)
    except InvalidQuery as exc:
        return str(exc)
    return None
