"""Non-dominated filtering of a value table, vectorised with numpy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Candidates compared per numpy call: big enough to amortise Python, small enough that the
# (front x block x objectives) boolean arrays stay a few megabytes.
_BLOCK = 256


def non_dominated(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Mask of the rows no other row dominates.

    Row ``a`` dominates ``b`` when it is no worse in every column and better in one. Equal rows
    do not dominate each other, so duplicates of a front point are all on the front.

    Rows are visited in lexicographic order of their costs, in which a dominating row always
    comes first. Two objectives take one O(n log n) sweep; more are filtered by a few elite rows
    at once, then checked block by block against the front found so far (O(n * front size) in
    a handful of vectorised calls).

    Args:
        values: ``(n, d)`` finite floats, one row per trial.
        directions: ``"min"`` or ``"max"`` per column.

    Returns:
        ``(n,)`` boolean mask.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    signs = np.array([1.0 if direction == "min" else -1.0 for direction in directions])
    # np.unique sorts the distinct cost rows lexicographically.
    costs, inverse = np.unique(values * signs, axis=0, return_inverse=True)
    if costs.shape[1] <= 2:
        on_front = _sweep(costs)
    else:
        on_front = np.zeros(len(costs), dtype=bool)
        candidates = np.flatnonzero(~_dominates(costs[_elite(costs)], costs).any(axis=0))
        on_front[candidates] = _blocks(costs[candidates])
    return on_front[inverse.reshape(-1)]


def _sweep(costs: np.ndarray) -> np.ndarray:
    # In lexicographic order a row is dominated exactly when an earlier row has a last column
    # no greater than its own.
    last = costs[:, -1]
    best_before = np.concatenate([[np.inf], np.minimum.accumulate(last)[:-1]])
    return last < best_before


def _elite(costs: np.ndarray, size: int = 64) -> np.ndarray:
    # Rows with the smallest normalised cost sum lie near the ideal corner and dominate most
    # others, so they make a cheap first filter.
    low, high = costs.min(axis=0), costs.max(axis=0)
    scaled = (costs - low) / np.where(high > low, high - low, 1.0)
    return np.argsort(scaled.sum(axis=1))[:size]


def _blocks(costs: np.ndarray) -> np.ndarray:
    on_front = np.zeros(len(costs), dtype=bool)
    front = np.empty((0, costs.shape[1]))
    for start in range(0, len(costs), _BLOCK):
        block = costs[start : start + _BLOCK]
        alive = np.flatnonzero(~_dominates(front, block).any(axis=0))
        # Only rows the front spares need checking against each other.
        survivors = block[alive]
        alive = alive[~_dominates(survivors, survivors).any(axis=0)]
        on_front[start + alive] = True
        front = np.concatenate([front, block[alive]])
    return on_front


def _dominates(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[i, j]``: row ``a[i]`` dominates row ``b[j]`` (rows are distinct)."""
    no_worse = np.ones((len(a), len(b)), dtype=bool)
    better = np.zeros((len(a), len(b)), dtype=bool)
    # Column by column: numpy reduces a short last axis slowly, 2-D element-wise ops are fast.
    for column in range(a.shape[1]):
        left, right = a[:, None, column], b[None, :, column]
        no_worse &= left <= right
        better |= left < right
    return no_worse & better
