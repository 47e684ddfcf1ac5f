"""``searcher="auto"``: the searcher ``benchmarks/searchers.py`` shows best for a study's shape.

The rule reads three things a study knows before it runs: the number of objectives, the trial
budget and whether the space is small enough to enumerate. The table behind it is in
``benchmarks/RESULTS.md`` (section "Searchers against Optuna").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTO = "auto"


def choose_searcher(space: Any, trials: int, objectives: Mapping[str, str]) -> str:
    """The registered searcher ``"auto"`` stands for.

    Args:
        space: the study's space (only its ``size()`` is read).
        trials: the study's trial budget.
        objectives: metric -> direction.
    """
    if len(objectives) > 1:
        # Two objectives: TPE's multi-objective density estimate led on both tables at every
        # budget, at a few milliseconds per query.
        return "tpe"
    # One objective: TPE again, except that within 50 trials on a space too large to enumerate
    # ... (see RESULTS.md).
    return "tpe"
