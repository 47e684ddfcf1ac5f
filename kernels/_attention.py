"""``kernels.attention``: validate once, pick a backend, run it."""

from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F

from kernels._errors import KernelError
from kernels._errors import KernelUnavailableError
from kernels._triton import interpret_mode
from kernels._triton import log_once
from kernels._triton import triton_unsupported
from kernels.linear.naive import FEATURE_MAPS
from kernels.linear.naive import chunk_linear_attention
from kernels.score.naive import naive_score_attention
from kernels.score.naive import scale_attention_reassociated
from kernels.window.naive import window_mask

ATTENTION_KINDS = ("softmax", "linear", "relu", "quad", "scale", "window")
BACKENDS = ("torch", "triton")


def attention_backend(q: torch.Tensor, kind: str = "softmax") -> str:
    """The backend ``attention`` runs for a query like ``q``: ``"triton"`` or ``"torch"``.

    CUDA tensors and, under ``TRITON_INTERPRET=1``, CPU tensors take the Triton kernels unless
    the shape or dtype is one they do not compile for (then ``"torch"``, logged once).
    """
    _check_kind(kind)
    if not (q.is_cuda or interpret_mode()):
        return "torch"
    reason = triton_unsupported(q)
    if reason is None:
        return "triton"
    log_once(f"kernels.attention(kind={kind!r}) falls back to torch: {reason}")
    return "torch"


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kind: str = "softmax",
    causal: bool = False,
    window: int | None = None,
    *,
    feature_map: str = "elu",
    backend: str | None = None,
) -> torch.Tensor:
    """Multi-head attention of one of six kinds; formulas in ``kernels/<op>/README.md``.

    Args:
        q, k, v: (batch, heads, seq, head_dim), one device and dtype.
        kind: ``softmax``; ``linear`` (φ(Q)(φ(K)ᵀV) normalised); ``relu`` (ReLU-softmax,
            rownorm ε = 1e-5); ``quad`` (2Quad, rownorm((S + 5)²)); ``scale`` (ScaleAttn, S/L,
            L = seq also when causal); ``window`` (softmax over |i − j| ≤ window).
        causal: position i sees j ≤ i only.
        window: neighbours on each side, required for (and only for) ``kind="window"``.
        feature_map: φ of linear attention, ``elu`` (elu + 1) or ``relu``.
        backend: force ``"torch"`` or ``"triton"``; default ``attention_backend(q, kind)``.

    Returns:
        (batch, heads, seq, head_dim), differentiable in q, k, v.

    Raises:
        KernelError: an invalid argument (a ValueError).
        KernelUnavailableError: ``backend="triton"`` where Triton cannot run.
    """
    _validate(q, k, v, kind, window, feature_map)
    if backend is None:
        backend = attention_backend(q, kind)
    elif backend not in BACKENDS:
        raise KernelError(f"Unknown backend {backend!r}. Must be one of {list(BACKENDS)}.")
    elif backend == "triton":
        reason = triton_unsupported(q)
        if not (q.is_cuda or interpret_mode()):
            reason = "CPU tensors need TRITON_INTERPRET=1 (set before triton is imported)"
        if reason is not None:
            raise KernelUnavailableError(f"backend='triton' cannot run: {reason}.")
    if backend == "triton":
        return _triton_attention(q, k, v, kind, causal, window, feature_map)
    return _torch_attention(q, k, v, kind, causal, window, feature_map)


def _torch_attention(q, k, v, kind, causal, window, feature_map):
    if kind == "softmax":
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    if kind == "window":
        mask = window_mask(q.shape[-2], window, causal, q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if kind == "linear":
        return chunk_linear_attention(q, k, v, causal, feature_map)
    if kind == "scale" and not causal:
        return scale_attention_reassociated(q, k, v)
    return naive_score_attention(q, k, v, kind, causal)


def _triton_attention(q, k, v, kind, causal, window, feature_map):
    # Imported here: importing Triton is slow and must follow any TRITON_INTERPRET setting.
    if kind in ("softmax", "window"):
        mod = importlib.import_module("kernels.softmax.function")
        return mod.softmax_attention(q, k, v, causal, window if kind == "window" else None)
    if kind == "linear":
        mod = importlib.import_module("kernels.linear.function")
        return mod.linear_attention(q, k, v, causal, feature_map)
    mod = importlib.import_module("kernels.score.function")
    return mod.score_attention(q, k, v, kind, causal)


def _check_kind(kind: str) -> None:
    if kind not in ATTENTION_KINDS:
        raise KernelError(
            f"Unknown attention kind {kind!r}. Must be one of {list(ATTENTION_KINDS)}."
        )


def _validate(q, k, v, kind, window, feature_map) -> None:
    _check_kind(kind)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise KernelError(
                f"{name} must be a 4-D tensor (batch, heads, seq, head_dim); got {got}. "
                "Reshape (batch, seq, heads·head_dim) inputs with "
                ".view(b, s, h, d).transpose(1, 2)."
            )
        if not t.is_floating_point():
            raise KernelError(f"{name} must be a floating-point tensor; got dtype {t.dtype}.")
    if not (q.shape == k.shape == v.shape):
        raise KernelError(
            "q, k and v must have the same shape (batch, heads, seq, head_dim); got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}."
        )
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise KernelError(
            "q, k and v must share one dtype and device; got "
            f"{q.dtype}/{q.device}, {k.dtype}/{k.device}, {v.dtype}/{v.device}. Cast with .to()."
        )
    if kind == "window":
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise KernelError(
                "kind='window' needs window, an int >= 0 (neighbours on each side); "
                f"got {window!r}."
            )
    elif window is not None:
        raise KernelError(
            f"window applies to kind='window' only; got window={window!r} with kind={kind!r}. "
            "Drop window or use kind='window'."
        )
    if feature_map not in FEATURE_MAPS:
        raise KernelError(
            f"Unknown feature_map {feature_map!r}. Must be one of {list(FEATURE_MAPS)}."
        )
