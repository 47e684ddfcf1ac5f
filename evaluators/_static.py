"""Static costs of an architecture without building it: parameters, MACs, FLOPs and per-stage
weight and activation bytes, from the analytic counts in ``space`` (never re-derived here)."""

from __future__ import annotations

from typing import Any

import space


def static_costs(arch: Any, batch_size: int = 1) -> dict[str, float]:
    """``params`` (count), ``macs`` and ``flops`` (= 2·MACs) of one forward pass."""
    macs = space.count_macs(arch, batch_size)
    return {"params": float(space.count_params(arch)), "macs": float(macs),
            "flops": float(2 * macs)}


def layer_costs(arch: Any, batch_size: int = 1, *, dtype_bytes: int = 4) -> list[dict[str, Any]]:
    """Per stage (``embed``, ``layers[i]``, ``head``): ``params``, ``macs``, ``weight_bytes``,
    ``activation_bytes`` (the output handed to the next stage) and ``peak_tensor_bytes`` (the
    largest tensor one of its calls writes), at ``dtype_bytes`` per element."""
    # space reports float32 bytes.
    scale = dtype_bytes / 4
    return [
        {
            "name": st["name"],
            "params": st["params"],
            "macs": st["macs"],
            "weight_bytes": st["params"] * dtype_bytes,
            "activation_bytes": st["out_bytes"] * scale,
            "peak_tensor_bytes": st["peak_bytes"] * scale,
        }
        for st in space.layer_costs(arch, batch_size)
    ]
