"""The one-shot searcher: supernet, evolution on inherited weights, top-k handed out as trials."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

import space as sp
from evaluators._tasks import BaseTask
from nas._errors import UserError
from nas.searchers._base import ATTEMPTS_PER_ASK
from nas.searchers._base import BaseSearcher
from nas.searchers._objectives import losses
from nas.searchers._objectives import pareto_ranks
from nas.searchers._oneshot._supernet import SPLITS
from nas.searchers._oneshot._supernet import Supernet
from nas.searchers._registry import register_searcher
from space import Architecture


@register_searcher("oneshot")
class OneShotSearcher(BaseSearcher):
    """One-shot NAS (MCUFormer/OFA style) for transformer spaces.

    On the first :meth:`ask` it builds a weight-sharing :class:`Supernet` over the space (elastic
    width, heads, FFN, depth, one weight set per mixer type per layer, per FFN kind and per patch
    size; low-rank factors sliced by rank), trains it for ``supernet_steps`` sandwich steps (2
    random subnets, the first stretched to its largest and smallest sizes), then runs
    ``generations`` of evolution over feasible subnets scored on validation with inherited weights:
    each generation keeps the best ``population`` and adds one mutation of each. ``ask(n)`` hands
    out the best ``n`` scored subnets not yet asked, which the runner retrains standalone as
    ordinary trials; when the ranked list runs out, a further generation is evolved from its best
    members (then random feasible subnets).

    Ranking: candidates are sorted by Pareto rank over the objectives the supernet can estimate
    cheaply (``accuracy`` and ``loss`` with inherited weights, ``params`` and ``macs`` from the
    cost counts), then by inherited accuracy; objectives it cannot estimate (e.g. measured
    latency) do not enter the ranking. Candidates rejected by ``feasible`` are never scored nor
    kept. Told standalone results are recorded (history) but do not reorder the list.

    State: the JSON state holds the seed, the pending asks (base class) and the scored candidates
    that can still matter (the best ``population`` and those not told yet) with their inherited
    metrics; the supernet's weights are not stored. A restored searcher therefore hands out the
    same ranked list without retraining; only when it must evolve past that list does it retrain
    the supernet, which is seeded and gives the same weights on the same machine and torch
    version (CPU, one thread).

    Supported spaces: transformer spaces (``space.transformer``) with one input kind, whose layers
    may vary in width, heads, head_dim, FFN widths, depth, mixer type, activation, norm,
    ``rank_ratio`` and patch size. Not shared: each patch size has its own patch embedding and
    positions (the token count differs), and heterogeneous head lists are sliced as one block.

    Args:
        task: task name or ``BaseTask`` the supernet trains on (``"digits"``).
        supernet_steps: sandwich training steps.
        population: subnets kept per evolution generation.
        generations: evolution generations before the first ask.
        batch_size: training batch size.
        lr: AdamW learning rate of the supernet.
        distill / split: see :class:`Supernet` (in-place distillation; few-shot splits).
        **kwargs: see :class:`BaseSearcher`.

    Raises:
        ValueError: the space does not give transformer architectures.
    """

    def __init__(
        self,
        *,
        task: str | BaseTask = "digits",
        supernet_steps: int = 300,
        population: int = 16,
        generations: int = 4,
        batch_size: int = 64,
        lr: float = 5e-3,
        distill: bool = False,
        split: list[str] | tuple[str, ...] = SPLITS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        probe = self.space.sample(np.random.default_rng(self.seed))
        if probe.to_dict().get("family") != "transformer":
            raise UserError(
                "The oneshot searcher needs a transformer space (architectures with 'family': "
                "'transformer', built with space.transformer(...)) so it can build a "
                "weight-sharing supernet; this space gives "
                f"{sorted(probe.to_dict())!r}. Use another searcher, e.g. 'evolution' or "
                "'boshnas'."
            )
        if supernet_steps < 1 or population < 2 or generations < 0:
            raise UserError(
                "oneshot needs supernet_steps >= 1, population >= 2 and generations >= 0; got "
                f"supernet_steps={supernet_steps}, population={population}, "
                f"generations={generations}."
            )
        self.task = task
        self.supernet_steps = supernet_steps
        self.population = population
        self.generations = generations
        self.batch_size = batch_size
        self.lr = lr
        self.distill = distill
        self.split = tuple(split)
        self.supernet: Supernet | None = None
        # Architecture -> its inherited metrics; insertion order is the order scored.
        self._scored: dict[Architecture, dict[str, float]] = {}
        self._searched = False

    # The search.

    def build_supernet(self) -> Supernet:
        """Build and train the supernet (once); seeded, so a rebuild gives the same weights."""
        if self.supernet is not None:
            return self.supernet
        with _one_thread():
            supernet = Supernet(
                self.space, self.task, seed=self.seed, batch_size=self.batch_size, lr=self.lr,
                distill=self.distill, split=self.split, feasible=self.feasible,
            )
            supernet.train(steps=self.supernet_steps)
        self.supernet = supernet
        return supernet

    def _score(self, arch: Architecture) -> None:
        """Score a feasible subnet with inherited weights (cached by architecture)."""
        if arch in self._scored or not self._is_feasible(arch):
            return
        supernet = self.build_supernet()
        with _one_thread():
            metrics = supernet.evaluate(arch)
        a = supernet.adapt(arch)
        metrics.update(params=float(sp.count_params(a)), macs=float(sp.count_macs(a)))
        self._scored[arch] = metrics

    def _ranked(self) -> list[Architecture]:
        """Scored candidates, best first (Pareto rank, then inherited accuracy, then id)."""
        archs = list(self._scored)
        if not archs:
            return []
        cheap = {k: v for k, v in self.objectives.items() if k in self._scored[archs[0]]}
        points = [losses(cheap, self._scored[a]) or (0.0,) for a in archs] if cheap else []
        ranks = pareto_ranks(np.array(points)) if cheap else np.zeros(len(archs))
        keys = {
            a: (int(r), -self._scored[a]["accuracy"], a.id)
            for a, r in zip(archs, ranks, strict=True)
        }
        return sorted(archs, key=keys.__getitem__)

    def _evolve(self, rng: np.random.Generator, generations: int) -> None:
        """``generations`` rounds: mutate each of the best ``population`` once and score."""
        for _ in range(generations):
            parents = self._ranked()[: self.population]
            for parent in parents:
                for _ in range(ATTEMPTS_PER_ASK // 8):
                    child = self.space.mutate(parent, rng)
                    new = child not in self._scored and child not in self._told
                    if new and self._is_feasible(child):
                        self._score(child)
                        break

    def _search(self) -> None:
        """Initial population of random feasible subnets, then the evolution."""
        rng = np.random.default_rng([self.seed, 2])
        self.build_supernet()
        for _ in range(ATTEMPTS_PER_ASK * self.population):
            if len(self._scored) >= self.population:
                break
            self._score(self.space.sample(rng))
        self._evolve(rng, self.generations)
        self._searched = True

    def _suggest(self, n: int) -> list[Architecture]:
        if not self._searched:
            self._search()
        chosen = self._take(n, [])
        if len(chosen) < n:
            self._evolve(self._rng(), 1)
            chosen = self._take(n, chosen)
        self._forget_told()
        return self._random_fill(n, self._rng(1), chosen) if len(chosen) < n else chosen

    def _forget_told(self) -> None:
        """Keep the scored candidates that can still matter: the best ``population`` (the
        parents of a later generation) and those not told yet. Told ones are never handed out
        again, so the state is bounded by the search, not by the size of the study."""
        ranked = self._ranked()
        keep = set(ranked[: self.population]) | {a for a in ranked if a not in self._told}
        self._scored = {a: m for a, m in self._scored.items() if a in keep}

    def _take(self, n: int, chosen: list[Architecture]) -> list[Architecture]:
        for arch in self._ranked():
            if len(chosen) >= n:
                break
            if self._admissible(arch, chosen) and self.space.contains(arch):
                chosen.append(arch)
        return chosen

    def trial_metrics(self, arch: Architecture) -> dict[str, float]:
        """``supernet_accuracy`` / ``supernet_loss``: the inherited-weight scores of a subnet
        the search scored, recorded beside its retrained metrics."""
        scored = self._scored.get(arch, {})
        return {f"supernet_{k}": v for k, v in scored.items() if k in ("accuracy", "loss")}

    @property
    def scores(self) -> dict[Architecture, dict[str, float]]:
        """Inherited-weight metrics of the scored subnets kept (see State above), best first."""
        return {a: dict(self._scored[a]) for a in self._ranked()}

    # State.

    def _extra_state(self) -> dict[str, Any]:
        return {
            "searched": self._searched,
            "scored": [[a.to_json(), m] for a, m in self._scored.items()],
        }

    def _load_extra_state(self, extra: Mapping[str, Any], told: int) -> None:
        self._searched = bool(extra.get("searched", False))
        self._scored = {
            Architecture.from_json(j): {k: float(v) for k, v in m.items()}
            for j, m in extra.get("scored", [])
        }


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (searchers share the CPU with trials)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
