"""The searcher interface and the bookkeeping every searcher shares."""

from __future__ import annotations

import json
import math
import random
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Container
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import ClassVar

import numpy as np

from nas.searchers._objectives import check_objectives
from nas.searchers._objectives import losses
from nas.searchers._objectives import violation
from space import Architecture

# Format 2 holds no told history (format 1 did): the history is rebuilt through ``warm_start``.
STATE_FORMAT = 2
# Spaces up to this size are enumerated once, so exhaustion is exact and uniform draws are cheap.
ENUMERATE_LIMIT = 4096
# Rejection sampling gives up after this many draws per requested architecture.
ATTEMPTS_PER_ASK = 64


@dataclass(frozen=True)
class Record:
    """One told result: ``losses`` is None for a failure, ``violation`` > 0 breaks a constraint."""

    arch: Architecture
    metrics: dict[str, float] | None
    error: str | None
    losses: tuple[float, ...] | None
    violation: float

    @property
    def ok(self) -> bool:
        """A completed evaluation with every objective finite (constraints may still fail)."""
        return self.losses is not None


def to_architecture(value: Any) -> Architecture:
    """An Architecture from itself, its canonical JSON or its ``to_dict()`` form."""
    if isinstance(value, Architecture):
        return value
    if isinstance(value, str):
        return Architecture.from_json(value)
    if isinstance(value, Mapping):
        return Architecture.from_json(json.dumps(dict(value)))
    raise TypeError(f"Expected an Architecture, its JSON or its dict form; got {type(value)!r}.")


def enumerate_space(space: Any, limit: int = ENUMERATE_LIMIT) -> list[Architecture] | None:
    """Every architecture of ``space`` in a fixed order, or None when it has more than ``limit``.

    A space holding an explicit list (``architectures``, e.g. :class:`PoolSpace`) gives it;
    otherwise the decision tree is walked depth-first through ``space.draw``.
    """
    listed = getattr(space, "architectures", None)
    if listed is not None:
        return list(listed)
    try:
        size = int(space.size())
    except (ValueError, TypeError, NotImplementedError):
        return None
    if size > limit:
        return None
    found: dict[Architecture, None] = {}
    stack: list[list[int]] = [[]]
    while stack:
        prefix = stack.pop()
        counts: list[int] = []

        def chooser(path: str, decision: Any, prefix: list[int] = prefix, counts=counts) -> Any:
            k = len(counts)
            index = prefix[k] if k < len(prefix) else 0
            if hasattr(decision, "options"):
                counts.append(len(decision.options))
                return index
            if hasattr(decision, "step"):
                step = decision.step or 1
                counts.append((decision.high - decision.low) // step + 1)
                return decision.low + index * step
            raise ValueError(f"{path} is a real range; the space cannot be enumerated.")

        try:
            arch = space.draw(chooser)
        except ValueError:
            return None
        found[arch] = None
        for k in range(len(prefix), len(counts)):
            for i in range(counts[k] - 1, 0, -1):
                stack.append(prefix + [0] * (k - len(prefix)) + [i])
    return list(found)


class BaseSearcher(ABC):
    """Proposes architectures to evaluate and learns from their results (ask/tell).

    The runner drives a searcher: it calls :meth:`ask` whenever workers are idle (possibly many
    times before any result returns), :meth:`tell` or :meth:`tell_failure` once per finished
    evaluation, :meth:`state_dict` after each tell to persist it, and on resume a fresh searcher's
    :meth:`load_state_dict` followed by :meth:`warm_start` with every finished trial. The state
    holds only the searcher's own extras (seed, counters, pending asks, bounded model state),
    never the told history, so saving it costs the same however large the study is. A searcher
    never touches storage, Ray or evaluators.

    Invariants of :meth:`ask`: the architectures it returns are distinct, in the space, accepted
    by ``feasible``, and neither pending (asked, not yet told) nor already told; it returns fewer
    than asked only when it cannot find more (the space is exhausted or nearly all infeasible).
    Asks are a pure function of the seed and the sequence of calls, so a restored searcher asks
    what the original would have asked.

    Args:
        space: a ``space.Space`` (or anything with its API, e.g. :class:`PoolSpace`).
        objectives: metric name -> ``"min"`` or ``"max"``; several objectives are searched by
            Pareto dominance (each searcher documents how).
        constraints: ``space.Constraint`` values; measured metrics that break one make a result
            infeasible (ranked after every feasible one).
        feasible: ``arch -> bool`` deciding the constraints cheap cost models can judge; an
            architecture it rejects is never returned by :meth:`ask`.
        seed: seeds every random choice.
    """

    name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        space: Any,
        objectives: Mapping[str, str],
        constraints: Sequence[Any] = (),
        feasible: Callable[[Architecture], bool] | None = None,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.objectives = check_objectives(objectives)
        self.constraints = tuple(constraints)
        self.feasible = feasible
        self.seed = int(seed)
        self._asks = 0
        self._pending: dict[Architecture, None] = {}
        self._history: list[Record] = []
        self._told: set[Architecture] = set()
        self._feasibility: dict[Architecture, bool] = {}
        self._enumerated: list[Architecture] | None | bool = False

    # The public contract.

    def ask(self, n: int = 1) -> list[Architecture]:
        """Architectures to evaluate next; called whenever the runner has idle workers.

        Args:
            n: how many to return (n workers get n different suggestions).

        Returns:
            Up to ``n`` distinct, feasible architectures that are neither pending nor told.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"ask(n) needs a non-negative int n; got {n!r}.")
        if n == 0:
            return []
        archs = self._suggest(n)
        assert len(set(archs)) == len(archs) <= n, "a searcher returned duplicates"
        self._asks += 1
        for arch in archs:
            self._pending[arch] = None
        return archs

    def tell(self, arch: Architecture, metrics: Mapping[str, Any]) -> None:
        """Report an evaluation; called once per finished trial, in any order.

        A missing or NaN objective counts as a failure.
        """
        self._observe(self._record(arch, metrics, None))

    def tell_failure(self, arch: Architecture, error: str) -> None:
        """Report an evaluation that raised or was killed; the architecture is not asked again."""
        self._observe(self._record(arch, None, str(error)))

    def warm_start(self, records: Iterable[Any]) -> None:
        """Learn from results obtained elsewhere before (or between) asks.

        Args:
            records: ``(arch, metrics)`` pairs, ``storage.TrialRecord`` objects, or trial dicts
                with ``"arch"`` and ``"metrics"`` (a trial not COMPLETE, or ``metrics`` None, is
                a failure). Architectures may be given as objects, JSON or dicts.
        """
        for item in records:
            if hasattr(item, "to_json") and hasattr(item, "state"):  # a storage.TrialRecord
                item = {"arch": item.arch, "metrics": item.metrics, "state": item.state}
            if isinstance(item, Mapping):
                arch, metrics = item["arch"], item.get("metrics")
                if item.get("state", "COMPLETE") not in ("COMPLETE",):
                    metrics = None
            else:
                arch, metrics = item
            arch = to_architecture(arch)
            if metrics is None:
                self.tell_failure(arch, "failed before warm start")
            else:
                self.tell(arch, metrics)

    def reseed(self, seed: int) -> None:
        """Change the seed of every later random choice (e.g. per worker)."""
        self.seed = int(seed)

    def state_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of everything but the told history (which the caller
        keeps, e.g. as the study's trials, and gives back through :meth:`warm_start`)."""
        return {
            "searcher": self.name,
            "format": STATE_FORMAT,
            "seed": self.seed,
            "asks": self._asks,
            "told": len(self._history),
            "objectives": dict(self.objectives),
            "pending": [a.to_json() for a in self._pending],
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict` into a searcher built with the same args;
        then :meth:`warm_start` it with the told results, in the order they were told."""
        if state.get("searcher") != self.name:
            raise ValueError(
                f"This state belongs to searcher {state.get('searcher')!r}, not {self.name!r}. "
                f"Build the searcher with make_searcher({state.get('searcher')!r}, ...)."
            )
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"Searcher state format must be {STATE_FORMAT}; got {state.get('format')!r}."
            )
        self.seed = int(state["seed"])
        self._asks = int(state["asks"])
        self._pending = {to_architecture(a): None for a in state["pending"]}
        self._history, self._told = [], set()
        self._load_extra_state(state.get("extra") or {}, told=int(state.get("told", 0)))

    @property
    def history(self) -> tuple[Record, ...]:
        """Every told result, in the order told."""
        return tuple(self._history)

    @property
    def pending(self) -> tuple[Architecture, ...]:
        """Asked architectures whose result has not been told yet."""
        return tuple(self._pending)

    # What a searcher implements.

    @abstractmethod
    def _suggest(self, n: int) -> list[Architecture]:
        """Up to ``n`` distinct admissible architectures (see :meth:`_admissible`)."""

    def _observe(self, record: Record) -> None:
        """Called after every tell (and warm-start record); default: nothing to update."""
        return None

    def trial_metrics(self, arch: Architecture) -> dict[str, float]:
        """Metrics the searcher itself knows of ``arch``, recorded beside the trial's own
        (e.g. the one-shot supernet's score); default: none."""
        return {}

    def _extra_state(self) -> dict[str, Any]:
        """Searcher-specific JSON state beyond the told history; its size must not grow with
        the number of told results."""
        return {}

    def _load_extra_state(self, extra: Mapping[str, Any], told: int) -> None:
        """Inverse of :meth:`_extra_state`, called before the history is warm-started again;
        ``told`` is how many results had been told when the state was saved."""
        return None

    # Helpers for implementations.

    def _record(
        self, arch: Architecture, metrics: Mapping[str, Any] | None, error: str | None
    ) -> Record:
        arch = to_architecture(arch)
        clean = None
        if metrics is not None:
            clean = {}
            for key, value in metrics.items():
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    continue
                clean[str(key)] = value if math.isfinite(value) else None
        loss = None if clean is None else losses(self.objectives, clean)
        if clean is not None and loss is None and error is None:
            error = "an objective is missing or not finite"
        spent = violation(self.constraints, clean) if clean else 0.0
        record = Record(arch, clean, error, loss, spent)
        self._pending.pop(arch, None)
        self._told.add(arch)
        self._history.append(record)
        return record

    def _rng(self, *salt: int) -> np.random.Generator:
        """A generator that depends only on the seed, the number of asks so far and ``salt``."""
        return np.random.default_rng([self.seed, self._asks, *salt])

    def _is_feasible(self, arch: Architecture) -> bool:
        if self.feasible is None:
            return True
        known = self._feasibility.get(arch)
        if known is None:
            known = self._feasibility[arch] = bool(self.feasible(arch))
        return known

    def _admissible(self, arch: Architecture, chosen: Container[Architecture] = ()) -> bool:
        """Not pending, not told, not already chosen in this ask, and feasible."""
        if arch in self._pending or arch in self._told or arch in chosen:
            return False
        return self._is_feasible(arch)

    def _all_architectures(self) -> list[Architecture] | None:
        """The enumerated space (cached), or None when it is too large to enumerate."""
        if self._enumerated is False:
            self._enumerated = enumerate_space(self.space)
        return self._enumerated  # type: ignore[return-value]

    def _random_fill(
        self, n: int, rng: np.random.Generator, chosen: list[Architecture]
    ) -> list[Architecture]:
        """Append uniformly random admissible architectures to ``chosen`` until it holds ``n``."""
        if len(chosen) >= n:
            return chosen
        # A set beside the list: the runner asks for thousands at once in cheap studies.
        seen = set(chosen)
        everything = self._all_architectures()
        if everything is None:
            # One Python generator for the whole ask: seeding one from numpy's per draw costs
            # four times the draw itself.
            draw = random.Random(int(rng.integers(2**63)))
            draws: Iterable[Architecture] = (self.space.sample(draw)
                                             for _ in range(ATTEMPTS_PER_ASK * n))
        else:
            draws = (everything[i] for i in rng.permutation(len(everything)))
        for arch in draws:
            if len(chosen) >= n:
                break
            if self._admissible(arch, seen):
                chosen.append(arch)
                seen.add(arch)
        return chosen

    def _ok_records(self) -> list[Record]:
        return [r for r in self._history if r.ok]
