"""Host functions and the autograd Function of (sliding-window) softmax attention."""

from __future__ import annotations

import math

import torch

from kernels._triton import cdiv
from kernels._triton import dot_precision
from kernels.softmax.kernel import LOG2E
from kernels.softmax.kernel import softmax_attention_bwd_dkdv_kernel
from kernels.softmax.kernel import softmax_attention_bwd_dq_kernel
from kernels.softmax.kernel import softmax_attention_fwd_kernel


def softmax_attention_fwd(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, window: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """O and the base-2 log-sum-exp per row, for contiguous (batch, heads, seq, d) inputs."""
    b, h, n, d = q.shape
    o = torch.empty_like(q)
    lse = torch.empty(b, h, n, device=q.device, dtype=torch.float32)
    sm_scale = 1.0 / math.sqrt(d)
    grid = lambda meta: (cdiv(n, meta["BLOCK_M"]), b * h)  # noqa: E731
    softmax_attention_fwd_kernel[grid](
        q, k, v, o, lse, sm_scale * LOG2E, n,
        HEAD_DIM=d, CAUSAL=causal, WINDOW=-1 if window is None else window,
        PRECISION=dot_precision(q.dtype),
    )
    return o, lse


def softmax_attention_bwd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    o: torch.Tensor,
    lse: torch.Tensor,
    do: torch.Tensor,
    causal: bool,
    window: int | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dq, dk, dv; Δ_i = dO_i·O_i is the softmax-Jacobian correction shared by both kernels."""
    b, h, n, d = q.shape
    delta = (do.float() * o.float()).sum(-1)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    sm_scale = 1.0 / math.sqrt(d)
    meta = dict(HEAD_DIM=d, CAUSAL=causal, WINDOW=-1 if window is None else window,
                PRECISION=dot_precision(q.dtype))
    softmax_attention_bwd_dkdv_kernel[lambda m: (cdiv(n, m["BLOCK_N"]), b * h)](
        q, k, v, do, lse, delta, dk, dv, sm_scale * LOG2E, sm_scale, n, **meta
    )
    softmax_attention_bwd_dq_kernel[lambda m: (cdiv(n, m["BLOCK_M"]), b * h)](
        q, k, v, do, lse, delta, dq, sm_scale * LOG2E, sm_scale, n, **meta
    )
    return dq, dk, dv


class SoftmaxAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, window):
        q, k, v = (t.contiguous() for t in (q, k, v))
        o, lse = softmax_attention_fwd(q, k, v, causal, window)
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.causal, ctx.window = causal, window
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = softmax_attention_bwd(
            q, k, v, o, lse, do.contiguous(), ctx.causal, ctx.window
        )
        return dq, dk, dv, None, None


def softmax_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
    window: int | None = None,
) -> torch.Tensor:
    """Triton softmax attention; ``window`` restricts keys to |i − j| ≤ window."""
    return SoftmaxAttentionFunction.apply(q, k, v, causal, window)
