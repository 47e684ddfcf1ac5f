"""What every token mixer shares: its context, its analytic counts, factorised linears.

A mixer is a ``torch.nn.Module`` mapping (B, L, d) to (B, L, d) that also states, as
classmethods beside its ``forward``, its parameter count and the kernel calls one forward pass
makes (``docs/interfaces.md`` §2), so cost models can price an architecture without building it.
A *head op* is the per-head form used inside the heterogeneous ``heads`` mixer: it maps the
head's projections, each (B, h, L, d_h), to (B, h, L, d_h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from typing import ClassVar

from torch import nn

#: One kernel call of the trace: (op, shape), e.g. ("linear", {"m": 128, "k": 256, "n": 768}).
Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class MixerContext:
    """The layer a mixer sits in.

    Attributes:
        width: d, the layer width the mixer reads and writes.
        seq_len: L, known when the model is built (positions are learned, Linformer needs it).
        causal: position t may only see positions <= t.
        rank_ratio: ρ of MCUFormer's low-rank linears, or None for dense linears.
    """

    width: int
    seq_len: int
    causal: bool = False
    rank_ratio: float | None = None

    @property
    def rank(self) -> int | None:
        """k = max(1, floor(ρ·d)) for the mixer's projections (``docs/interfaces.md`` §1)."""
        return factor_rank(self.rank_ratio, self.width)


def factor_rank(rank_ratio: float | None, size: int) -> int | None:
    """k = max(1, floor(ρ·size)), or None without a rank ratio."""
    if rank_ratio is None:
        return None
    # The epsilon keeps ρ·size = 0.29·100 = 28.999… from flooring to 28.
    return max(1, math.floor(rank_ratio * size + 1e-9))


class LowRankLinear(nn.Sequential):
    """MCUFormer's factorised linear: y = W₃(W₂(W₁x)) + b, W₁ ∈ ℝ^{k×d_in}, W₂ ∈ ℝ^{k×k},
    W₃ ∈ ℝ^{d_out×k}; only the last factor has a bias."""

    def __init__(self, d_in: int, d_out: int, rank: int) -> None:
        super().__init__(
            nn.Linear(d_in, rank, bias=False),
            nn.Linear(rank, rank, bias=False),
            nn.Linear(rank, d_out),
        )


def make_linear(d_in: int, d_out: int, rank: int | None = None, bias: bool = True) -> nn.Module:
    """A dense ``nn.Linear`` or, with a rank, a ``LowRankLinear`` (which always has its bias)."""
    if rank is None:
        return nn.Linear(d_in, d_out, bias=bias)
    return LowRankLinear(d_in, d_out, rank)


def linear_params(d_in: int, d_out: int, rank: int | None = None, bias: bool = True) -> int:
    """Parameters of ``make_linear(d_in, d_out, rank, bias)``."""
    if rank is None:
        return d_in * d_out + (d_out if bias else 0)
    return d_in * rank + rank * rank + rank * d_out + d_out


def linear_trace(m: int, d_in: int, d_out: int, rank: int | None = None) -> list[Call]:
    """The ``linear`` calls of ``make_linear`` applied to m rows."""
    if rank is None:
        return [("linear", {"m": m, "k": d_in, "n": d_out})]
    return [
        ("linear", {"m": m, "k": d_in, "n": rank}),
        ("linear", {"m": m, "k": rank, "n": rank}),
        ("linear", {"m": m, "k": rank, "n": d_out}),
    ]


def attention_call(
    kind: str, b: int, h: int, s: int, d: int, causal: bool, window: int | None = None
) -> Call:
    """The trace entry of one ``kernels.attention`` call."""
    return (
        "attention",
        {"kind": kind, "b": b, "h": h, "s": s, "d": d, "causal": causal, "window": window},
    )


class BaseMixer(nn.Module):
    """A token mixer over the full width: (B, L, d) -> (B, L, d).

    Subclasses take ``(spec, ctx)`` where ``spec`` is the architecture's mixer dict
    (``{"type": ..., **params}``) and implement the three methods below.
    """

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__()

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        """Exact number of parameters of ``cls(spec, ctx)``."""
        raise NotImplementedError

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        """The kernel calls of one forward pass on a (batch, L, d) input, in order."""
        raise NotImplementedError


class BaseHead(nn.Module):
    """A group of h heads of one type inside the ``heads`` mixer.

    ``spec`` is one head dict (``{"type": ..., "head_dim": d_h, **params}``). The mixer's input
    projection hands ``projections`` tensors of shape (B, h, L, d_h): 3 for attention (Q, K, V),
    1 for token-mixing transforms (V only).
    """

    projections: ClassVar[int] = 3

    def __init__(self, spec: dict[str, Any], heads: int, ctx: MixerContext) -> None:
        super().__init__()

    @classmethod
    def count_params(cls, spec: dict[str, Any], heads: int, ctx: MixerContext) -> int:
        """Parameters the head group owns besides its slice of the shared projections."""
        return 0

    @classmethod
    def trace(cls, spec: dict[str, Any], heads: int, ctx: MixerContext, batch: int) -> list[Call]:
        """The kernel calls of the group, from its projections to its (B, h, L, d_h) output."""
        raise NotImplementedError
