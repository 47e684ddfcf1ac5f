"""Analytic counts: parameters, multiply-accumulates and per-layer costs, without building.

``count_params(arch)`` equals ``sum(p.numel() for p in build(arch).parameters())``; MACs are
summed over ``trace(arch)`` with one formula per op (``call_macs``), so the two never disagree.
"""

from __future__ import annotations

import math
from typing import Any

from space._model import as_dict
from space._model import class_token
from space._model import ffn_linears
from space._model import layer_context
from space._model import norm_params
from space._model import sequence_length
from space._trace import embed_trace
from space._trace import head_trace
from space._trace import layer_trace
from space._trace import trace
from space.mixers import Call
from space.mixers import mixer_info
from space.mixers._base import linear_params

#: Bytes per activation element (float32).
BYTES = 4


def embed_params(a: dict[str, Any]) -> int:
    """Token table or patch convolution, class token, positions."""
    inp, d, n = a["input"], a["layers"][0]["width"], sequence_length(a)
    if inp["type"] == "tokens":
        return inp["vocab"] * d + n * d
    conv = inp["channels"] * inp["patch"] ** 2 * d + d
    return conv + class_token(a) * d + n * d


def layer_params(a: dict[str, Any], i: int) -> int:
    """Layer i: norms, mixer, FFN stack and the projection to the next layer's width."""
    layer, ctx = a["layers"][i], layer_context(a, i)
    d, mixer = layer["width"], layer["mixer"]
    mixer_params = mixer_info(mixer["type"]).module.count_params(mixer, ctx)
    total = norm_params(layer["norm"], d) + mixer_params
    if layer["ffn"]:
        total += norm_params(layer["norm"], d)
        total += sum(linear_params(d_in, d_out, rank) for d_in, d_out, rank in ffn_linears(layer))
    if i + 1 < len(a["layers"]) and a["layers"][i + 1]["width"] != d:
        total += linear_params(d, a["layers"][i + 1]["width"])
    return total


def head_params(a: dict[str, Any]) -> int:
    """Final norm and output linear."""
    last = a["layers"][-1]
    out = a["input"]["vocab"] if a["task"] == "lm" else a["num_classes"]
    return norm_params(last["norm"], last["width"]) + linear_params(last["width"], out)


def count_params(arch: Any) -> int:
    """Exact parameter count of ``build(arch)``.

    Args:
        arch: an ``Architecture`` or a transformer architecture dict.
    """
    a = as_dict(arch)
    return (
        embed_params(a) + sum(layer_params(a, i) for i in range(len(a["layers"]))) + head_params(a)
    )


def _attention_macs(s: dict[str, Any]) -> int:
    b, h, n, d = s["b"], s["h"], s["s"], s["d"]
    if s["kind"] in ("linear", "scale"):
        # Reassociated φ(Q)(φ(K)ᵀV): two d×d products per position, no L×L scores.
        return 2 * b * h * n * d * d
    if s["kind"] == "window":
        keys = min(n, s["window"] + 1 if s["causal"] else 2 * s["window"] + 1)
        return 2 * b * h * n * keys * d
    # QKᵀ and AV over the keys each query sees: all L, or (L + 1)/2 on average when causal.
    pairs = n * (n + 1) // 2 if s["causal"] else n * n
    return 2 * b * h * pairs * d


def call_macs(call: Call) -> int:
    """Multiply-accumulates of one trace call.

    linear m·k·n; matmul b·m·k·n; attention as ``_attention_macs``; conv1d b·c·L·k; pool
    b·L·d·k (additions); scan 2·b·L·d·N; dct b·(L²d + Ld²) (two matrix products); fft
    b·L·d·⌈log₂(L·d)⌉ (radix-2 butterflies). Norms, softmax, activations, embedding lookups
    and elementwise ops count 0.
    """
    op, s = call
    if op == "linear":
        return s["m"] * s["k"] * s["n"]
    if op == "matmul":
        return s["b"] * s["m"] * s["k"] * s["n"]
    if op == "attention":
        return _attention_macs(s)
    if op == "conv1d":
        return s["b"] * s["channels"] * s["seq"] * s["kernel"]
    if op == "pool":
        return s["b"] * s["seq"] * s["width"] * s["kernel"]
    if op == "scan":
        return 2 * s["b"] * s["seq"] * s["width"] * s["state"]
    if op == "dct":
        return s["b"] * (s["seq"] ** 2 * s["width"] + s["seq"] * s["width"] ** 2)
    if op == "fft":
        n = s["seq"] * s["width"]
        return s["b"] * n * max(1, math.ceil(math.log2(n)))
    return 0


def macs_by_op(arch: Any, batch_size: int = 1) -> dict[str, int]:
    """MACs of one forward pass summed per op name (e.g. ``{"linear": …, "attention": …}``)."""
    totals: dict[str, int] = {}
    for call in trace(arch, batch_size):
        totals[call[0]] = totals.get(call[0], 0) + call_macs(call)
    return totals


def count_macs(arch: Any, batch_size: int = 1) -> int:
    """Multiply-accumulates of one forward pass on ``batch_size`` inputs (FLOPs ≈ 2·MACs)."""
    return sum(macs_by_op(arch, batch_size).values())


def call_output_numel(call: Call) -> int:
    """Elements the call writes (its output tensor)."""
    op, s = call
    if op == "linear":
        return s["m"] * s["n"]
    if op == "matmul":
        return s["b"] * s["m"] * s["n"]
    if op == "attention":
        return s["b"] * s["h"] * s["s"] * s["d"]
    if op == "embedding":
        return s["tokens"] * s["width"]
    if op in ("softmax", "layernorm", "rmsnorm"):
        return s["rows"] * s["cols"]
    if op == "conv1d":
        return s["b"] * s["channels"] * s["seq"]
    if op in ("fft", "dct", "pool", "scan", "cumsum"):
        return s["b"] * s["seq"] * s["width"]
    return s["numel"]


def layer_costs(arch: Any, batch_size: int = 1) -> list[dict[str, Any]]:
    """Per-stage costs, in execution order: ``embed``, ``layers[0]``, …, ``head``.

    Each entry: ``name``; ``params``; ``macs``; ``seq_len``; ``width_in`` and ``width_out``;
    ``out_bytes`` (float32 output of the stage, the activation handed to the next one);
    ``peak_bytes`` (largest single tensor a call of the stage writes, float32); ``calls`` (the
    stage's slice of ``trace``). MCU and MPC cost models read these instead of re-deriving shapes.
    """
    a = as_dict(arch)
    n, layers = sequence_length(a), a["layers"]
    widths = [layer["width"] for layer in layers]
    out_rows = batch_size * n if a["task"] == "lm" else batch_size
    out_width = a["input"]["vocab"] if a["task"] == "lm" else a["num_classes"]
    stages = [
        (
            "embed",
            embed_params(a),
            embed_trace(a, batch_size),
            widths[0],
            widths[0],
            batch_size * n * widths[0],
        )
    ]
    for i, layer in enumerate(layers):
        nxt = widths[i + 1] if i + 1 < len(layers) else layer["width"]
        stages.append(
            (
                f"layers[{i}]",
                layer_params(a, i),
                layer_trace(a, i, batch_size),
                layer["width"],
                nxt,
                batch_size * n * nxt,
            )
        )
    stages.append(
        (
            "head",
            head_params(a),
            head_trace(a, batch_size),
            widths[-1],
            out_width,
            out_rows * out_width,
        )
    )
    return [
        {
            "name": name,
            "params": params,
            "macs": sum(call_macs(c) for c in calls),
            "seq_len": n,
            "width_in": w_in,
            "width_out": w_out,
            "out_bytes": BYTES * out_numel,
            "peak_bytes": BYTES * max(call_output_numel(c) for c in calls),
            "calls": calls,
        }
        for name, params, calls, w_in, w_out, out_numel in stages
    ]
