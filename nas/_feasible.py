"""Hard constraints that cost models decide before a trial is spent on an architecture."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any


def feasibility_check(constraints: Sequence[Any], storage: str) -> Callable[[Any], bool] | None:
    """``arch -> bool`` over the constraints that name a device, or None when none does.

    Each device's cost model runs once per architecture through ``evaluators.predict``, which
    reads the device's profiles and calibrated latency model from ``storage``.
    """
    by_device: dict[str, list[Any]] = {}
    for constraint in constraints:
        if constraint.device is not None:
            by_device.setdefault(constraint.device, []).append(constraint)
    if not by_device:
        return None
    from evaluators import predict

    def feasible(arch: Any) -> bool:
        for device, bounds in by_device.items():
            metrics = predict(arch, device=device, storage=storage)
            if not all(c.satisfied(metrics) for c in bounds):
                return False
        return True

    return feasible
