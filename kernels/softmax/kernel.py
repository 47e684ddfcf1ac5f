"""Triton kernels of (sliding-window) softmax attention, FlashAttention-2 tiling.

Inputs are contiguous (batch·heads, seq, HEAD_DIM); one program owns a query block (forward, dq)
or a key block (dk, dv) of one head. WINDOW < 0 means no window. Exponentials are base 2 with
log2(e) folded into the scale; LSE is stored in the same base-2 units.
"""

from __future__ import annotations

import triton
import triton.language as tl

from kernels._autotune import prune_tiles
from kernels._autotune import tile_configs
from kernels.common.masks import key_range
from kernels.common.masks import query_range
from kernels.common.masks import visible

LOG2E = 1.4426950408889634


@triton.autotune(
    configs=tile_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "WINDOW"],
    prune_configs_by={"early_config_prune": prune_tiles},
)
@triton.jit
def softmax_attention_fwd_kernel(
    Q, K, V, O, LSE, qk_scale, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, WINDOW: tl.constexpr,
    PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    q = tl.load(Q + base + offs_m[:, None] * HEAD_DIM + offs_d[None, :], mask=offs_m[:, None] < N)
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    lo, hi = key_range(start_m, N, BLOCK_M, CAUSAL, WINDOW)
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kv_ptrs = base + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
        k = tl.load(K + kv_ptrs, mask=offs_n[:, None] < N)
        v = tl.load(V + kv_ptrs, mask=offs_n[:, None] < N)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        s = tl.where(visible(offs_m, offs_n, N, CAUSAL, WINDOW), s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # A row that has seen no visible key keeps m = -inf; shift by 0 so exp2 gives 0, not NaN.
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(s - m_safe[:, None])
        alpha = tl.math.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        m_i = m_new
    l_safe = tl.where(l_i > 0, l_i, 1.0)
    acc = acc / l_safe[:, None]
    row = offs_m < N
    tl.store(O + base + offs_m[:, None] * HEAD_DIM + offs_d[None, :],
             acc.to(O.dtype.element_ty), mask=row[:, None])
    tl.store(LSE + bh * N + offs_m, m_i + tl.math.log2(l_safe), mask=row)


@triton.autotune(
    configs=tile_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "WINDOW"],
    prune_configs_by={"early_config_prune": prune_tiles},
)
@triton.jit
def softmax_attention_bwd_dkdv_kernel(
    Q, K, V, DO, LSE, DELTA, DK, DV, qk_scale, sm_scale, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, WINDOW: tl.constexpr,
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
    lo, hi = query_range(start_n, N, BLOCK_N, CAUSAL, WINDOW)
    for start_m in range(lo, hi, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        row = offs_m < N
        q_ptrs = base + offs_m[:, None] * HEAD_DIM + offs_d[None, :]
        q = tl.load(Q + q_ptrs, mask=row[:, None])
        do = tl.load(DO + q_ptrs, mask=row[:, None])
        lse = tl.load(LSE + bh * N + offs_m, mask=row)
        delta = tl.load(DELTA + bh * N + offs_m, mask=row)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        keep = visible(offs_m, offs_n, N, CAUSAL, WINDOW)
        p = tl.where(keep, tl.math.exp2(s - lse[:, None]), 0.0)
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PRECISION)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PRECISION)
    tl.store(DK + kv_ptrs, (dk * sm_scale).to(DK.dtype.element_ty), mask=offs_n[:, None] < N)
    tl.store(DV + kv_ptrs, dv.to(DV.dtype.element_ty), mask=offs_n[:, None] < N)


@triton.autotune(
    configs=tile_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "WINDOW"],
    prune_configs_by={"early_config_prune": prune_tiles},
)
@triton.jit
def softmax_attention_bwd_dq_kernel(
    Q, K, V, DO, LSE, DELTA, DQ, qk_scale, sm_scale, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, WINDOW: tl.constexpr,
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
    do = tl.load(DO + q_ptrs, mask=row[:, None])
    lse = tl.load(LSE + bh * N + offs_m, mask=row)
    delta = tl.load(DELTA + bh * N + offs_m, mask=row)
    dq = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    lo, hi = key_range(start_m, N, BLOCK_M, CAUSAL, WINDOW)
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kv_ptrs = base + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
        k = tl.load(K + kv_ptrs, mask=offs_n[:, None] < N)
        v = tl.load(V + kv_ptrs, mask=offs_n[:, None] < N)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        keep = visible(offs_m, offs_n, N, CAUSAL, WINDOW)
        p = tl.where(keep, tl.math.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
    tl.store(DQ + q_ptrs, (dq * sm_scale).to(DQ.dtype.element_ty), mask=row[:, None])
