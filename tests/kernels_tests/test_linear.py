"""Chunked linear attention (Triton, Lightning-style causal scan) against its naive reference."""

from __future__ import annotations

import pytest
import torch

import kernels
from kernels import naive_linear_attention
from kernels.linear.naive import chunk_linear_attention
from tests.kernels_tests._testing import assert_no_leakage
from tests.kernels_tests._testing import check_against
from tests.kernels_tests._testing import inputs


@pytest.mark.parametrize(
    ("n", "d", "causal", "feature_map"),
    [(63, 16, False, "elu"), (63, 16, True, "elu"), (130, 32, True, "relu"),
     (130, 16, False, "relu"), (63, 64, True, "elu")],
    ids=str,
)
def test_matches_naive(device: str, n: int, d: int, causal: bool, feature_map: str) -> None:
    q, k, v = inputs(1, 2, n, d, device)
    out = check_against(
        lambda q, k, v: kernels.attention(q, k, v, "linear", causal, feature_map=feature_map),
        lambda q, k, v: naive_linear_attention(q, k, v, causal, feature_map),
        q, k, v,
    )
    assert "LinearAttentionFunction" in type(out.grad_fn).__name__


def test_causal_does_not_leak(device: str) -> None:
    q, k, v = inputs(1, 1, 63, 16, device)
    assert_no_leakage(
        lambda q, k, v: kernels.attention(q, k, v, "linear", causal=True), q, k, v, 20, lambda i: i
    )


@pytest.mark.parametrize("chunk", [1, 7, 64])
@pytest.mark.parametrize("causal", [False, True])
def test_torch_chunked_form_matches_naive(chunk: int, causal: bool) -> None:
    q, k, v = (torch.randn(2, 2, 37, 8, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(
        chunk_linear_attention(q, k, v, causal, "elu", chunk),
        naive_linear_attention(q, k, v, causal),
    )
