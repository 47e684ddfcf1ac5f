"""Objectives, measured constraints, Pareto ranks and scalarisations shared by the searchers.

Every searcher works internally on *losses*: one number per objective where lower is better
(``max`` objectives are negated). A told result whose objective is missing or NaN is a failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np

from nas._errors import UserError

DIRECTIONS = ("min", "max")
_OPS = ("<", "<=", ">", ">=", "==")


def check_objectives(objectives: Mapping[str, str]) -> dict[str, str]:
    """Validate an objectives dict such as ``{"accuracy": "max", "latency_ms": "min"}``.

    Raises:
        ValueError: when it is empty or a direction is not ``"min"`` or ``"max"``.
    """
    if not objectives:
        raise UserError(
            "A searcher needs at least one objective; got {}. "
            'Pass e.g. objectives={"accuracy": "max"}.'
        )
    out = {}
    for name, direction in objectives.items():
        if direction not in DIRECTIONS:
            raise UserError(
                f"The direction of objective {name!r} must be one of {list(DIRECTIONS)}; "
                f"got {direction!r}."
            )
        out[str(name)] = direction
    return out


def losses(objectives: Mapping[str, str], metrics: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The loss vector of told metrics, or None when any objective is missing or not finite."""
    out = []
    for name, direction in objectives.items():
        value = metrics.get(name)
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        out.append(-value if direction == "max" else value)
    return tuple(out)


def violation(constraints: Sequence[Any], metrics: Mapping[str, Any]) -> float:
    """Total amount by which measured metrics break the constraints (0.0 when all hold).

    Constraints are duck-typed ``space.Constraint(metric, op, bound)``; one whose metric was not
    measured is not judged here (the runner's ``feasible`` callable decides it before asking).
    """
    total = 0.0
    for constraint in constraints:
        value = metrics.get(constraint.metric)
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            continue
        bound, op = float(constraint.bound), constraint.op
        if op in ("<", "<="):
            total += max(0.0, value - bound)
        elif op in (">", ">="):
            total += max(0.0, bound - value)
        elif op == "==":
            total += abs(value - bound)
        else:
            raise UserError(f"A constraint op must be one of {list(_OPS)}; got {op!r}.")
    return total


def pareto_ranks(points: np.ndarray) -> np.ndarray:
    """Non-dominated sorting ranks (0 = Pareto front) of loss vectors, shape (n, k)."""
    n = len(points)
    ranks = np.zeros(n, dtype=int)
    if n == 0:
        return ranks
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    dominates = le & lt  # dominates[i, j]: i dominates j
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        dominated = (dominates & remaining[:, None]).any(axis=0)
        front = remaining & ~dominated
        ranks[front] = rank
        remaining &= ~front
        rank += 1
    return ranks


def improves(point: Sequence[float], others: np.ndarray) -> bool:
    """Whether no earlier point weakly dominates ``point`` (for one objective: a new best)."""
    if len(others) == 0:
        return True
    p = np.asarray(point)
    return not bool(np.any(np.all(others <= p, axis=1)))


def chebyshev(points: np.ndarray, weights: np.ndarray, rho: float = 0.05) -> np.ndarray:
    """Augmented Chebyshev scalarisation (ParEGO) of loss vectors normalised to [0, 1].

    Each column is rescaled by its observed range, then ``max_i w_i z_i + rho * sum_i w_i z_i``;
    a random weight vector per ask makes successive asks cover the whole Pareto front.
    """
    lo, hi = points.min(axis=0), points.max(axis=0)
    z = (points - lo) / np.where(hi > lo, hi - lo, 1.0)
    return (z * weights).max(axis=1) + rho * (z * weights).sum(axis=1)
