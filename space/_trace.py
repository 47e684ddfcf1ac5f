"""``trace``: the kernel calls (docs/interfaces.md §2) one forward pass of ``build(arch)`` makes.

The calls mirror ``space._model`` line by line; each mixer lists its own calls (``trace``
classmethod beside its ``forward``). Work folded into a listed call is not listed again:
everything inside ``kernels.attention``, the SSM's discretisation (in ``scan``), the pool's
count normalisation, mask fills, slicing and the classifier's pooling.
"""

from __future__ import annotations

from typing import Any

from space._model import as_dict
from space._model import class_token
from space._model import ffn_linears
from space._model import layer_context
from space._model import sequence_length
from space.mixers import Call
from space.mixers import mixer_info
from space.mixers._base import linear_trace


def embed_trace(a: dict[str, Any], batch: int) -> list[Call]:
    """Token lookup or patch projection, then the position add.

    A stride-p p×p convolution over the image is the GEMM of the flattened patches with the
    kernel, so it is listed as that ``linear``.
    """
    inp, d, n = a["input"], a["layers"][0]["width"], sequence_length(a)
    if inp["type"] == "tokens":
        first: Call = ("embedding", {"tokens": batch * n, "width": d})
    else:
        patches = n - class_token(a)
        first = (
            "linear",
            {"m": batch * patches, "k": inp["channels"] * inp["patch"] ** 2, "n": d},
        )
    return [first, ("add", {"numel": batch * n * d})]


def _activation_trace(kind: str, numel: int) -> list[Call]:
    if kind == "swiglu":
        return [("silu", {"numel": numel}), ("mul", {"numel": numel})]
    return [(kind, {"numel": numel})]


def layer_trace(a: dict[str, Any], i: int, batch: int) -> list[Call]:
    """Layer i: norm, mixer, residual add, then norm, FFN stack, add; then the width projection."""
    layer, ctx = a["layers"][i], layer_context(a, i)
    m, d = batch * ctx.seq_len, layer["width"]
    norm: Call = (layer["norm"], {"rows": m, "cols": d})
    add: Call = ("add", {"numel": m * d})
    mixer = layer["mixer"]
    calls = [norm, *mixer_info(mixer["type"]).module.trace(mixer, ctx, batch), add]
    if layer["ffn"]:
        calls.append(norm)
        linears = ffn_linears(layer)
        for j, (d_in, d_out, rank) in enumerate(linears):
            calls += linear_trace(m, d_in, d_out, rank)
            if j < len(linears) - 1:
                calls += _activation_trace(layer["activation"], m * layer["ffn"][j])
        calls.append(add)
    if i + 1 < len(a["layers"]) and a["layers"][i + 1]["width"] != d:
        calls += linear_trace(m, d, a["layers"][i + 1]["width"])
    return calls


def head_trace(a: dict[str, Any], batch: int) -> list[Call]:
    """Final norm and the output linear (per position for lm, per pooled sequence otherwise)."""
    last, n = a["layers"][-1], sequence_length(a)
    calls: list[Call] = [(last["norm"], {"rows": batch * n, "cols": last["width"]})]
    if a["task"] == "lm":
        return calls + linear_trace(batch * n, last["width"], a["input"]["vocab"])
    return calls + linear_trace(batch, last["width"], a["num_classes"])


def trace(arch: Any, batch_size: int = 1) -> list[Call]:
    """The ordered kernel calls of one forward pass on ``batch_size`` inputs.

    Args:
        arch: an ``Architecture`` or a transformer architecture dict.
        batch_size: B of the input.

    Returns:
        ``[(op, shape), ...]`` in the vocabulary of docs/interfaces.md §2.
    """
    a = as_dict(arch)
    calls = embed_trace(a, batch_size)
    for i in range(len(a["layers"])):
        calls += layer_trace(a, i, batch_size)
    return calls + head_trace(a, batch_size)
