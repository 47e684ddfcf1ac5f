"""Regularized (aging) evolution, Real et al. 2019, asynchronous and multi-objective."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nas._errors import UserError
from nas.searchers._base import ATTEMPTS_PER_ASK
from nas.searchers._base import BaseSearcher
from nas.searchers._base import Record
from nas.searchers._base import to_architecture
from nas.searchers._objectives import pareto_ranks
from nas.searchers._registry import register_searcher
from space import Architecture

# A parent's child that is already known is mutated again (a short random walk) this many times
# before a fresh tournament picks another parent.
_WALK = 4


@register_searcher("evolution")
class EvolutionSearcher(BaseSearcher):
    """Regularized evolution: the population is the ``population_size`` most recently told
    results (older ones age out); each child is a ``space.mutate`` of the winner of a tournament
    among ``sample_size`` random members.

    Until ``population_size`` architectures are told or pending, children are uniform samples.
    The tournament winner is the member with the smallest measured constraint violation, then
    the lowest Pareto rank within the tournament (for one objective: the best value), ties broken
    at random, so several objectives are searched by Pareto dominance.

    Args:
        population_size: P, the number of most recent results that can be parents.
        sample_size: S, the tournament size (S = P is greedy, S = 1 is random walk).
        **kwargs: see :class:`BaseSearcher`.
    """

    def __init__(self, *, population_size: int = 20, sample_size: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if population_size < 1 or not 1 <= sample_size <= population_size:
            raise UserError(
                "Evolution needs 1 <= sample_size <= population_size; got "
                f"sample_size={sample_size}, population_size={population_size}."
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self._population: list[Record] = []
        # After a restore: the saved population's members in order, and how many results had
        # been told then; the population is put back from the warm-started history on next use.
        self._saved: tuple[list[Architecture], int] | None = None

    def _suggest(self, n: int) -> list[Architecture]:
        rng = self._rng()
        chosen: list[Architecture] = []
        population = self._members()
        attempts = 0
        while len(chosen) < n and attempts < ATTEMPTS_PER_ASK * n:
            started = len(self._history) + len(self._pending) + len(chosen)
            if started < self.population_size or not population:
                self._random_fill(len(chosen) + 1, rng, chosen)
                attempts += ATTEMPTS_PER_ASK
                continue
            child = self._tournament(population, rng).arch
            for _ in range(_WALK):
                attempts += 1
                child = self.space.mutate(child, rng)
                if self._admissible(child, chosen):
                    chosen.append(child)
                    break
        return self._random_fill(n, rng, chosen)

    def _tournament(self, population: list[Record], rng: np.random.Generator) -> Record:
        size = min(self.sample_size, len(population))
        picked = [population[i] for i in rng.choice(len(population), size, replace=False)]
        ranks = pareto_ranks(np.array([r.losses for r in picked]))
        keys = [(r.violation, rank, rng.random()) for r, rank in zip(picked, ranks, strict=True)]
        return picked[min(range(size), key=keys.__getitem__)]

    def _observe(self, record: Record) -> None:
        if record.ok:
            self._population = (self._population + [record])[-self.population_size :]

    def _members(self) -> list[Record]:
        if self._saved is not None:
            archs, told = self._saved
            by_arch = {r.arch: r for r in self._history}
            kept = [by_arch[a] for a in archs if a in by_arch]
            # Results told after the save (a driver killed before its next save) are newer.
            newer = [r for r in self._history[told:] if r.ok and r.arch not in set(archs)]
            self._population = (kept + newer)[
                -self.population_size :]
            self._saved = None
        return self._population

    def _extra_state(self) -> dict[str, Any]:
        return {"population": [r.arch.to_json() for r in self._members()]}

    def _load_extra_state(self, extra: Mapping[str, Any], told: int) -> None:
        self._population = []
        self._saved = ([to_architecture(a) for a in extra.get("population", [])], told)
