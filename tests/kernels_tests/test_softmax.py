"""Softmax attention (FlashAttention-2 Triton kernel) against its naive reference."""

from __future__ import annotations

import pytest
import torch

import kernels
from kernels import naive_softmax_attention
from tests.kernels_tests._testing import assert_no_leakage
from tests.kernels_tests._testing import check_against
from tests.kernels_tests._testing import half_dtypes
from tests.kernels_tests._testing import inputs


@pytest.mark.parametrize(
    ("n", "d", "causal"),
    [(63, 16, False), (63, 16, True), (130, 32, False), (130, 32, True), (63, 64, True)],
    ids=lambda x: str(x),
)
def test_matches_naive(device: str, n: int, d: int, causal: bool) -> None:
    q, k, v = inputs(1, 2, n, d, device)
    out = check_against(
        lambda q, k, v: kernels.attention(q, k, v, "softmax", causal),
        lambda q, k, v: naive_softmax_attention(q, k, v, causal),
        q, k, v,
    )
    assert "SoftmaxAttentionFunction" in type(out.grad_fn).__name__


def test_batch_and_heads_are_independent(device: str) -> None:
    q, k, v = inputs(2, 3, 33, 16, device)
    check_against(
        lambda q, k, v: kernels.attention(q, k, v, "softmax"),
        naive_softmax_attention, q, k, v,
    )


@pytest.mark.parametrize("dtype", half_dtypes(), ids=str)
def test_half_precision(device: str, dtype: torch.dtype) -> None:
    q, k, v = inputs(1, 1, 40, 16, device, dtype)
    check_against(
        lambda q, k, v: kernels.attention(q, k, v, "softmax", True),
        lambda q, k, v: naive_softmax_attention(q, k, v, True),
        q, k, v, dtype,
    )


def test_causal_does_not_leak(device: str) -> None:
    q, k, v = inputs(1, 2, 63, 16, device)
    assert_no_leakage(
        lambda q, k, v: kernels.attention(q, k, v, "softmax", causal=True),
        q, k, v, 40, lambda i: i,
    )
