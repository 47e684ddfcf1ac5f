"""The evaluator interface (docs/interfaces.md §5) and its composition."""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

Report = Callable[[str, int, float], None]

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
    before any trial runs.
    """

    metrics: tuple[str, ...] = ()

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

    A metric produced by two evaluators keeps the later value, so put the authoritative one
    last (e.g. a measured ``latency_ms`` after a predicted one).
    """

    def __init__(self, *evaluators: Callable[..., Any]) -> None:
        self.evaluators = evaluators

    @property
    def metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        seen: dict[str, None] = {}
        for ev in self.evaluators:
            seen.update(dict.fromkeys(getattr(ev, "metrics", ())))
        return tuple(seen)

    def __call__(self, arch: Any, report: Report | None = None) -> dict[str, float]:
        out: dict[str, float] = {}
        for ev in self.evaluators:
            result = ev(arch, report) if isinstance(ev, BaseEvaluator) else ev(arch)
            out.update({k: float(v) for k, v in dict(result).items()})
        return out

    def evaluate_many(self, archs: Sequence[Any]) -> list[dict[str, float]]:
        outs: list[dict[str, float]] = [{} for _ in archs]
        for ev in self.evaluators:
            results = (ev.evaluate_many(archs) if isinstance(ev, BaseEvaluator)
                       else [ev(arch) for arch in archs])
            for out, result in zip(outs, results, strict=True):
                out.update({k: float(v) for k, v in dict(result).items()})
        return outs
