"""The evaluator interface (docs/interfaces.md §5) and its composition."""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from evaluators._errors import EvaluatorError

Report = Callable[[str, int, float], None]


class Metrics(dict):
    """An evaluator's metrics with the files it wrote for the trial (``artifacts``: dicts with
    ``path`` and ``sha256``); the runner records those in the ``artifacts`` table. A plain
    dict is a ``Metrics`` without files."""

    def __init__(self, metrics: Mapping[str, float] = (), artifacts: Sequence[Mapping] = ()):
        super().__init__(metrics)
        self.artifacts = [dict(a) for a in artifacts]


def artifacts_of(result: Any) -> list[dict[str, Any]]:
    """The files an evaluator's result carries (none for a plain dict)."""
    return list(getattr(result, "artifacts", ()))

#: Units of every metric a built-in evaluator produces.
METRIC_UNITS = {
    "latency_ms": "milliseconds per forward pass",
    "sram_kb": "peak SRAM, KiB",
    "flash_kb": "flash, KiB",
    "mcu_latency_ms": "estimated MCU milliseconds",
    "mpc_ms": "2PC online milliseconds",
    "mpc_mb": "megabytes one party sends (10^6 bytes)",
    "mpc_rounds": "communication rounds",
    "params": "count",
    "flops": "count, 2·MACs",
    "accuracy": "fraction correct, 0..1",
    "loss": "mean cross-entropy, nats",
    "perplexity": "exp(loss)",
    "train_s": "seconds of training",
}


class BaseEvaluator(ABC):
    """Maps an architecture to a dict of metrics with the units of ``METRIC_UNITS``.

    ``__call__`` runs once per trial, in the worker; ``report(name, step, value)``, when given,
    receives intermediate values (e.g. validation accuracy during training) so the runner can
    stop a trial early. ``evaluate_many`` runs instead for a batch of cheap trials (those that
    report nothing), which the runner packs into one worker task. ``metrics`` names what
    ``__call__`` returns, so a study can reject a constraint on a metric nothing produces
    before any trial runs. ``check_space`` runs once when a study is built, in the driver,
    to refuse a space this evaluator cannot judge before any trial is spent.
    """

    metrics: tuple[str, ...] = ()

    def check_space(self, space: Any) -> None:
        """Raise ``EvaluatorError`` if this evaluator cannot evaluate ``space``'s
        architectures (the default accepts every space)."""

    @abstractmethod
    def __call__(self, arch: Any, report: Report | None = None) -> dict[str, float]:
        """Evaluate one architecture."""

    def evaluate_many(self, archs: Sequence[Any]) -> list[dict[str, float]]:
        """Evaluate several architectures, in order; override where a list is priced faster
        than its items one by one. An exception fails the call as a whole: the runner then
        evaluates each architecture alone, so the error lands on the one that raised."""
        return [self(arch) for arch in archs]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(BaseEvaluator):
    """Runs evaluators in order on the same architecture and merges their dicts.

    Two evaluators that produce the same metric contradict each other (a measured
    ``latency_ms`` and a predicted one), so that is refused, when the evaluators are composed
    for those that declare ``metrics`` and at the first trial for plain callables, unless
    ``prefer`` names the one whose value is kept.

    Args:
        *evaluators: ``BaseEvaluator`` instances or plain callables ``arch -> dict``.
        prefer: metric name -> position (0, 1, ...) in ``evaluators`` of the evaluator whose
            value wins, e.g. ``Compose(MeasuredLatencyEvaluator(), CostEvaluator("cpu"),
            prefer={"latency_ms": 0})``.

    Raises:
        EvaluatorError: two declared evaluators make one metric that ``prefer`` does not
            settle, or ``prefer`` names a position or metric that does not fit.
    """

    def __init__(self, *evaluators: Callable[..., Any],
                 prefer: Mapping[str, int] | None = None) -> None:
        self.evaluators = evaluators
        self.prefer = dict(prefer or {})
        for metric, position in self.prefer.items():
            if not isinstance(position, int) or not 0 <= position < len(evaluators):
                raise EvaluatorError(
                    f"Compose: prefer[{metric!r}] must be the position of one of the "
                    f"{len(evaluators)} evaluators (0 to {len(evaluators) - 1}); got "
                    f"{position!r}."
                )
            made = getattr(evaluators[position], "metrics", None)
            if made and metric not in made:
                raise EvaluatorError(
                    f"Compose: prefer[{metric!r}] = {position} names "
                    f"{_name(evaluators[position])}, which makes {list(made)}, not {metric!r}. "
                    "Give the position of an evaluator that makes it."
                )
        makers: dict[str, int] = {}
        for i, ev in enumerate(evaluators):
            for metric in getattr(ev, "metrics", ()):
                if metric in makers and metric not in self.prefer:
                    raise self._conflict(metric, makers[metric], i)
                makers.setdefault(metric, i)

    def _conflict(self, metric: str, first: int, second: int) -> EvaluatorError:
        return EvaluatorError(
            f"Compose: evaluators {first} ({_name(self.evaluators[first])}) and {second} "
            f"({_name(self.evaluators[second])}) both produce {metric!r}, so one value would "
            f"silently replace the other. Say which to keep: prefer={{{metric!r}: {first}}} "
            f"(or {second}), or drop one of them."
        )

    @property
    def metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        seen: dict[str, None] = {}
        for ev in self.evaluators:
            seen.update(dict.fromkeys(getattr(ev, "metrics", ())))
        return tuple(seen)

    def check_space(self, space: Any) -> None:
        for ev in self.evaluators:
            check = getattr(ev, "check_space", None)
            if callable(check):
                check(space)

    def _merge(self, results: Sequence[Any]) -> dict[str, float]:
        out = Metrics(artifacts=[a for result in results for a in artifacts_of(result)])
        maker: dict[str, int] = {}
        for i, result in enumerate(results):
            for k, v in dict(result).items():
                if k in maker and k not in self.prefer:
                    raise self._conflict(k, maker[k], i)
                if k not in maker or self.prefer.get(k) == i:
                    out[k] = float(v)
                    maker[k] = i
        return out

    def __call__(self, arch: Any, report: Report | None = None) -> dict[str, float]:
        return self._merge([ev(arch, report) if isinstance(ev, BaseEvaluator) else ev(arch)
                            for ev in self.evaluators])

    def evaluate_many(self, archs: Sequence[Any]) -> list[dict[str, float]]:
        columns = [ev.evaluate_many(archs) if isinstance(ev, BaseEvaluator)
                   else [ev(arch) for arch in archs] for ev in self.evaluators]
        return [self._merge(results) for results in zip(*columns, strict=True)]


def _name(evaluator: Any) -> str:
    return repr(evaluator) if isinstance(evaluator, BaseEvaluator) else getattr(
        evaluator, "__name__", type(evaluator).__name__)
