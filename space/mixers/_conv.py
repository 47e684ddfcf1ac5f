"""Convolution and pooling mixers along the sequence: depthwise, dynamic span, PoolFormer."""

from __future__ import annotations

from typing import Any
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from space.mixers._base import BaseHead
from space.mixers._base import BaseMixer
from space.mixers._base import Call
from space.mixers._base import MixerContext
from space.mixers._base import linear_params
from space.mixers._base import linear_trace
from space.mixers._base import make_linear


def span_padding(kernel: int, causal: bool) -> tuple[int, int]:
    """(left, right) zero padding of a stride-1 window: left-only when causal, else centred."""
    left = kernel - 1 if causal else (kernel - 1) // 2
    return left, kernel - 1 - left


def depthwise_conv(x: torch.Tensor, conv: nn.Conv1d, causal: bool) -> torch.Tensor:
    """Apply a depthwise ``conv`` (built with padding 0) to x: (B, C, L) -> (B, C, L)."""
    return conv(F.pad(x, span_padding(conv.kernel_size[0], causal)))


def _conv_params(channels: int, kernel: int) -> int:
    return channels * kernel + channels


def _conv_call(batch: int, channels: int, ctx: MixerContext, kernel: int) -> Call:
    return ("conv1d", {"b": batch, "channels": channels, "seq": ctx.seq_len, "kernel": kernel})


class ConvMixer(BaseMixer):
    """Depthwise convolution over the sequence: O_i = Σ_{j<k} w_j ⊙ X_{i+j−p} + b, per channel.

    p = k−1 when causal (left padding only), else ⌊(k−1)/2⌋.
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        self.causal = ctx.causal
        self.conv = nn.Conv1d(ctx.width, ctx.width, spec["kernel"], groups=ctx.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv(x.transpose(1, 2), self.conv, self.causal).transpose(1, 2)

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        return _conv_params(ctx.width, spec["kernel"])

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        return [_conv_call(batch, ctx.width, ctx, spec["kernel"])]


class ConvHead(BaseHead):
    """Depthwise convolution head (FlexiBERT 2.0's ``c_k_d``) on the head's value slice."""

    projections: ClassVar[int] = 1

    def __init__(self, spec: dict[str, Any], heads: int, ctx: MixerContext) -> None:
        super().__init__(spec, heads, ctx)
        self.causal = ctx.causal
        channels = heads * spec["head_dim"]
        self.conv = nn.Conv1d(channels, channels, spec["kernel"], groups=channels)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        b, h, n, d = v.shape
        x = v.transpose(2, 3).reshape(b, h * d, n)  # (B, h·d_h, L)
        return depthwise_conv(x, self.conv, self.causal).reshape(b, h, d, n).transpose(2, 3)

    @classmethod
    def count_params(cls, spec: dict[str, Any], heads: int, ctx: MixerContext) -> int:
        return _conv_params(heads * spec["head_dim"], spec["kernel"])

    @classmethod
    def trace(cls, spec: dict[str, Any], heads: int, ctx: MixerContext, batch: int) -> list[Call]:
        return [_conv_call(batch, heads * spec["head_dim"], ctx, spec["kernel"])]


class DynConvMixer(BaseMixer):
    """Dynamic span convolution (ConvBERT, as in FlexiBERT; lightweight/dynamic conv style).

    [Q, V] = X·W_qv, C = DWConv_k(X), w_i = softmax(W_w(q_i ⊙ c_i)) ∈ ℝ^k,
    o_i = Σ_{j<k} w_ij·v_{i+j−p}, O = o·W_O. One dynamic kernel per position, shared by all
    channels; p = k−1 when causal (the span only looks back), else ⌊(k−1)/2⌋. W_qv and W_O follow
    the layer's rank ratio; the small kernel generator W_w ∈ ℝ^{d×k} stays dense.
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        d, k = ctx.width, spec["kernel"]
        self.causal = ctx.causal
        self.qv = make_linear(d, 2 * d, ctx.rank)
        self.key_conv = nn.Conv1d(d, d, k, groups=d)
        self.kernel_gen = nn.Linear(d, k)
        self.out = make_linear(d, d, ctx.rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.key_conv.kernel_size[0]
        q, v = self.qv(x).chunk(2, dim=-1)  # (B, L, d) each
        c = depthwise_conv(x.transpose(1, 2), self.key_conv, self.causal).transpose(1, 2)
        w = torch.softmax(self.kernel_gen(q * c), dim=-1)  # (B, L, k)
        padded = F.pad(v, (0, 0, *span_padding(k, self.causal)))
        if torch.onnx.is_in_onnx_export():
            # ONNX has no unfold: the same windows as k shifted slices.
            n = v.shape[1]
            spans = torch.stack([padded[:, j:j + n] for j in range(k)], dim=-1)
        else:
            spans = padded.unfold(1, k, 1)  # (B, L, d, k)
        o = (spans @ w.unsqueeze(-1)).squeeze(-1)  # (B, L, d)
        return self.out(o)

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        d, k = ctx.width, spec["kernel"]
        return (
            linear_params(d, 2 * d, ctx.rank)
            + _conv_params(d, k)
            + linear_params(d, k)
            + linear_params(d, d, ctx.rank)
        )

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        d, k, m = ctx.width, spec["kernel"], batch * ctx.seq_len
        return [
            *linear_trace(m, d, 2 * d, ctx.rank),
            _conv_call(batch, d, ctx, k),
            ("mul", {"numel": m * d}),
            *linear_trace(m, d, k),
            ("softmax", {"rows": m, "cols": k}),
            ("matmul", {"b": m, "m": d, "k": k, "n": 1}),
            *linear_trace(m, d, d, ctx.rank),
        ]


class PoolMixer(BaseMixer):
    """PoolFormer token mixer: O = AvgPool_k(X) − X along the sequence (the residual adds X back).

    Windows are centred and average only the real tokens they cover (count_include_pad=False).
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        self.kernel = spec["pool_size"]
        ones = torch.ones(1, 1, ctx.seq_len)
        counts = F.avg_pool1d(F.pad(ones, span_padding(self.kernel, False)), self.kernel, 1)
        self.register_buffer("counts", counts, persistent=False)  # (1, 1, L) share of real tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x.transpose(1, 2), span_padding(self.kernel, False))
        pooled = F.avg_pool1d(padded, self.kernel, 1) / self.counts  # (B, d, L)
        return pooled.transpose(1, 2) - x

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        return 0

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        shape = {"b": batch, "seq": ctx.seq_len, "width": ctx.width, "kernel": spec["pool_size"]}
        return [("pool", shape), ("add", {"numel": batch * ctx.seq_len * ctx.width})]
