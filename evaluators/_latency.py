"""End-to-end latency of an architecture: the sum of its kernel calls plus calibrated residuals.

``space`` traces the calls ``build(arch)`` makes (docs/interfaces.md §2); each call is priced by
the device's ``KernelLatencyModel``. What a kernel profile cannot see (Python and module
dispatch per call, the copies and reshapes between calls) is fitted on a few measured
end-to-end models as

    latency_ms = a·Σ kernel_ms + b·calls + c·Melements written + d + e·Mparams + f·GMACs,
    all >= 0.

Mparams is the weights read once per forward: profiled alone, an op finds its weights in a
cache that a whole model's weights outgrow. GMACs lets a runtime whose matrix products run at
another speed than the profiled ones (ONNX Runtime's, priced with the torch CPU profile) be
fitted; on the profiled runtime itself its weight comes out near 0.

Per-stage features (embedding, each layer, head) are cached under the stage's configuration, so
predicting many architectures from one space reuses nearly every stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np

import space
from evaluators._errors import EvaluatorError
from evaluators._kernel_model import KernelLatencyModel
from evaluators._kernel_model import output_numel

FEATURE_NAMES = ("kernel_ms", "calls", "melements", "constant", "mparams", "gmacs")
_N = len(FEATURE_NAMES)
# Stage vectors carry the static counts too, so a list of architectures is priced in one pass.
_PARAMS, _MACS = _N, _N + 1
# Before calibration: the plain sum of the kernel predictions.
IDENTITY = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def fast_dict(arch: Any) -> dict[str, Any]:
    """The architecture dict without a deep copy (``Architecture`` caches its JSON)."""
    if isinstance(arch, dict):
        return arch
    if hasattr(arch, "to_json"):
        return json.loads(arch.to_json())
    if isinstance(arch, Mapping):
        return dict(arch)
    raise EvaluatorError(
        f"An architecture must be a space.Architecture or a dict; got {type(arch).__name__}."
    )


def _stage_keys(a: Mapping[str, Any], batch: int) -> list[str]:
    """One key per stage of ``space.layer_costs``; equal keys trace to equal calls."""
    layers = a["layers"]
    common = repr((batch, a["input"], a.get("task"), a.get("pool"), a.get("causal")))
    keys = ["embed" + common + repr(layers[0]["width"])]
    for i, layer in enumerate(layers):
        nxt = layers[i + 1]["width"] if i + 1 < len(layers) else None
        keys.append("layer" + common + repr(layer) + repr(nxt))
    last = layers[-1]
    keys.append("head" + common + repr((last["width"], last["norm"], a.get("num_classes"))))
    return keys


class LatencyModel:
    """Predicted forward latency (ms) of transformer architectures on one device.

    Args:
        kernels: the device's per-op model.
        weights: residual weights over ``FEATURE_NAMES`` (``IDENTITY`` before calibration).
    """

    def __init__(self, kernels: KernelLatencyModel, weights: Sequence[float] = IDENTITY) -> None:
        self.kernels = kernels
        self.weights = tuple(float(w) for w in weights)
        self._stages: dict[str, np.ndarray] = {}

    @property
    def device(self) -> str:
        return self.kernels.device

    def _stage_vector(self, stage: Mapping[str, Any]) -> tuple[float, ...]:
        calls = stage["calls"]
        ms = sum(self.kernels.call_ms(op, s) for op, s in calls)
        elems = sum(output_numel(op, s) for op, s in calls) / 1e6
        params, macs = float(stage["params"]), float(stage["macs"])
        return (ms, float(len(calls)), elems, 0.0, params / 1e6, macs / 1e9, params, macs)

    def _row(self, arch: Any, batch_size: int) -> list[float]:
        a = fast_dict(arch)
        keys = _stage_keys(a, batch_size)
        stages = self._stages
        if any(k not in stages for k in keys):
            for key, stage in zip(keys, space.layer_costs(a, batch_size), strict=True):
                stages.setdefault(key, self._stage_vector(stage))
        row = [sum(col) for col in zip(*(stages[k] for k in keys), strict=True)]
        row[3] = 1.0
        return row

    def stage_matrix(self, archs: Sequence[Any], batch_size: int = 1) -> np.ndarray:
        """Per architecture: ``FEATURE_NAMES`` then params and MACs (shape ``(n, 8)``)."""
        return np.array([self._row(a, batch_size) for a in archs],
                        dtype=float).reshape(-1, _N + 2)

    def features(self, arch: Any, batch_size: int = 1) -> np.ndarray:
        """``FEATURE_NAMES`` of one forward pass (the constant column is 1)."""
        return np.array(self._row(arch, batch_size)[:_N])

    def predict(self, archs: Sequence[Any], batch_size: int = 1) -> np.ndarray:
        """Milliseconds per architecture (one matrix product over the cached stage features)."""
        return self.stage_matrix(archs, batch_size)[:, :_N] @ np.asarray(self.weights)

    def predict_all(self, archs: Sequence[Any], batch_size: int = 1) -> dict[str, np.ndarray]:
        """``latency_ms``, ``params`` and ``flops`` per architecture."""
        m = self.stage_matrix(archs, batch_size)
        return {"latency_ms": m[:, :_N] @ np.asarray(self.weights), "params": m[:, _PARAMS],
                "flops": 2 * m[:, _MACS]}

    def kernel_breakdown(self, arch: Any, batch_size: int = 1) -> dict[str, float]:
        """Predicted kernel milliseconds per op name, before residual terms."""
        out: dict[str, float] = {}
        for op, s in space.trace(fast_dict(arch), batch_size):
            out[op] = out.get(op, 0.0) + self.kernels.call_ms(op, s)
        return out

    def to_params(self) -> dict[str, Any]:
        return {
            "format": "hetnas.latency/1",
            "features": list(FEATURE_NAMES),
            "weights": list(self.weights),
            "ops": self.kernels.to_params(),
        }

    @classmethod
    def from_params(cls, device: str, params: Mapping[str, Any]) -> LatencyModel:
        if params.get("format") != "hetnas.latency/1":
            raise EvaluatorError(
                f"The stored latency model of {device!r} has format {params.get('format')!r}, "
                f"not 'hetnas.latency/1'. Recalibrate: nas calibrate --device {device}"
            )
        # A model stored before a feature existed did not use it: its weight is 0.
        stored = dict(zip(params.get("features", FEATURE_NAMES[:4]), params["weights"],
                          strict=True))
        weights = [float(stored.get(name, 0.0)) for name in FEATURE_NAMES]
        return cls(KernelLatencyModel.from_params(device, params["ops"]), weights)
