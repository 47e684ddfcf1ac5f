"""Triton kernels of score-function attention: O = f(S)·V / den, S = QKᵀ/√d.

SCORE selects f: 0 ReLU-softmax (f = ReLU, den = Σ_j f + ε), 1 2Quad (f = (S + c)²,
den = Σ_j f + ε), 2 ScaleAttn (f = S, den = L). No running maximum is needed, so the forward
accumulates the numerator and the row sum in one pass and divides once at the end.
"""

from __future__ import annotations

import triton
import triton.language as tl

from kernels._autotune import prune_tiles
from kernels._autotune import tile_configs
from kernels.common.masks import key_range
from kernels.common.masks import query_range
from kernels.common.masks import visible


@triton.jit
def _score(s, SCORE: tl.constexpr, SHIFT: tl.constexpr):
    if SCORE == 0:
        return tl.maximum(s, 0.0)
    elif SCORE == 1:
        return (s + SHIFT) * (s + SHIFT)
    else:
        return s


@triton.jit
def _score_grad(s, SCORE: tl.constexpr, SHIFT: tl.constexpr):
    if SCORE == 0:
        return tl.where(s > 0, 1.0, 0.0)
    elif SCORE == 1:
        return 2.0 * (s + SHIFT)
    else:
        return tl.full(s.shape, 1.0, tl.float32)


@triton.autotune(
    configs=tile_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "SCORE"],
    prune_configs_by={"early_config_prune": prune_tiles},
)
@triton.jit
def score_attention_fwd_kernel(
    Q, K, V, O, DEN, sm_scale, eps, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, SCORE: tl.constexpr, SHIFT: tl.constexpr,
    PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    row = offs_m < N
    q = tl.load(Q + base + offs_m[:, None] * HEAD_DIM + offs_d[None, :], mask=row[:, None])
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    total = tl.zeros([BLOCK_M], tl.float32)
    lo, hi = key_range(start_m, N, BLOCK_M, CAUSAL, -1)
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kv_ptrs = base + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
        k = tl.load(K + kv_ptrs, mask=offs_n[:, None] < N)
        v = tl.load(V + kv_ptrs, mask=offs_n[:, None] < N)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * sm_scale
        a = tl.where(visible(offs_m, offs_n, N, CAUSAL, -1), _score(s, SCORE, SHIFT), 0.0)
        total += tl.sum(a, 1)
        acc += tl.dot(a.to(v.dtype), v, input_precision=PRECISION)
    if SCORE == 2:
        den = tl.full([BLOCK_M], 1.0, tl.float32) * N
    else:
        den = total + eps
    tl.store(O + base + offs_m[:, None] * HEAD_DIM + offs_d[None, :],
             (acc / den[:, None]).to(O.dtype.element_ty), mask=row[:, None])
    tl.store(DEN + bh * N + offs_m, den, mask=row)


@triton.autotune(
    configs=tile_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "SCORE"],
    prune_configs_by={"early_config_prune": prune_tiles},
)
@triton.jit
def score_attention_bwd_dkdv_kernel(
    Q, K, V, DO, DEN, DELTA, DK, DV, sm_scale, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, SCORE: tl.constexpr, SHIFT: tl.constexpr,
    PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_n = tl.program_id(0) * BLOCK_N
    bh = tl.program_id(1).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    kv_ptrs = base + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
    k = tl.load(K + kv_ptrs, mask=offs_n[:, None] < N)
    v = tl.load(V + kv_ptrs, mask=offs_n[:, None] < N)
    dk = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    lo, hi = query_range(start_n, N, BLOCK_N, CAUSAL, -1)
    for start_m in range(lo, hi, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        row = offs_m < N
        q_ptrs = base + offs_m[:, None] * HEAD_DIM + offs_d[None, :]
        q = tl.load(Q + q_ptrs, mask=row[:, None])
        # Dividing dO by the row's denominator once turns both gradients into plain products.
        do = tl.load(DO + q_ptrs, mask=row[:, None]).to(tl.float32)
        den = tl.load(DEN + bh * N + offs_m, mask=row, other=1.0)
        delta = tl.load(DELTA + bh * N + offs_m, mask=row)
        do_n = do / den[:, None]
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * sm_scale
        keep = visible(offs_m, offs_n, N, CAUSAL, -1)
        a = tl.where(keep, _score(s, SCORE, SHIFT), 0.0)
        dv += tl.dot(tl.trans(a), do_n, input_precision=PRECISION)
        dov = tl.dot(do_n, tl.trans(v.to(tl.float32)), input_precision=PRECISION)
        da = dov - (delta / den)[:, None]
        ds = tl.where(keep, da * _score_grad(s, SCORE, SHIFT), 0.0)
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PRECISION)
    tl.store(DK + kv_ptrs, (dk * sm_scale).to(DK.dtype.element_ty), mask=offs_n[:, None] < N)
    tl.store(DV + kv_ptrs, dv.to(DV.dtype.element_ty), mask=offs_n[:, None] < N)


@triton.autotune(
    configs=tile_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "SCORE"],
    prune_configs_by={"early_config_prune": prune_tiles},
)
@triton.jit
def score_attention_bwd_dq_kernel(
    Q, K, V, DO, DEN, DELTA, DQ, sm_scale, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, SCORE: tl.constexpr, SHIFT: tl.constexpr,
    PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    row = offs_m < N
    q_ptrs = base + offs_m[:, None] * HEAD_DIM + offs_d[None, :]
    q = tl.load(Q + q_ptrs, mask=row[:, None])
    do = tl.load(DO + q_ptrs, mask=row[:, None]).to(tl.float32)
    den = tl.load(DEN + bh * N + offs_m, mask=row, other=1.0)
    delta = tl.load(DELTA + bh * N + offs_m, mask=row)
    do_n = do / den[:, None]
    dq = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    lo, hi = key_range(start_m, N, BLOCK_M, CAUSAL, -1)
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kv_ptrs = base + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
        k = tl.load(K + kv_ptrs, mask=offs_n[:, None] < N)
        v = tl.load(V + kv_ptrs, mask=offs_n[:, None] < N)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * sm_scale
        keep = visible(offs_m, offs_n, N, CAUSAL, -1)
        dov = tl.dot(do_n, tl.trans(v.to(tl.float32)), input_precision=PRECISION)
        da = dov - (delta / den)[:, None]
        ds = tl.where(keep, da * _score_grad(s, SCORE, SHIFT), 0.0)
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
    tl.store(DQ + q_ptrs, (dq * sm_scale).to(DQ.dtype.element_ty), mask=row[:, None])
