"""``evaluators.predict``: the cost of architectures on a named device (../shared/contract.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import space
from evaluators._base import BaseEvaluator
from evaluators._base import Report
from evaluators._errors import EvaluatorError
from evaluators._errors import NotCalibratedError
from evaluators._latency import LatencyModel
from evaluators._mcu import MCU_BOARDS
from evaluators._mcu import MCUMemoryModel
from evaluators._mpc import MPC_NETWORKS
from evaluators._mpc import MPCCostModel
from evaluators._onnxruntime import ORT_DEVICE
from evaluators._onnxruntime import PROFILE_DEVICE

LATENCY_DEVICES = ("cpu", "cuda", ORT_DEVICE)
DEVICES = (*LATENCY_DEVICES, *MCU_BOARDS, *MPC_NETWORKS)
DEFAULT_STORAGE = "sqlite:///studies.db"

# Loaded latency models by (storage URL, device, version): reloading refits nothing, and the
# stage cache inside a model survives between calls.
_MODELS: dict[tuple[str, str, int], LatencyModel] = {}


def device_metrics(device: str) -> tuple[str, ...]:
    """The metric names ``predict`` returns for ``device``.

    Each name has one meaning whatever the evaluator: ``latency_ms`` is latency measured or
    calibrated on the target (cpu, cuda), ``mcu_latency_ms`` the MACs-based estimate for a
    board, ``mpc_ms`` the two-party inference time. So composing a measured latency with a
    board's or a protocol's costs never overwrites one with another.
    """
    if device in MCU_BOARDS:
        return ("mcu_latency_ms", "params", "flops", "sram_kb", "flash_kb")
    if device in MPC_NETWORKS:
        return ("params", "flops", "mpc_ms", "mpc_rounds", "mpc_mb")
    return ("latency_ms", "params", "flops")


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise EvaluatorError(f"Unknown device {device!r}. Must be one of {list(DEVICES)}.")


def load_latency_model(device: str, storage_url: str) -> LatencyModel:
    """The device's newest calibrated latency model from storage.

    Raises:
        NotCalibratedError: none is stored (the message names the commands that make one).
    """
    # Imported on use: the Ray workers of a cost-model study load this package for every run,
    # and SQLAlchemy would add half a second to each worker's start.
    import storage as storage_pkg

    with storage_pkg.connect(storage_url) as db:
        stored = db.latency_model(device)
        if stored is None:
            profiled = PROFILE_DEVICE.get(device, device)
            has_profiles = bool(db.profiles(profiled))
    if stored is None:
        first = "" if has_profiles else f"nas profile --device {profiled}, then "
        raise NotCalibratedError(
            f"No calibrated latency model for device {device!r} in {storage_url}. "
            f"Run: {first}nas calibrate --device {device} (add --storage {storage_url})"
        )
    key = (storage_url, device, int(stored["version"]))
    if key not in _MODELS:
        _MODELS[key] = LatencyModel.from_params(device, stored["params"])
    return _MODELS[key]


def predict(
    arch: Any,
    device: str = "cpu",
    storage: str | None = None,
    batch_size: int = 1,
) -> dict[str, float] | list[dict[str, float]]:
    """Predicted cost of an architecture (or a list of them) on ``device``.

    Args:
        arch: an ``Architecture``, an architecture dict, or a list/tuple of either.
        device: ``cpu``, ``cuda`` or ``onnxruntime-cpu`` (``latency_ms`` from the calibrated
            latency model in ``storage``; the last is the model exported to ONNX and run by
            ONNX Runtime on one CPU thread), a board ``stm32f427``/``stm32f746``/``stm32h743``
            (``sram_kb``, ``flash_kb`` and ``mcu_latency_ms``, an estimate from MACs) or
            an MPC network of ``MPC_NETWORKS`` (``mpc-lan``/``mpc-wan``, fitted to published
            times, or ``mpc-crypten-lan``/``-wan``, to CrypTen measured on emulated links:
            ``mpc_ms``, the secure inference time, ``mpc_rounds``,
            ``mpc_mb``). Every device gives ``params`` and ``flops``, and ``latency_ms``: the
            device's own latency (the board's estimate, the secure inference time), as the
            public contract promises. ``CostEvaluator`` leaves that alias out, so a study's
            ``latency_ms`` only ever means measured or calibrated latency.
        storage: database URL (default ``$NAS_STORAGE``, else ``sqlite:///studies.db``); only
            ``cpu`` and ``cuda`` read it.
        batch_size: inputs per forward pass (MCU boards run batch 1).

    Returns:
        One dict of metrics (units in ``evaluators.METRIC_UNITS``), or a list for a list.

    Raises:
        NotCalibratedError: ``cpu``/``cuda`` without a calibrated model in ``storage``.
        EvaluatorError: an unknown device.
    """
    _check_device(device)
    single = not isinstance(arch, list | tuple)
    archs: Sequence[Any] = [arch] if single else arch
    if device in LATENCY_DEVICES:
        url = storage or os.environ.get("NAS_STORAGE") or DEFAULT_STORAGE
        cols = load_latency_model(device, url).predict_all(archs, batch_size)
        out = [{k: float(v[i]) for k, v in cols.items()} for i in range(len(archs))]
    else:
        out = [_with_latency(_device_costs(a, device, batch_size)) for a in archs]
    return out[0] if single else out


def _with_latency(costs: dict[str, float]) -> dict[str, float]:
    return {**costs, "latency_ms": costs.get("mcu_latency_ms", costs.get("mpc_ms"))}


def _device_costs(arch: Any, device: str, batch_size: int) -> dict[str, float]:
    # One plain copy shared by every count below; each would otherwise copy it again.
    arch = arch.to_dict() if isinstance(arch, space.Architecture) else arch
    macs = space.count_macs(arch, batch_size)
    flops = float(2 * macs)
    if device in MCU_BOARDS:
        # The memory model counts the parameters for flash anyway.
        model = MCUMemoryModel(device)
        mcu = model.costs(arch, macs) if batch_size == 1 else model(arch)
        return {"mcu_latency_ms": mcu["mcu_latency_ms"], "params": mcu["params"],
                "flops": flops, "sram_kb": mcu["sram_kb"], "flash_kb": mcu["flash_kb"]}
    mpc = MPCCostModel(device, batch_size)(arch)
    return {"params": float(space.count_params(arch)), "flops": flops, **mpc}


class CostEvaluator(BaseEvaluator):
    """``predict`` as an evaluator: the cost of each trial's architecture on one device.

    Args:
        device: any of ``DEVICES``.
        storage: database URL for ``cpu``/``cuda`` (see ``predict``).
        batch_size: inputs per forward pass.
    """

    def __init__(self, device: str = "cpu", storage: str | None = None,
                 batch_size: int = 1) -> None:
        self.device = device
        self.storage = storage
        self.batch_size = batch_size

    @property
    def metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        return device_metrics(self.device)

    def __call__(self, arch: Any, report: Report | None = None) -> dict[str, float]:
        return self.evaluate_many([arch])[0]

    def evaluate_many(self, archs: Sequence[Any]) -> list[dict[str, float]]:
        # One vectorised pass: the cpu/cuda latency model prices a list in one matrix product.
        names = self.metrics
        rows = predict(list(archs), self.device, self.storage, self.batch_size)
        return [{k: row[k] for k in names} for row in rows]  # type: ignore[index]


