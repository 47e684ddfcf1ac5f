"""Early stopping: stop a trial whose intermediate values fall behind those of finished trials.

The driver folds each finished trial's intermediate values into a pruner and hands every task
the pruner's ``Cutoffs`` (per step, the value a running trial must at least match); the worker
checks each value the evaluator reports against them and stops the trial at the first that falls
short. Decisions use the trials finished when the task was sent, so pruning needs no database or
Ray actor in the worker and costs one dict lookup per report.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from nas._errors import UserError


@dataclasses.dataclass(frozen=True)
class Cutoffs:
    """Per step, the value of ``metric`` a running trial must at least match to continue."""

    metric: str
    direction: str
    bounds: Mapping[int, float]
    # Compare the trial's best value so far rather than its value at the step.
    best_so_far: bool = False

    def judge(self) -> Callable[[str, int, float], bool]:
        """A check for one trial: ``judge(name, step, value)`` is True at the first reported
        value that falls behind its step's cutoff."""
        best = math.nan

        def prunes(name: str, step: int, value: float) -> bool:
            nonlocal best
            if name != self.metric:
                return False
            # A diverged trial (NaN loss) is behind every finished one.
            if self.best_so_far and not math.isnan(value):
                better = max if self.direction == "max" else min
                value = best = value if math.isnan(best) else better(best, value)
            bound = self.bounds.get(step)
            if bound is None:
                return False
            return math.isnan(value) or (value < bound if self.direction == "max"
                                         else value > bound)

        return prunes


class BasePruner(ABC):
    """Learns from finished trials' intermediate values of one metric; see ``PRUNERS``.

    Args:
        metric: Name of the intermediate value to watch (``report(metric, step, value)``).
        direction: ``"max"`` or ``"min"``: which way that value is better.
        min_trials: Finished trials that must have reported at a step before any trial is
            stopped there.
        warmup_steps: Values at steps up to this one never stop a trial (early values are
            noisy).
    """

    # The states whose trials' values set the cutoffs.
    counted_states: tuple[str, ...] = ("COMPLETE",)
    best_so_far = False

    def __init__(self, metric: str, direction: str, *, min_trials: int = 5,
                 warmup_steps: int = 0) -> None:
        self.metric = metric
        self.direction = direction
        self.min_trials = min_trials
        self.warmup_steps = warmup_steps
        self._values: dict[int, list[float]] = {}

    def observe(self, values: Iterable[tuple[str, int, float]], state: str) -> None:
        """Fold in the intermediate values of a trial that finished in ``state``."""
        if state not in self.counted_states:
            return
        for name, step, value in values:
            if name == self.metric and math.isfinite(value):
                self._values.setdefault(step, []).append(value)

    def cutoffs(self) -> Cutoffs | None:
        """What a worker needs to stop a trial now; None until some step has enough trials."""
        judged = self._judged_steps()
        bounds = {step: self._bound(sorted(values, reverse=self.direction == "max"))
                  for step, values in self._values.items()
                  if step > self.warmup_steps and len(values) >= self.min_trials
                  and step in judged}
        if not bounds:
            return None
        return Cutoffs(self.metric, self.direction, bounds, self.best_so_far)

    def _judged_steps(self) -> Iterable[int]:
        """Steps at which a trial may be stopped (of those finished trials reported at)."""
        return self._values.keys()

    @abstractmethod
    def _bound(self, best_first: list[float]) -> float:
        """The cutoff at one step from the finished trials' values there, best first."""


class MedianPruner(BasePruner):
    """The median stopping rule as Optuna's ``MedianPruner`` has it (after Golovin et al.,
    Google Vizier, KDD 2017): stop a trial whose best value so far is worse than the median of
    the COMPLETE trials' values at the same step."""

    best_so_far = True

    def _bound(self, best_first: list[float]) -> float:
        return statistics.median(best_first)


class HalvingPruner(BasePruner):
    """Asynchronous successive halving (Li et al., ASHA, MLSys 2020; Optuna's
    ``SuccessiveHalvingPruner``): rungs at the first reported steps at or past ``min_step``,
    ``min_step * reduction_factor``, ``min_step * reduction_factor**2``, ...; a trial continues
    past a rung only if its value is among the best ``1 / reduction_factor`` of the values every
    finished trial (COMPLETE or PRUNED) reached there.

    Args:
        reduction_factor: One in this many trials goes on past each rung (3 keeps a third).
        min_step: Step of the first rung; by default the first step trials report.
        Others as ``BasePruner``.
    """

    counted_states = ("COMPLETE", "PRUNED")

    def __init__(self, metric: str, direction: str, *, min_trials: int = 5,
                 warmup_steps: int = 0, reduction_factor: int = 3,
                 min_step: int | None = None) -> None:
        super().__init__(metric, direction, min_trials=min_trials, warmup_steps=warmup_steps)
        self.reduction_factor = reduction_factor
        self.min_step = min_step

    def _judged_steps(self) -> set[int]:
        steps = sorted(self._values)
        if not steps:
            return set()
        rung, rungs = max(1, self.min_step or steps[0]), set()
        for step in steps:
            if step >= rung:
                rungs.add(step)
                while rung <= step:
                    rung *= self.reduction_factor
        return rungs

    def _bound(self, best_first: list[float]) -> float:
        # The trial being judged competes too: of n + 1 values the best (n + 1) // factor go
        # on, and at least the best one does.
        keep = max(1, (len(best_first) + 1) // self.reduction_factor)
        return best_first[keep - 1]


PRUNERS: dict[str, type[BasePruner]] = {"median": MedianPruner, "halving": HalvingPruner}
_INT_OPTIONS = {"min_trials": 1, "warmup_steps": 0, "reduction_factor": 2, "min_step": 1}


def make_pruner(
    name: str, objectives: Mapping[str, str], options: Mapping[str, Any] | None = None
) -> BasePruner:
    """Build a study's pruner, checking its options.

    Args:
        name: One of ``PRUNERS``.
        objectives: The study's objectives: the watched metric defaults to the first, and its
            direction to the objective's.
        options: ``metric``, ``direction``, ``min_trials``, ``warmup_steps``; for
            ``"halving"`` also ``reduction_factor`` and ``min_step``.

    Raises:
        UserError: An unknown name or option, or a value that breaks its rule.
    """
    if name not in PRUNERS:
        raise UserError(f"Unknown pruner {name!r}. Must be one of {sorted(PRUNERS)} or None.")
    options = dict(options or {})
    allowed = ["metric", "direction", "min_trials", "warmup_steps"]
    if name == "halving":
        allowed += ["reduction_factor", "min_step"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(
            f"Unknown option {unknown[0]!r} of pruner {name!r}. Its options are {allowed}."
        )
    metric = options.pop("metric", next(iter(objectives)))
    direction = options.pop("direction", objectives.get(metric))
    if direction not in ("min", "max"):
        raise UserError(
            f"Pruner {name!r} watches {metric!r}, which is not an objective, so it needs "
            f"pruner_options['direction'] 'min' or 'max'; got {direction!r}."
        )
    for key, value in options.items():
        low = _INT_OPTIONS[key]
        if key == "min_step" and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise UserError(
                f"pruner_options[{key!r}] must be an integer >= {low}; got {value!r}."
            )
    return PRUNERS[name](metric, direction, **options)
