"""Linformer: attention over keys and values projected along the sequence to r rows."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from space.mixers._base import BaseMixer
from space.mixers._base import Call
from space.mixers._base import MixerContext
from space.mixers._base import linear_params
from space.mixers._base import linear_trace
from space.mixers._base import make_linear


class LowRankMixer(BaseMixer):
    """Linformer: O = W_O·[softmax(Q_h(E·K_h)ᵀ/√d_h)·(F·V_h)]_{h=1..H}, E, F ∈ ℝ^{r×L}.

    E and F are shared by the heads (Linformer's headwise sharing). The scores are L×r, which
    ``kernels.attention`` (equal query and key lengths) does not take, so they are computed here.
    Not causal: E and F mix every position into each projected key.
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        self.heads, self.head_dim = spec["heads"], spec["head_dim"]
        inner, r = self.heads * self.head_dim, spec["rank"]
        self.qkv = make_linear(ctx.width, 3 * inner, ctx.rank)
        self.e = nn.Parameter(torch.randn(r, ctx.seq_len) / math.sqrt(ctx.seq_len))
        self.f = nn.Parameter(torch.randn(r, ctx.seq_len) / math.sqrt(ctx.seq_len))
        self.out = make_linear(inner, ctx.width, ctx.rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (B, H, L, d_h) each
        k, v = self.e @ k, self.f @ v  # (B, H, r, d_h)
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))  # (B, H, L, r)
        o = torch.softmax(scores, dim=-1) @ v  # (B, H, L, d_h)
        return self.out(o.transpose(1, 2).reshape(b, n, -1))

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        inner = spec["heads"] * spec["head_dim"]
        return (
            linear_params(ctx.width, 3 * inner, ctx.rank)
            + 2 * spec["rank"] * ctx.seq_len
            + linear_params(inner, ctx.width, ctx.rank)
        )

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        h, d, r, n = spec["heads"], spec["head_dim"], spec["rank"], ctx.seq_len
        bh = batch * h
        project = ("matmul", {"b": bh, "m": r, "k": n, "n": d})
        return [
            *linear_trace(batch * n, ctx.width, 3 * h * d, ctx.rank),
            project,
            project,
            ("matmul", {"b": bh, "m": n, "k": d, "n": r}),
            ("mul", {"numel": bh * n * r}),
            ("softmax", {"rows": bh * n, "cols": r}),
            ("matmul", {"b": bh, "m": n, "k": r, "n": d}),
            *linear_trace(batch * n, h * d, ctx.width, ctx.rank),
        ]
