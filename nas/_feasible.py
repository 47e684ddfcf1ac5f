"""Hard constraints that cost models decide before a trial is spent on an architecture."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class Feasibility:
    """``arch -> bool`` over the constraints that name a device, keeping what it saw.

    Each device's cost model runs once per architecture through ``evaluators.predict``, which
    reads the device's profiles and calibrated latency model from ``storage``. The closest value
    seen per constraint lets a run that found nothing feasible say how far off the space is.
    """

    def __init__(self, by_device: dict[str, list[Any]], storage: str) -> None:
        self.by_device = by_device
        self.storage = storage
        self.checked = 0
        self.rejected = 0
        self.closest: dict[Any, float] = {}

    def __call__(self, arch: Any) -> bool:
        from evaluators import predict

        self.checked += 1
        ok = True
        for device, bounds in self.by_device.items():
            metrics = predict(arch, device=device, storage=self.storage)
            for c in bounds:
                value = metrics.get(c.metric)
                if value is not None and math.isfinite(value):
                    seen = self.closest.get(c)
                    lower_is_closer = c.op in ("<", "<=")
                    if seen is None or (value < seen if lower_is_closer else value > seen):
                        self.closest[c] = value
                ok = ok and c.satisfied(metrics)
        self.rejected += not ok
        return ok

    def summary(self) -> str | None:
        """One sentence on the constraints no candidate met, or None if some candidate did."""
        if not self.checked or self.rejected < self.checked:
            return None
        broken = [f"{c.metric} {c.op} {c.bound:g} on {c.device} (closest seen {v:.4g})"
                  for c, v in self.closest.items() if not c.satisfied({c.metric: v})]
        what = "; ".join(broken) or "the device constraints"
        return f"all {self.checked} candidates checked broke {what}"


def feasibility_check(constraints: Sequence[Any], storage: str) -> Feasibility | None:
    """A :class:`Feasibility` over the constraints that name a device, or None when none does."""
    by_device: dict[str, list[Any]] = {}
    for constraint in constraints:
        if constraint.device is not None:
            by_device.setdefault(constraint.device, []).append(constraint)
    if not by_device:
        return None
    return Feasibility(by_device, storage)
