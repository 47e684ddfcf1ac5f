"""Host functions and the autograd Function of chunked linear attention."""

from __future__ import annotations

import torch

from kernels._triton import dot_precision
from kernels.linear.kernel import linear_attention_bwd_dkdv_kernel
from kernels.linear.kernel import linear_attention_bwd_dq_kernel
from kernels.linear.kernel import linear_attention_fwd_kernel
from kernels.linear.naive import FEATURE_MAPS
from kernels.linear.naive import LINEAR_EPS


def _meta(q: torch.Tensor, causal: bool, feature_map: str) -> dict:
    return dict(HEAD_DIM=q.shape[-1], CAUSAL=causal, FEATURE=FEATURE_MAPS.index(feature_map),
                PRECISION=dot_precision(q.dtype))


def linear_attention_fwd(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, feature_map: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """O and each row's denominator φ(q_i)·Σ_j φ(k_j) + ε."""
    b, h, n, _ = q.shape
    o = torch.empty_like(q)
    den = torch.empty(b, h, n, device=q.device, dtype=torch.float32)
    linear_attention_fwd_kernel[(b * h,)](
        q, k, v, o, den, LINEAR_EPS, n, **_meta(q, causal, feature_map)
    )
    return o, den


def linear_attention_bwd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    o: torch.Tensor,
    den: torch.Tensor,
    do: torch.Tensor,
    causal: bool,
    feature_map: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dq, dk, dv; Δ_i = dO_i·O_i carries the gradient of the normalising denominator."""
    b, h, n, _ = q.shape
    delta = (do.float() * o.float()).sum(-1)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    meta = _meta(q, causal, feature_map)
    linear_attention_bwd_dq_kernel[(b * h,)](q, k, v, do, den, delta, dq, n, **meta)
    linear_attention_bwd_dkdv_kernel[(b * h,)](q, k, v, do, den, delta, dk, dv, n, **meta)
    return dq, dk, dv


class LinearAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, feature_map):
        q, k, v = (t.contiguous() for t in (q, k, v))
        o, den = linear_attention_fwd(q, k, v, causal, feature_map)
        ctx.save_for_backward(q, k, v, o, den)
        ctx.causal, ctx.feature_map = causal, feature_map
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, den = ctx.saved_tensors
        dq, dk, dv = linear_attention_bwd(
            q, k, v, o, den, do.contiguous(), ctx.causal, ctx.feature_map
        )
        return dq, dk, dv, None, None


def linear_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
    feature_map: str = "elu",
) -> torch.Tensor:
    """Triton linear attention, φ = elu + 1 or ReLU; cost linear in the sequence length."""
    return LinearAttentionFunction.apply(q, k, v, causal, feature_map)
