"""Which (query, key) pairs a head may use, and the key/query block ranges worth visiting.

WINDOW < 0 means no window; a window w keeps |i − j| ≤ w.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def visible(offs_m, offs_n, N, CAUSAL: tl.constexpr, WINDOW: tl.constexpr):
    keep = (offs_m[:, None] < N) & (offs_n[None, :] < N)
    if CAUSAL:
        keep = keep & (offs_n[None, :] <= offs_m[:, None])
    if WINDOW >= 0:
        keep = keep & (offs_n[None, :] >= offs_m[:, None] - WINDOW)
        keep = keep & (offs_n[None, :] <= offs_m[:, None] + WINDOW)
    return keep


@triton.jit
def key_range(start_m, N, BLOCK_M: tl.constexpr, CAUSAL: tl.constexpr, WINDOW: tl.constexpr):
    # Keys a query block [start_m, start_m + BLOCK_M) can see; blocks outside are skipped.
    lo = 0
    hi = N
    if CAUSAL:
        hi = tl.minimum(start_m + BLOCK_M, N)
    if WINDOW >= 0:
        lo = tl.maximum(start_m - WINDOW, 0)
        hi = tl.minimum(hi, start_m + BLOCK_M + WINDOW)
    return lo, hi


@triton.jit
def query_range(start_n, N, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, WINDOW: tl.constexpr):
    # Queries that can see a key block [start_n, start_n + BLOCK_N).
    lo = 0
    hi = N
    if CAUSAL:
        lo = start_n
    if WINDOW >= 0:
        lo = tl.maximum(start_n - WINDOW, lo)
        hi = tl.minimum(start_n + BLOCK_N + WINDOW, N)
    return lo, hi
