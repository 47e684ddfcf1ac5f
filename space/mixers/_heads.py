"""Multi-head mixers: uniform attention and the per-head heterogeneous ``heads`` mixer."""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from space._errors import SpaceError
from space.mixers._base import BaseHead
from space.mixers._base import BaseMixer
from space.mixers._base import Call
from space.mixers._base import MixerContext
from space.mixers._base import linear_params
from space.mixers._base import linear_trace
from space.mixers._base import make_linear
from space.mixers._registry import MIXERS
from space.mixers._registry import mixer_info


def head_groups(spec: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """Heads of equal type, head_dim and params as (head spec, count), in first-seen order.

    ``{"type": "softmax", "heads": 4, "head_dim": 64}`` is one group of 4 heads; a ``heads``
    mixer lists its heads one by one and equal ones share a group (one kernel call).
    """
    if spec["type"] != "heads":
        head = {key: value for key, value in spec.items() if key != "heads"}
        return [(head, spec["heads"])] if spec["heads"] else []
    heads = [dict(h) for h in spec["heads"]]
    groups: dict[str, tuple[dict[str, Any], int]] = {}
    for head in heads:
        key = json.dumps(head, sort_keys=True)
        groups[key] = (head, groups[key][1] + 1) if key in groups else (head, 1)
    return list(groups.values())


def _head_class(head: dict[str, Any]) -> type[BaseHead]:
    cls = mixer_info(head["type"]).head
    if cls is None:
        raise SpaceError(
            f"Mixer type {head['type']!r} cannot be a head of the 'heads' mixer. Use one of "
            f"{sorted(name for name, info in MIXERS.items() if info.head_capable)}."
        )
    return cls


def _widths(groups: list[tuple[dict[str, Any], int]]) -> tuple[int, int]:
    """(input projection width Σ P_g·h_g·d_g, concatenated output width Σ h_g·d_g)."""
    proj = sum(_head_class(h).projections * n * h["head_dim"] for h, n in groups)
    return proj, sum(n * h["head_dim"] for h, n in groups)


class HeadsMixer(BaseMixer):
    """O = [head_1(X) ‖ … ‖ head_H(X)]·W_O, each head reading its own slices of X·W_in.

    W_in ∈ ℝ^{d×Σ P_i d_i} holds every head's projections side by side: Q, K, V (P = 3) for
    attention heads, V only (P = 1) for DFT, DCT and convolution heads. Heads of equal type and
    params run as one group, in one kernel call. A uniform multi-head mixer (``softmax``, ``wma``,
    ``window``, ``linear``, ``relu``, ``scale``, ``quad``) is the case of one group.
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        self.groups = head_groups(spec)
        proj, inner = _widths(self.groups)
        self.inp = make_linear(ctx.width, proj, ctx.rank)
        self.ops = nn.ModuleList(_head_class(h)(h, n, ctx) for h, n in self.groups)
        self.out = make_linear(inner, ctx.width, ctx.rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        projected = self.inp(x)  # (B, L, Σ P_i d_i)
        outputs, start = [], 0
        for (head, h), op in zip(self.groups, self.ops, strict=True):
            p, d = op.projections, head["head_dim"]
            part = projected[..., start : start + p * h * d].view(b, n, p, h, d)
            start += p * h * d
            o = op(*part.permute(2, 0, 3, 1, 4))  # P × (B, h, L, d_h) -> (B, h, L, d_h)
            outputs.append(o.transpose(1, 2).reshape(b, n, h * d))
        return self.out(torch.cat(outputs, dim=-1))

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        groups = head_groups(spec)
        proj, inner = _widths(groups)
        own = sum(_head_class(h).count_params(h, n, ctx) for h, n in groups)
        return (
            linear_params(ctx.width, proj, ctx.rank)
            + own
            + linear_params(inner, ctx.width, ctx.rank)
        )

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        groups = head_groups(spec)
        proj, inner = _widths(groups)
        m = batch * ctx.seq_len
        calls = linear_trace(m, ctx.width, proj, ctx.rank)
        for head, n in groups:
            calls += _head_class(head).trace(head, n, ctx, batch)
        return calls + linear_trace(m, inner, ctx.width, ctx.rank)
