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
    for name, number in value.items():
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise InvalidQuery(f"Metric names must be 1 to 64 characters; got {name!r}.")
        checked[name] = metric_value(name, number)
    return checked
