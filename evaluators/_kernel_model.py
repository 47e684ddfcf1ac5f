"""Per-op kernel latency from a device's profile records (docs/interfaces.md §3).

Each op gets a roofline-style additive model, t = t0 + Σ cᵢ·workᵢ (a fixed per-call overhead
plus time per MAC, per element moved, ...), fitted by non-negative least squares on relative
error. Near measured shapes, the model is corrected by the measured residuals, interpolated
in log-shape space (a Gaussian kernel one octave wide), so a measured shape predicts its
measurement and a shape far from every measurement falls back to the fitted model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import numpy as np

import space
from evaluators._errors import EvaluatorError

Shape = Mapping[str, Any]
# Octaves over which a measured residual fades; the quick grid spaces most axes 2–3 octaves apart.
_KERNEL_WIDTH = 1.0
# Weight of the fitted model against the measured residuals: tiny, so measured shapes reproduce.
_PRIOR_WEIGHT = 1e-3


def _span(s: Shape) -> float:
    n = s["s"]
    if s["kind"] == "window":
        w = s.get("window") or n
        return min(n, w + 1 if s["causal"] else 2 * w + 1)
    return (n + 1) / 2 if s["causal"] else n


def _attention(s: Shape) -> list[float]:
    bh, n, d = s["b"] * s["h"], s["s"], s["d"]
    if s["kind"] in ("linear", "scale"):
        return [2.0 * bh * n * d * d, bh * n * d, bh * d * d * (n if s["causal"] else 1)]
    span = _span(s)
    return [2.0 * bh * n * span * d, bh * n * span, bh * n * d]


def _elements(key: str) -> Callable[[Shape], list[float]]:
    return lambda s: [float(s[key])]


# Work features per op (the constant overhead is added by the fit). Units are raw counts.
FEATURES: dict[str, Callable[[Shape], list[float]]] = {
    "linear": lambda s: [s["m"] * s["k"] * s["n"], s["m"] * s["k"] + s["k"] * s["n"]
                         + s["m"] * s["n"]],
    "matmul": lambda s: [s["b"] * s["m"] * s["k"] * s["n"],
                         s["b"] * (s["m"] * s["k"] + s["k"] * s["n"] + s["m"] * s["n"]),
                         s["b"]],
    "embedding": lambda s: [s["tokens"] * s["width"], s["tokens"]],
    "softmax": lambda s: [s["rows"] * s["cols"], s["rows"]],
    "layernorm": lambda s: [s["rows"] * s["cols"], s["rows"]],
    "rmsnorm": lambda s: [s["rows"] * s["cols"], s["rows"]],
    "gelu": _elements("numel"),
    "relu": _elements("numel"),
    "quad": _elements("numel"),
    "silu": _elements("numel"),
    "mul": _elements("numel"),
    "add": _elements("numel"),
    "fft": lambda s: [s["b"] * s["seq"] * s["width"] * math.log2(max(2, s["seq"] * s["width"])),
                      s["b"] * s["seq"] * s["width"]],
    "dct": lambda s: [s["b"] * (s["seq"] ** 2 * s["width"] + s["seq"] * s["width"] ** 2),
                      s["b"] * s["seq"] * s["width"]],
    "conv1d": lambda s: [s["b"] * s["channels"] * s["seq"] * s["kernel"],
                         s["b"] * s["channels"] * s["seq"]],
    "pool": lambda s: [s["b"] * s["seq"] * s["width"] * s["kernel"],
                       s["b"] * s["seq"] * s["width"]],
    "cumsum": lambda s: [s["b"] * s["seq"] * s["width"], s["b"] * s["seq"]],
    # The reference scan steps through the sequence: a per-step overhead besides the work.
    "scan": lambda s: [s["b"] * s["seq"] * s["width"] * s["state"], s["seq"],
                       s["b"] * s["seq"] * s["width"]],
    "attention": _attention,
}


def output_numel(op: str, s: Shape) -> float:
    """Elements a call writes: the glue work (copies, reshapes) a model does around it scales
    with it."""
    return float(space.call_output_numel((op, s)))


def group_key(op: str, s: Shape) -> str:
    """Records sharing a model: attention splits by kind and causality."""
    if op == "attention":
        return f"attention:{s['kind']}:{bool(s['causal'])}"
    return op


def _log_shape(s: Shape, keys: list[str]) -> np.ndarray:
    return np.log2(np.maximum([float(s.get(k) or 1) for k in keys], 1.0))


class OpLatencyModel:
    """Latency of one op (or attention kind) from its profile records, in milliseconds."""

    def __init__(self, op: str, coef: list[float], keys: list[str],
                 points: list[list[float]], residuals: list[float]) -> None:
        self.op = op
        self.coef = coef
        self.keys = keys
        self.points = points
        self.residuals = residuals

    @classmethod
    def fit(cls, op: str, records: list[Mapping[str, Any]]) -> OpLatencyModel:
        shapes = [r["shape"] for r in records]
        y = np.array([float(r["median_ms"]) for r in records])
        x = np.array([[1.0, *FEATURES[op](s)] for s in shapes])
        # Relative error: divide each row by its target so small kernels count as much as big.
        scale = x.max(axis=0)
        scale[scale == 0] = 1.0
        # Imported on use: the Ray workers of a cost-model study load this package for every run,
        # and scipy would add half a second to each worker's start.
        from scipy.optimize import nnls

        coef, _ = nnls((x / scale) / y[:, None], np.ones_like(y))
        coef = coef / scale
        fitted = np.maximum(x @ coef, 1e-6)
        keys = sorted(k for k, v in shapes[0].items() if isinstance(v, int | float)
                      and not isinstance(v, bool))
        points = [_log_shape(s, keys).tolist() for s in shapes]
        residuals = np.log(y / fitted).tolist()
        return cls(op, coef.tolist(), keys, points, residuals)

    def predict(self, shape: Shape) -> float:
        base = max(float(np.dot(self.coef, [1.0, *FEATURES[self.op](shape)])), 1e-6)
        if not self.points:
            return base
        dist2 = ((np.asarray(self.points) - _log_shape(shape, self.keys)) ** 2).sum(axis=1)
        w = np.exp(-dist2 / (2 * _KERNEL_WIDTH**2))
        correction = float(w @ np.asarray(self.residuals)) / (float(w.sum()) + _PRIOR_WEIGHT)
        return base * math.exp(correction)

    def to_params(self) -> dict[str, Any]:
        return {"coef": self.coef, "keys": self.keys, "points": self.points,
                "residuals": self.residuals}

    @classmethod
    def from_params(cls, op: str, params: Mapping[str, Any]) -> OpLatencyModel:
        return cls(op, list(params["coef"]), list(params["keys"]),
                   [list(p) for p in params["points"]], list(params["residuals"]))


class KernelLatencyModel:
    """Milliseconds of any traced kernel call on one device, from that device's profiles."""

    def __init__(self, device: str, ops: Mapping[str, OpLatencyModel]) -> None:
        self.device = device
        self.ops = dict(ops)
        self._cache: dict[tuple, float] = {}

    @classmethod
    def fit(cls, device: str, records: Iterable[Mapping[str, Any]]) -> KernelLatencyModel:
        """Fit one model per op (attention per kind and causality) from profile records."""
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for r in records:
            if r["op"] in FEATURES and float(r["median_ms"]) > 0:
                groups.setdefault(group_key(r["op"], r["shape"]), []).append(r)
        if not groups:
            raise EvaluatorError(
                f"No usable kernel profiles for device {device!r}. "
                f"Run: nas profile --device {device}"
            )
        return cls(device, {k: OpLatencyModel.fit(rs[0]["op"], rs) for k, rs in groups.items()})

    def call_ms(self, op: str, shape: Shape) -> float:
        """Predicted milliseconds of one call; memoised, since architectures share shapes."""
        key = (op, *sorted(shape.items()))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        model = self.ops.get(group_key(op, shape))
        if model is None and op == "attention":
            # An unprofiled attention kind: price it as softmax attention of the same shape.
            model = self.ops.get(f"attention:softmax:{bool(shape['causal'])}")
        if model is None:
            model = self._stand_in(op, shape)
            ms = model(shape) if callable(model) else 0.0
        else:
            ms = model.predict(shape)
        self._cache[key] = ms
        return ms

    def _stand_in(self, op: str, shape: Shape):
        """An op the device was not profiled for costs what ``add`` costs on its output."""
        add = self.ops.get("add")
        if add is None:
            return None
        return lambda s: add.predict({"numel": max(1, int(output_numel(op, s)))})

    def to_params(self) -> dict[str, Any]:
        return {k: {"op": m.op, **m.to_params()} for k, m in self.ops.items()}

    @classmethod
    def from_params(cls, device: str, params: Mapping[str, Any]) -> KernelLatencyModel:
        return cls(device, {k: OpLatencyModel.from_params(v["op"], v) for k, v in params.items()})
