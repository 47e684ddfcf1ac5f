"""Score-function attention (ReLU-softmax, 2Quad, ScaleAttn; one Triton kernel) vs naive."""

from __future__ import annotations

import pytest
import torch

import kernels
from kernels import naive_score_attention
from tests.kernels_tests._testing import assert_no_leakage
from tests.kernels_tests._testing import check_against
from tests.kernels_tests._testing import half_dtypes
from tests.kernels_tests._testing import inputs


@pytest.mark.parametrize("kind", ["relu", "quad", "scale"])
@pytest.mark.parametrize(
    ("n", "d", "causal"), [(63, 16, False), (130, 32, True), (63, 64, True)], ids=str
)
def test_matches_naive(device: str, kind: str, n: int, d: int, causal: bool) -> None:
    q, k, v = inputs(1, 2, n, d, device)
    out = check_against(
        lambda q, k, v: kernels.attention(q, k, v, kind, causal),
        lambda q, k, v: naive_score_attention(q, k, v, kind, causal),
        q, k, v,
    )
    assert "ScoreAttentionFunction" in type(out.grad_fn).__name__


@pytest.mark.parametrize("kind", ["relu", "quad", "scale"])
def test_causal_does_not_leak(device: str, kind: str) -> None:
    q, k, v = inputs(1, 1, 63, 16, device)
    assert_no_leakage(
        lambda q, k, v: kernels.attention(q, k, v, kind, causal=True), q, k, v, 35, lambda i: i
    )


@pytest.mark.parametrize("dtype", half_dtypes(), ids=str)
def test_half_precision(device: str, dtype: torch.dtype) -> None:
    q, k, v = inputs(1, 1, 40, 16, device, dtype)
    check_against(
        lambda q, k, v: kernels.attention(q, k, v, "quad", True),
        lambda q, k, v: naive_score_attention(q, k, v, "quad", True),
        q, k, v, dtype,
    )
