"""Sliding-window softmax attention (Triton) against its naive reference."""

from __future__ import annotations

import pytest

import kernels
from kernels import naive_window_attention
from tests.kernels_tests._testing import assert_no_leakage
from tests.kernels_tests._testing import check_against
from tests.kernels_tests._testing import inputs


@pytest.mark.parametrize(
    ("n", "d", "window", "causal"),
    [(63, 16, 0, False), (63, 16, 5, False), (63, 32, 5, True), (130, 16, 20, True),
     (130, 64, 40, False), (63, 16, 200, False)],
    ids=lambda x: str(x),
)
def test_matches_naive(device: str, n: int, d: int, window: int, causal: bool) -> None:
    q, k, v = inputs(1, 2, n, d, device)
    check_against(
        lambda q, k, v: kernels.attention(q, k, v, "window", causal, window),
        lambda q, k, v: naive_window_attention(q, k, v, window, causal),
        q, k, v,
    )


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
def test_keys_outside_the_window_do_not_leak(device: str, causal: bool) -> None:
    q, k, v = inputs(1, 1, 63, 16, device)
    w = 6
    assert_no_leakage(
        lambda q, k, v: kernels.attention(q, k, v, "window", causal, w),
        q, k, v, 30, (lambda i: i) if causal else (lambda i: i + w),
    )
