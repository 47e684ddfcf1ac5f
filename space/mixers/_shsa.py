"""SHViT's single-head self-attention on a partial channel slice."""

from __future__ import annotations

import math
from typing import Any

import torch

from space.mixers._base import BaseMixer
from space.mixers._base import Call
from space.mixers._base import MixerContext
from space.mixers._base import linear_params
from space.mixers._base import linear_trace
from space.mixers._base import make_linear


def partial_width(partial: float, width: int) -> int:
    """d_p = max(1, floor(partial·d)), the channels the single head attends over."""
    return max(1, math.floor(partial * width + 1e-9))


class SHSAMixer(BaseMixer):
    """Single-head self-attention (SHViT, ysj9909/SHViT ``model/shvit.py``).

    X = [X_p ‖ X_r] with X_p the first d_p = floor(partial·d) channels;
    [Q, K, V] = X_p·W_qkv with Q, K ∈ ℝ^{L×qk_dim}, V ∈ ℝ^{L×d_p};
    O = [softmax(QKᵀ/√qk_dim + M)·V ‖ X_r]·W_O. The rest X_r passes through untouched.
    The value width d_p differs from qk_dim, so the scores are computed here.
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        self.qk_dim = spec["qk_dim"]
        self.dp = partial_width(spec["partial"], ctx.width)
        self.causal = ctx.causal
        self.qkv = make_linear(self.dp, 2 * self.qk_dim + self.dp, ctx.rank)
        self.out = make_linear(ctx.width, ctx.width, ctx.rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp, rest = x[..., : self.dp], x[..., self.dp :]
        q, k, v = self.qkv(xp).split([self.qk_dim, self.qk_dim, self.dp], dim=-1)
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.qk_dim))  # (B, L, L)
        if self.causal:
            n = x.shape[1]
            future = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v  # (B, L, d_p)
        return self.out(torch.cat([o, rest], dim=-1))

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        dp, qk = partial_width(spec["partial"], ctx.width), spec["qk_dim"]
        return linear_params(dp, 2 * qk + dp, ctx.rank) + linear_params(
            ctx.width, ctx.width, ctx.rank
        )

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        dp, qk, n = partial_width(spec["partial"], ctx.width), spec["qk_dim"], ctx.seq_len
        return [
            *linear_trace(batch * n, dp, 2 * qk + dp, ctx.rank),
            ("matmul", {"b": batch, "m": n, "k": qk, "n": n}),
            ("mul", {"numel": batch * n * n}),
            ("softmax", {"rows": batch * n, "cols": n}),
            ("matmul", {"b": batch, "m": n, "k": n, "n": dp}),
            *linear_trace(batch * n, ctx.width, ctx.width, ctx.rank),
        ]
