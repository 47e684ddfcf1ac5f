"""Every attention shape the CUDA profile measures runs on the GPU and matches its reference.

The profile grid reaches shapes the unit tests do not (head dim 16 beside 64-row tiles, batch 8,
bfloat16): a kernel that faults there would kill ``nas profile --device cuda`` midway.
"""

from __future__ import annotations

import pytest
import torch

import kernels
from kernels._profile_ops import grid
from kernels.linear.naive import naive_linear_attention
from kernels.score.naive import naive_score_attention
from kernels.softmax.naive import naive_softmax_attention
from kernels.window.naive import naive_window_attention
from tests.kernels_tests._testing import rel_error

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

SHAPES = grid("attention", "quick")


def _reference(s: dict, q, k, v) -> torch.Tensor:
    kind, causal = s["kind"], bool(s["causal"])
    if kind == "softmax":
        return naive_softmax_attention(q, k, v, causal)
    if kind == "window":
        return naive_window_attention(q, k, v, s["window"], causal)
    if kind == "linear":
        return naive_linear_attention(q, k, v, causal)
    return naive_score_attention(q, k, v, kind, causal)


def test_every_profile_shape_runs_and_matches() -> None:
    # One test over the whole grid: off a GPU it is one skip, not 144.
    g = torch.Generator().manual_seed(0)
    failures = []
    for s in SHAPES:
        q, k, v = (torch.randn(s["b"], s["h"], s["s"], s["d"], generator=g) for _ in range(3))
        window = s["window"] if s["kind"] == "window" else None
        out = kernels.attention(*(t.cuda().bfloat16() for t in (q, k, v)), s["kind"],
                                bool(s["causal"]), window, backend="triton")
        torch.cuda.synchronize()
        err = rel_error(out.float().cpu(), _reference(s, q.double(), k.double(), v.double()))
        if not err <= 2e-2:
            failures.append(f"{s}: relative error {err:.2e}")
    assert not failures, "\n".join(failures)
