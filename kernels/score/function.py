"""Host functions and the autograd Function of score-function attention (relu, quad, scale)."""

from __future__ import annotations

import math

import torch

from kernels._triton import cdiv
from kernels._triton import dot_precision
from kernels.score.kernel import score_attention_bwd_dkdv_kernel
from kernels.score.kernel import score_attention_bwd_dq_kernel
from kernels.score.kernel import score_attention_fwd_kernel
from kernels.score.naive import QUAD_SHIFT
from kernels.score.naive import ROWNORM_EPS
from kernels.score.naive import SCORE_KINDS


def _meta(q: torch.Tensor, causal: bool, score: str) -> dict:
    return dict(HEAD_DIM=q.shape[-1], CAUSAL=causal, SCORE=SCORE_KINDS.index(score),
                SHIFT=QUAD_SHIFT, PRECISION=dot_precision(q.dtype))


def score_attention_fwd(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, score: str, causal: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """O and each row's denominator (Σ_j f(s_ij) + ε, or L for ScaleAttn)."""
    b, h, n, d = q.shape
    o = torch.empty_like(q)
    den = torch.empty(b, h, n, device=q.device, dtype=torch.float32)
    score_attention_fwd_kernel[lambda m: (cdiv(n, m["BLOCK_M"]), b * h)](
        q, k, v, o, den, 1.0 / math.sqrt(d), ROWNORM_EPS, n, **_meta(q, causal, score)
    )
    return o, den


def score_attention_bwd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    o: torch.Tensor,
    den: torch.Tensor,
    do: torch.Tensor,
    score: str,
    causal: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dq, dk, dv. With A = f(S), ∂L/∂a_ij = (dO_i·v_j − Δ_i)/den_i, Δ_i = dO_i·O_i (0 for
    ScaleAttn, whose denominator does not depend on the scores)."""
    b, h, n, d = q.shape
    if score == "scale":
        delta = torch.zeros(b, h, n, device=q.device, dtype=torch.float32)
    else:
        delta = (do.float() * o.float()).sum(-1)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    sm_scale = 1.0 / math.sqrt(d)
    meta = _meta(q, causal, score)
    score_attention_bwd_dkdv_kernel[lambda m: (cdiv(n, m["BLOCK_N"]), b * h)](
        q, k, v, do, den, delta, dk, dv, sm_scale, n, **meta
    )
    score_attention_bwd_dq_kernel[lambda m: (cdiv(n, m["BLOCK_M"]), b * h)](
        q, k, v, do, den, delta, dq, sm_scale, n, **meta
    )
    return dq, dk, dv


class ScoreAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, score, causal):
        q, k, v = (t.contiguous() for t in (q, k, v))
        o, den = score_attention_fwd(q, k, v, score, causal)
        ctx.save_for_backward(q, k, v, o, den)
        ctx.score, ctx.causal = score, causal
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, den = ctx.saved_tensors
        dq, dk, dv = score_attention_bwd(q, k, v, o, den, do.contiguous(), ctx.score, ctx.causal)
        return dq, dk, dv, None, None


def score_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, score: str, causal: bool = False
) -> torch.Tensor:
    """Triton ReLU-softmax / 2Quad / ScaleAttn (``score`` in ``SCORE_KINDS``)."""
    return ScoreAttentionFunction.apply(q, k, v, score, causal)
