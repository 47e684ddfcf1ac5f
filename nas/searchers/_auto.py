"""``searcher="auto"``: the searcher ``benchmarks/searchers.py`` shows best for a study's shape.

What the benchmark showed (``benchmarks/RESULTS.md``, section "Searchers against Optuna"):
on a space small enough that BOSHNAS scores every member (a tabular pool such as FlexiBERT's
620 models) BOSHNAS found the two-objective front first; on the 30,000-configuration HPOBench
grid TPE was within seed noise of the best at a few milliseconds per query, where Optuna's
GPSampler, ahead there, costs 0.1-0.4 CPU s per query and grows with every result. The runs that
finished did not separate budgets or objective counts, so the rule reads only the space's size.
"""

from __future__ import annotations

from typing import Any

# BOSHNAS's default reference-pool size: up to it, the whole space is scored every ask.
EXACT_LIMIT = 1024


def choose_searcher(space: Any) -> str:
    """The registered searcher ``"auto"`` stands for on ``space``."""
    try:
        size = int(space.size())
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return "tpe"
    return "boshnas" if size <= EXACT_LIMIT else "tpe"
