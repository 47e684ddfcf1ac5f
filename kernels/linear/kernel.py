"""Triton kernels of linear attention, chunked as in Lightning Attention.

One program scans one head in chunks of CHUNK positions, carrying the state S = Σ φ(k)ᵀv
(HEAD_DIM × HEAD_DIM, fp32) and z = Σ φ(k). Causal: each chunk adds its masked quadratic
intra-chunk term to φ(q)·S of the earlier chunks, then folds itself into S. Non-causal: a first
pass builds the full S, a second applies it. The backward runs the same scan forwards for dq and
backwards for dk, dv. FEATURE selects φ: 0 elu + 1, 1 ReLU.
"""

from __future__ import annotations

import triton
import triton.language as tl

from kernels._autotune import chunk_configs
from kernels._autotune import prune_chunks


@triton.jit
def _phi(x, FEATURE: tl.constexpr):
    if FEATURE == 0:
        return tl.where(x > 0, x + 1.0, tl.exp(x))
    else:
        return tl.maximum(x, 0.0)


@triton.jit
def _phi_grad(x, FEATURE: tl.constexpr):
    if FEATURE == 0:
        return tl.where(x > 0, 1.0, tl.exp(x))
    else:
        return tl.where(x > 0, 1.0, 0.0)


@triton.jit
def _load_chunk(X, base, start, N, HEAD_DIM: tl.constexpr, CHUNK: tl.constexpr):
    offs = start + tl.arange(0, CHUNK)
    offs_d = tl.arange(0, HEAD_DIM)
    ptrs = X + base + offs[:, None] * HEAD_DIM + offs_d[None, :]
    return tl.load(ptrs, mask=offs[:, None] < N, other=0.0).to(tl.float32)


@triton.autotune(
    configs=chunk_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "FEATURE"],
    prune_configs_by={"early_config_prune": prune_chunks},
)
@triton.jit
def linear_attention_fwd_kernel(
    Q, K, V, O, DEN, eps, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, FEATURE: tl.constexpr,
    PRECISION: tl.constexpr, CHUNK: tl.constexpr,
):
    bh = tl.program_id(0).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_c = tl.arange(0, CHUNK)
    offs_d = tl.arange(0, HEAD_DIM)
    state = tl.zeros([HEAD_DIM, HEAD_DIM], tl.float32)
    zsum = tl.zeros([HEAD_DIM], tl.float32)
    if not CAUSAL:
        for start in range(0, N, CHUNK):
            # Padded rows must not enter the state: φ(0) = 1 for elu + 1.
            fk = tl.where((start + offs_c)[:, None] < N,
                          _phi(_load_chunk(K, base, start, N, HEAD_DIM, CHUNK), FEATURE), 0.0)
            v = _load_chunk(V, base, start, N, HEAD_DIM, CHUNK)
            state += tl.dot(tl.trans(fk), v, input_precision=PRECISION)
            zsum += tl.sum(fk, 0)
    for start in range(0, N, CHUNK):
        offs = start + offs_c
        fq = _phi(_load_chunk(Q, base, start, N, HEAD_DIM, CHUNK), FEATURE)
        num = tl.dot(fq, state, input_precision=PRECISION)
        den = tl.sum(fq * zsum[None, :], 1)
        if CAUSAL:
            fk = tl.where(offs[:, None] < N,
                          _phi(_load_chunk(K, base, start, N, HEAD_DIM, CHUNK), FEATURE), 0.0)
            v = _load_chunk(V, base, start, N, HEAD_DIM, CHUNK)
            a = tl.dot(fq, tl.trans(fk), input_precision=PRECISION)
            a = tl.where(offs_c[None, :] <= offs_c[:, None], a, 0.0)
            num += tl.dot(a, v, input_precision=PRECISION)
            den += tl.sum(a, 1)
            state += tl.dot(tl.trans(fk), v, input_precision=PRECISION)
            zsum += tl.sum(fk, 0)
        den = den + eps
        row = offs < N
        tl.store(O + base + offs[:, None] * HEAD_DIM + offs_d[None, :],
                 (num / den[:, None]).to(O.dtype.element_ty), mask=row[:, None])
        tl.store(DEN + bh * N + offs, den, mask=row)


@triton.autotune(
    configs=chunk_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "FEATURE"],
    prune_configs_by={"early_config_prune": prune_chunks},
)
@triton.jit
def linear_attention_bwd_dq_kernel(
    Q, K, V, DO, DEN, DELTA, DQ, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, FEATURE: tl.constexpr,
    PRECISION: tl.constexpr, CHUNK: tl.constexpr,
):
    # dφ(q_i) = Σ_j (g_i·v_j + h_i) φ(k_j) with g_i = dO_i/den_i, h_i = −dO_i·O_i/den_i.
    bh = tl.program_id(0).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_c = tl.arange(0, CHUNK)
    offs_d = tl.arange(0, HEAD_DIM)
    state = tl.zeros([HEAD_DIM, HEAD_DIM], tl.float32)
    zsum = tl.zeros([HEAD_DIM], tl.float32)
    if not CAUSAL:
        for start in range(0, N, CHUNK):
            fk = tl.where((start + offs_c)[:, None] < N,
                          _phi(_load_chunk(K, base, start, N, HEAD_DIM, CHUNK), FEATURE), 0.0)
            v = _load_chunk(V, base, start, N, HEAD_DIM, CHUNK)
            state += tl.dot(tl.trans(fk), v, input_precision=PRECISION)
            zsum += tl.sum(fk, 0)
    for start in range(0, N, CHUNK):
        offs = start + offs_c
        row = offs < N
        q = _load_chunk(Q, base, start, N, HEAD_DIM, CHUNK)
        den = tl.load(DEN + bh * N + offs, mask=row, other=1.0)
        g = _load_chunk(DO, base, start, N, HEAD_DIM, CHUNK) / den[:, None]
        h = -tl.load(DELTA + bh * N + offs, mask=row, other=0.0) / den
        dfq = tl.dot(g, tl.trans(state), input_precision=PRECISION) + h[:, None] * zsum[None, :]
        if CAUSAL:
            fk = tl.where(row[:, None],
                          _phi(_load_chunk(K, base, start, N, HEAD_DIM, CHUNK), FEATURE), 0.0)
            v = _load_chunk(V, base, start, N, HEAD_DIM, CHUNK)
            da = tl.dot(g, tl.trans(v), input_precision=PRECISION) + h[:, None]
            da = tl.where(offs_c[None, :] <= offs_c[:, None], da, 0.0)
            dfq += tl.dot(da, fk, input_precision=PRECISION)
            state += tl.dot(tl.trans(fk), v, input_precision=PRECISION)
            zsum += tl.sum(fk, 0)
        tl.store(DQ + base + offs[:, None] * HEAD_DIM + offs_d[None, :],
                 (dfq * _phi_grad(q, FEATURE)).to(DQ.dtype.element_ty), mask=row[:, None])


@triton.autotune(
    configs=chunk_configs(),
    key=["N", "HEAD_DIM", "CAUSAL", "FEATURE"],
    prune_configs_by={"early_config_prune": prune_chunks},
)
@triton.jit
def linear_attention_bwd_dkdv_kernel(
    Q, K, V, DO, DEN, DELTA, DK, DV, N,
    HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, FEATURE: tl.constexpr,
    PRECISION: tl.constexpr, CHUNK: tl.constexpr,
):
    # With R = Σ_i φ(q_i)ᵀg_i and r = Σ_i h_i φ(q_i) over the queries that see key j:
    # dφ(k_j) = R·v_j + r and dv_j = Rᵀφ(k_j). Causal scans chunks from the last one back.
    bh = tl.program_id(0).to(tl.int64)
    base = bh * N * HEAD_DIM
    offs_c = tl.arange(0, CHUNK)
    offs_d = tl.arange(0, HEAD_DIM)
    rstate = tl.zeros([HEAD_DIM, HEAD_DIM], tl.float32)
    rsum = tl.zeros([HEAD_DIM], tl.float32)
    num_chunks = tl.cdiv(N, CHUNK)
    if not CAUSAL:
        for start in range(0, N, CHUNK):
            offs = start + offs_c
            row = offs < N
            fq = tl.where(row[:, None],
                          _phi(_load_chunk(Q, base, start, N, HEAD_DIM, CHUNK), FEATURE), 0.0)
            den = tl.load(DEN + bh * N + offs, mask=row, other=1.0)
            g = _load_chunk(DO, base, start, N, HEAD_DIM, CHUNK) / den[:, None]
            h = -tl.load(DELTA + bh * N + offs, mask=row, other=0.0) / den
            rstate += tl.dot(tl.trans(fq), g, input_precision=PRECISION)
            rsum += tl.sum(fq * h[:, None], 0)
    for i in range(0, num_chunks):
        start = (num_chunks - 1 - i) * CHUNK
        offs = start + offs_c
        row = offs < N
        k = _load_chunk(K, base, start, N, HEAD_DIM, CHUNK)
        fk = tl.where(row[:, None], _phi(k, FEATURE), 0.0)
        v = _load_chunk(V, base, start, N, HEAD_DIM, CHUNK)
        dfk = tl.dot(v, tl.trans(rstate), input_precision=PRECISION) + rsum[None, :]
        dv = tl.dot(fk, rstate, input_precision=PRECISION)
        if CAUSAL:
            fq = tl.where(row[:, None],
                          _phi(_load_chunk(Q, base, start, N, HEAD_DIM, CHUNK), FEATURE), 0.0)
            den = tl.load(DEN + bh * N + offs, mask=row, other=1.0)
            g = _load_chunk(DO, base, start, N, HEAD_DIM, CHUNK) / den[:, None]
            h = -tl.load(DELTA + bh * N + offs, mask=row, other=0.0) / den
            # Transposed intra-chunk blocks: rows are keys j, columns queries i ≥ j.
            at = tl.dot(fk, tl.trans(fq), input_precision=PRECISION)
            dat = tl.dot(v, tl.trans(g), input_precision=PRECISION) + h[None, :]
            upper = offs_c[None, :] >= offs_c[:, None]
            dfk += tl.dot(tl.where(upper, dat, 0.0), fq, input_precision=PRECISION)
            dv += tl.dot(tl.where(upper, at, 0.0), g, input_precision=PRECISION)
            rstate += tl.dot(tl.trans(fq), g, input_precision=PRECISION)
            rsum += tl.sum(fq * h[:, None], 0)
        ptrs = base + offs[:, None] * HEAD_DIM + offs_d[None, :]
        tl.store(DK + ptrs, (dfk * _phi_grad(k, FEATURE)).to(DK.dtype.element_ty),
                 mask=row[:, None])
        tl.store(DV + ptrs, dv.to(DV.dtype.element_ty), mask=row[:, None])
