"""hetnas search layer: studies, searchers, the Ray runner and the ``nas`` CLI."""

from __future__ import annotations

from nas._errors import UserError
from nas._runner import RunResult
from nas._runner import run
from nas._study import Study
from nas.searchers import BaseSearcher
from nas.searchers import make_searcher
from nas.searchers import register_searcher

__all__ = [
    "BaseSearcher",
    "RunResult",
    "Study",
    "UserError",
    "make_searcher",
    "register_searcher",
    "run",
]
