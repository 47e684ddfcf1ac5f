"""``nas.Study``: what to search, how to judge it and how much to spend, checked up front."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from nas._errors import UserError

DIRECTIONS = ("min", "max")
RESOURCE_KEYS = ("cpus", "gpus")


@dataclasses.dataclass(frozen=True)
class Study:
    """A declarative search: validated once, here, so a bad spec fails before Ray starts.

    Args:
        name: Unique name of the study in the database; running it again continues it.
        space: The ``space.Space`` to search.
        evaluate: Any callable ``arch -> Mapping[str, float]``, or a built-in evaluator (whose
            ``metrics`` attribute lets the study reject objectives and constraints nothing makes).
        objectives: Metric name -> ``"min"`` or ``"max"``.
        constraints: ``space.Constraint`` hard bounds. One with a ``device`` is decided by that
            device's cost model before a trial is spent; one without is checked on the trial's
            own metrics.
        searcher: One of the registered searcher names (see ``nas.make_searcher``), or
            ``"auto"`` (the default): the one ``benchmarks/searchers.py`` shows best for the
            space's size, resolved when the study is built (``nas/searchers/_auto.py``).
        trials: Total number of finished trials the study should reach.
        searcher_options: Keyword arguments for the searcher, e.g. ``{"population": 20}``.
        resources: Per trial, ``{"cpus": 1, "gpus": 0.5}``; fractions of a GPU are allowed.
        timeout_s: Per-trial wall-clock limit; a trial over it is killed and marked FAILED.
        retries: How often a trial whose worker process died is re-run before it is FAILED.
        initial: Architectures (or their dicts) to evaluate before the searcher's own, e.g.
            published baselines; each is queued once per study and counts toward ``trials``.
        pruner: None (the default: every trial runs to the end), ``"median"`` or
            ``"halving"``: stop trials whose intermediate values (``report(name, step,
            value)``, e.g. ``TrainEvaluator``'s validation accuracy) fall behind the finished
            trials'. They end PRUNED, keeping their last value. See ``nas/README.md``.
        pruner_options: Keyword arguments of the pruner, e.g. ``{"min_trials": 8,
            "warmup_steps": 50}``; ``metric`` (default: the first objective) names the
            intermediate value it watches.

    Raises:
        UserError: If any argument breaks a rule; the message names the value and the fix.
    """

    name: str
    space: Any
    evaluate: Callable[..., Mapping[str, float]]
    objectives: Mapping[str, str]
    constraints: Sequence[Any] = ()
    searcher: str = "auto"
    trials: int = 100
    searcher_options: Mapping[str, Any] | None = None
    resources: Mapping[str, float] | None = None
    timeout_s: float | None = None
    retries: int = 1
    initial: Sequence[Any] = ()
    pruner: str | None = None
    pruner_options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraints", tuple(self.constraints))
        object.__setattr__(self, "objectives", dict(self.objectives))
        object.__setattr__(self, "initial", tuple(self._initial_archs()))
        self._check_scalars()
        self._check_objectives()
        if self.searcher == "auto":
            from nas.searchers._auto import choose_searcher

            object.__setattr__(self, "searcher", choose_searcher(self.space))
        self._check_searcher()
        self._check_constraints()
        self._check_pruner()
        self._check_space()

    @property
    def cpus(self) -> float:
        """CPUs one trial holds on its Ray worker."""
        return float((self.resources or {}).get("cpus", 1))

    @property
    def gpus(self) -> float:
        """GPUs (or a fraction of one) one trial holds on its Ray worker."""
        return float((self.resources or {}).get("gpus", 0))

    def replace(self, **changes: Any) -> Study:
        """A copy with some fields changed (command-line overrides), validated again."""
        return dataclasses.replace(self, **changes)

    def _initial_archs(self) -> list[Any]:
        from space import Architecture

        archs = []
        for i, item in enumerate(self.initial):
            arch = item if isinstance(item, Architecture) else Architecture(item)
            if not self.space.contains(arch):
                raise UserError(
                    f"Study {self.name!r}: initial[{i}] is not in the search space: {arch!r}. "
                    "Give architectures the space can produce (space.contains(arch))."
                )
            archs.append(arch)
        return archs

    def _check_scalars(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise UserError(f"Study name must be a non-empty string; got {self.name!r}.")
        if not callable(self.evaluate):
            raise UserError(
                f"Study {self.name!r}: evaluate must be a callable arch -> dict of metrics; "
                f"got {type(self.evaluate).__name__}."
            )
        if not _is_int(self.trials) or self.trials < 1:
            raise UserError(
                f"Study {self.name!r}: trials must be a positive integer; got {self.trials!r}."
            )
        if not _is_int(self.retries) or self.retries < 0:
            raise UserError(
                f"Study {self.name!r}: retries must be an integer >= 0; got {self.retries!r}."
            )
        if self.timeout_s is not None and not (_is_number(self.timeout_s) and self.timeout_s > 0):
            raise UserError(
                f"Study {self.name!r}: timeout_s must be a positive number of seconds or None; "
                f"got {self.timeout_s!r}."
            )
        for key, value in (self.resources or {}).items():
            if key not in RESOURCE_KEYS:
                raise UserError(
                    f"Study {self.name!r}: resources take the keys {list(RESOURCE_KEYS)}; "
                    f"got {key!r}."
                )
            if not _is_number(value) or value < 0:
                raise UserError(
                    f"Study {self.name!r}: resources[{key!r}] must be a number >= 0; "
                    f"got {value!r}."
                )
        if self.cpus == 0 and self.gpus == 0:
            raise UserError(
                f"Study {self.name!r}: a trial needs some resources; got cpus=0 and gpus=0. "
                "Give it at least one CPU or a GPU fraction."
            )

    def _check_objectives(self) -> None:
        if not self.objectives:
            raise UserError(
                f"Study {self.name!r}: objectives must name at least one metric, "
                'e.g. {"accuracy": "max"}.'
            )
        for metric, direction in self.objectives.items():
            if direction not in DIRECTIONS:
                raise UserError(
                    f"Study {self.name!r}: objective {metric!r} must be 'min' or 'max'; "
                    f"got {direction!r}."
                )
        produced = _declared_metrics(self.evaluate)
        missing = [m for m in self.objectives if produced is not None and m not in produced]
        if missing:
            raise UserError(
                f"Study {self.name!r}: objective {missing[0]!r} is not produced by evaluate, "
                f"which makes {sorted(produced or ())}. Pick one of those or compose an "
                "evaluator that makes it."
            )

    def _check_searcher(self) -> None:
        from nas.searchers import searcher_names

        names = sorted([*searcher_names(), "auto"])
        if self.searcher not in names:
            raise UserError(f"Unknown searcher {self.searcher!r}. Must be one of {names}.")
        from nas.searchers._registry import check_options

        try:
            check_options(self.searcher, self.searcher_options or {})
        except UserError as exc:
            raise UserError(f"Study {self.name!r}: {exc}") from None

    def _check_constraints(self) -> None:
        from space import Constraint

        produced = _declared_metrics(self.evaluate)
        for constraint in self.constraints:
            if not isinstance(constraint, Constraint):
                raise UserError(
                    f"Study {self.name!r}: constraints must be space.Constraint objects, e.g. "
                    f'Constraint("latency_ms", "<=", 5, device="cpu"); got {constraint!r}.'
                )
            if constraint.device is not None:
                from evaluators import DEVICES
                from evaluators import device_metrics

                if constraint.device not in DEVICES:
                    raise UserError(
                        f"Study {self.name!r}: constraint on {constraint.metric!r} names the "
                        f"unknown device {constraint.device!r}. Must be one of {list(DEVICES)}."
                    )
                made = device_metrics(constraint.device)
                source = f"the {constraint.device!r} cost model"
            elif produced is not None:
                made = produced
                source = "evaluate"
            else:
                # A plain callable declares nothing; its metrics are checked when trials finish.
                continue
            if constraint.metric not in made:
                raise UserError(
                    f"Study {self.name!r}: constraint on {constraint.metric!r} can never be "
                    f"checked: {source} makes {sorted(made)}. Constrain one of those, or give "
                    "the constraint a device whose cost model makes it."
                )

    def _check_pruner(self) -> None:
        if self.pruner is None:
            if self.pruner_options:
                raise UserError(
                    f"Study {self.name!r}: pruner_options are given but pruner is None. Name "
                    "a pruner ('median' or 'halving') or drop the options."
                )
            return
        from nas._dispatch import accepts_report
        from nas._pruners import make_pruner

        make_pruner(self.pruner, self.objectives, self.pruner_options)
        if not accepts_report(self.evaluate):
            raise UserError(
                f"Study {self.name!r}: pruner {self.pruner!r} stops trials on the values "
                "evaluate reports, but evaluate takes no `report` argument. Give it one "
                "(def evaluate(arch, report=None) and call report(name, step, value)), use a "
                "built-in evaluator, or drop the pruner."
            )


    def _check_space(self) -> None:
        # Built-in evaluators say whether they can judge this space (a training task refuses
        # an input or class count other than its own), before any trial is spent.
        check = getattr(self.evaluate, "check_space", None)
        if not callable(check):
            return
        try:
            check(self.space)
        except ValueError as exc:
            raise UserError(f"Study {self.name!r}: {exc}") from exc


def _declared_metrics(evaluate: Any) -> tuple[str, ...] | None:
    """The metric names an evaluator declares, or None for one that declares none (a plain
    callable, or a ``BaseEvaluator`` keeping the empty default)."""
    return tuple(getattr(evaluate, "metrics", None) or ()) or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
