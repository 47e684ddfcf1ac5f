"""Uniform random search."""

from __future__ import annotations

from nas.searchers._base import BaseSearcher
from nas.searchers._registry import register_searcher
from space import Architecture


@register_searcher("random")
class RandomSearcher(BaseSearcher):
    """Uniform samples from the space; spaces small enough to enumerate are drawn without
    replacement, so they are exhausted exactly. Objectives only matter to the runner."""

    def _suggest(self, n: int) -> list[Architecture]:
        return self._random_fill(n, self._rng(), [])
