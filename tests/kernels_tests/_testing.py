"""Comparison helpers of the kernel tests."""

from __future__ import annotations

import pytest
import torch

#: Relative-error bounds per dtype: fp32 as the issue requires, half types at their precision.
TOLERANCE = {torch.float32: 1e-4, torch.float16: 5e-3, torch.bfloat16: 2e-2}


def half_dtypes() -> list:
    """float16 everywhere; bfloat16 only on a GPU (the interpreter's bfloat16 tl.dot is wrong,
    so ``kernels.attention`` sends CPU bfloat16 to torch)."""
    return [
        torch.float16,
        pytest.param(torch.bfloat16, marks=[pytest.mark.gpu, pytest.mark.skipif(
            not torch.cuda.is_available(), reason="bfloat16 tl.dot needs a GPU")]),
    ]


def rel_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """‖actual − expected‖ / ‖expected‖ in float64; NaN anywhere gives NaN (a failure).

    The denominator has an RMS floor of 1e-2: gradients that vanish exactly (a window of 0
    makes every softmax row a constant 1) leave only rounding noise to compare.
    """
    a, e = actual.double(), expected.double()
    floor = 1e-2 * e.numel() ** 0.5
    return ((a - e).norm() / e.norm().clamp_min(floor)).item()


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, name: str):
    assert actual.shape == expected.shape, name
    assert torch.isfinite(actual).all(), f"{name} has non-finite elements"
    err = rel_error(actual, expected)
    assert err <= TOLERANCE[dtype], f"{name}: relative error {err:.2e} > {TOLERANCE[dtype]:.0e}"


def inputs(b: int, h: int, n: int, d: int, device: str, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(b, h, n, d, generator=g).to(device=device, dtype=dtype).requires_grad_()
        for _ in range(3)
    ]


def check_against(fn, ref, q, k, v, dtype=torch.float32):
    """Outputs and the gradients of q, k, v of ``fn`` against ``ref`` (run in float64)."""
    out = fn(q, k, v)
    do = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), do)
    q64, k64, v64 = (t.detach().cpu().double().requires_grad_() for t in (q, k, v))
    expected = ref(q64, k64, v64)
    expected_grads = torch.autograd.grad(expected, (q64, k64, v64), do.cpu().double())
    assert_close(out.cpu(), expected, dtype, "output")
    for name, g, e in zip("qkv", grads, expected_grads, strict=True):
        assert_close(g.cpu(), e, dtype, f"d{name}")
    return out


def assert_no_leakage(fn, q, k, v, t: int, visible_until):
    """Changing keys and values a query must not see leaves that query's output unchanged.

    ``visible_until(i)`` is the last key index query i may see; keys after it are replaced.
    """
    with torch.no_grad():
        base = fn(q, k, v)
        k2, v2 = k.clone(), v.clone()
        k2[:, :, t + 1 :] = torch.randn_like(k2[:, :, t + 1 :]) * 10
        v2[:, :, t + 1 :] = torch.randn_like(v2[:, :, t + 1 :]) * 10
        changed = fn(q, k2, v2)
    rows = [i for i in range(q.shape[2]) if visible_until(i) <= t]
    assert rows, "the probe must cover at least one query"
    assert torch.equal(base[:, :, rows], changed[:, :, rows])
    assert not torch.equal(base, changed), "the probe changed nothing visible at all"
