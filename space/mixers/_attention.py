"""Attention head ops: each maps Q, K, V of h heads to their output through ``kernels.attention``.

Notation: Q, K, V ∈ ℝ^{L×d_h} per head, S = QKᵀ/√d_h, M the causal mask (−∞ above the
diagonal for softmax, 0 for the score functions), rownorm(A)_ij = A_ij / (Σ_j A_ij + 10⁻⁵).
The shapes below are (B, h, L, d_h) throughout.
"""

from __future__ import annotations

from typing import Any
from typing import ClassVar

import torch
from torch import nn

import kernels
from space.mixers._base import BaseHead
from space.mixers._base import Call
from space.mixers._base import MixerContext
from space.mixers._base import attention_call


class AttentionHead(BaseHead):
    """A group of attention heads computed by one ``kernels.attention`` call of ``kind``."""

    kind: ClassVar[str]

    def __init__(self, spec: dict[str, Any], heads: int, ctx: MixerContext) -> None:
        super().__init__(spec, heads, ctx)
        self.causal = ctx.causal
        self.window = self._window(spec)

    @staticmethod
    def _window(spec: dict[str, Any]) -> int | None:
        return None

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return kernels.attention(q, k, v, kind=self.kind, causal=self.causal, window=self.window)

    @classmethod
    def trace(cls, spec: dict[str, Any], heads: int, ctx: MixerContext, batch: int) -> list[Call]:
        return [
            attention_call(
                cls.kind,
                batch,
                heads,
                ctx.seq_len,
                spec["head_dim"],
                ctx.causal,
                cls._window(spec),
            )
        ]


class SoftmaxHead(AttentionHead):
    """Scaled dot-product attention: O = softmax(S + M)·V."""

    kind = "softmax"


class ReluHead(AttentionHead):
    """ReLU-softmax (MPCViT's RSAttn): O = rownorm(ReLU(S) ⊙ M)·V."""

    kind = "relu"


class ScaleHead(AttentionHead):
    """ScaleAttn (MPCViT): O = ((S ⊙ M)/L)·V, = Q(KᵀV)/(√d_h·L) unmasked; no non-linearity."""

    kind = "scale"


class QuadHead(AttentionHead):
    """2Quad (MPCFormer): O = rownorm((S + c)² ⊙ M)·V with c = 5."""

    kind = "quad"


class WindowHead(AttentionHead):
    """Sliding-window softmax: O_i = softmax_j(S_ij)·V_j, j ∈ [i−w, i+w] ([i−w, i] if causal)."""

    kind = "window"

    @staticmethod
    def _window(spec: dict[str, Any]) -> int | None:
        return int(spec["window"])


class LinearHead(AttentionHead):
    """Linear attention: O = φ(Q)(φ(K)ᵀV) / (φ(Q)·Σ_j φ(k_j) + ε), φ = elu+1 or ReLU.

    Causal by prefix sums: S_t = S_{t−1} + φ(k_t)ᵀv_t, o_t = φ(q_t)S_t / (φ(q_t)·Σ_{j≤t} φ(k_j)).
    """

    kind = "linear"

    def __init__(self, spec: dict[str, Any], heads: int, ctx: MixerContext) -> None:
        super().__init__(spec, heads, ctx)
        self.feature_map = str(spec["feature_map"])

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return kernels.attention(
            q, k, v, kind=self.kind, causal=self.causal, window=None, feature_map=self.feature_map
        )


class WMAHead(AttentionHead):
    """Weighted multiplicative attention (FlexiBERT): O = softmax(Q·W·Kᵀ/√d_h + M)·V.

    One learned W ∈ ℝ^{d_h×d_h} is shared by the group's heads (as in jha-lab/txf_design-space);
    QW is formed first so the score itself is the softmax kernel's.
    """

    kind = "softmax"

    def __init__(self, spec: dict[str, Any], heads: int, ctx: MixerContext) -> None:
        super().__init__(spec, heads, ctx)
        # Identity start: WMA begins as plain softmax attention.
        self.weight = nn.Parameter(torch.eye(spec["head_dim"]))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return super().forward(q @ self.weight, k, v)  # (B, h, L, d_h)

    @classmethod
    def count_params(cls, spec: dict[str, Any], heads: int, ctx: MixerContext) -> int:
        return spec["head_dim"] ** 2

    @classmethod
    def trace(cls, spec: dict[str, Any], heads: int, ctx: MixerContext, batch: int) -> list[Call]:
        d = spec["head_dim"]
        weighted = ("matmul", {"b": batch * heads, "m": ctx.seq_len, "k": d, "n": d})
        return [weighted, *super().trace(spec, heads, ctx, batch)]
