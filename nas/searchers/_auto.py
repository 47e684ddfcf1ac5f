"""``searcher="auto"``: the searcher ``benchmarks/searchers.py`` shows best for a study's shape.

What the benchmark showed (``benchmarks/RESULTS.md``, section "Searchers against Optuna",
10 seeds of every searcher): on a space small enough that BOSHNAS scores every member (a tabular
pool such as FlexiBERT's 620 models) BOSHNAS found the fronts first; on the 30,000-configuration
HPOBench grids TPE was within seed noise of the best single-objective searchers at a few
milliseconds per query. GPSampler was ahead there on two objectives, but it costs 0.1-0.4 CPU s
per query at 100 results and more with each, which a cheap study of thousands of trials cannot
afford. The rule reads only the space's size: one that read the trial budget would pick another
searcher when a stored study is resumed with more trials, which the runner refuses.
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
