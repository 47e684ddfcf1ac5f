"""Evaluators that need no calibration: analytic counts, and latency measured on this host."""

from __future__ import annotations

from typing import Any

import torch

from evaluators._base import BaseEvaluator
from evaluators._base import Report
from evaluators._calibrate import measure_latency_ms
from evaluators._static import static_costs


class StaticCostEvaluator(BaseEvaluator):
    """``params``, ``macs`` and ``flops`` of one forward pass, from the analytic counts.

    Args:
        batch_size: inputs per forward pass (MACs and FLOPs scale with it).
    """

    metrics = ("params", "macs", "flops")

    def __init__(self, batch_size: int = 1) -> None:
        self.batch_size = batch_size

    def __call__(self, arch: Any, report: Report | None = None) -> dict[str, float]:
        return static_costs(arch, self.batch_size)


class MeasuredLatencyEvaluator(BaseEvaluator):
    """``latency_ms``: the forward time of the built model, measured in the worker.

    Use it where no calibrated latency model is stored yet; it costs a build and about twenty
    forward passes per trial. At one intra-op thread (the default, as ``nas profile``) the
    passes are timed in thread CPU time and reported by their minimum, so other work on the
    worker's machine barely moves it (``evaluators.measure_latency_stats``).

    Args:
        batch_size: inputs per forward pass.
        repeats: timed passes after warm-up.
        threads: torch intra-op threads while measuring (``None``: the worker's setting, timed
            in wall time).
    """

    metrics = ("latency_ms",)

    def __init__(self, batch_size: int = 1, repeats: int = 15, threads: int | None = 1) -> None:
        self.batch_size = batch_size
        self.repeats = repeats
        self.threads = threads

    def __call__(self, arch: Any, report: Report | None = None) -> dict[str, float]:
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads or before)
        try:
            ms = measure_latency_ms(arch, self.batch_size, repeats=self.repeats)
        finally:
            torch.set_num_threads(before)
        return {"latency_ms": ms}
