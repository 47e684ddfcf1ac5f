"""Parameter-free spectral mixers (FlexiBERT's dft / dct token mixing, FNet-style).

Over the full width they act on X ∈ ℝ^{L×d}; as heads, on each head's value slice V ∈ ℝ^{L×d_h}.
Both transforms are orthonormal so the output keeps the scale of the input.
"""

from __future__ import annotations

import math
from typing import Any
from typing import ClassVar

import torch

from space.mixers._base import BaseHead
from space.mixers._base import BaseMixer
from space.mixers._base import Call
from space.mixers._base import MixerContext


def dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II matrix: C_ki = √(2/n)·s_k·cos(π(2i+1)k / 2n), s_0 = 1/√2, else 1."""
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    c = math.sqrt(2.0 / n) * torch.cos(math.pi * (2 * i + 1) * k / (2 * n))
    c[0] /= math.sqrt(2.0)
    return c.float()


def real_dft2(x: torch.Tensor) -> torch.Tensor:
    """Re(F_L·X·F_d) over the last two axes, orthonormal; ``C·X·C − S·X·S`` with the DFT's
    cosine and sine matrices while exporting to ONNX, which has no complex FFT."""
    if not torch.onnx.is_in_onnx_export():
        return torch.fft.fft2(x, dim=(-2, -1), norm="ortho").real
    cos_l, sin_l = _dft_parts(int(x.shape[-2]))
    cos_d, sin_d = _dft_parts(int(x.shape[-1]))
    return cos_l @ x @ cos_d - sin_l @ x @ sin_d


def _dft_parts(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.arange(n, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(k, k) / n
    return (torch.cos(angle) / math.sqrt(n)).float(), (torch.sin(angle) / math.sqrt(n)).float()


class DFTMixer(BaseMixer):
    """FNet token mixing: O = Re(F_L·X·F_d), F_n the orthonormal n-point DFT matrix."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return real_dft2(x)  # (B, L, d)

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        return 0

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        return [("fft", {"b": batch, "seq": ctx.seq_len, "width": ctx.width})]


class DCTMixer(BaseMixer):
    """2-D DCT-II token mixing: O = C_L·X·C_dᵀ, orthonormal DCT-II matrices (``dct_matrix``)."""

    def __init__(self, spec: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__(spec, ctx)
        # Buffers, not parameters: the transform is fixed, and not saved with the weights.
        self.register_buffer("c_seq", dct_matrix(ctx.seq_len), persistent=False)
        self.register_buffer("c_width", dct_matrix(ctx.width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_seq @ x @ self.c_width.T  # (B, L, d)

    @classmethod
    def count_params(cls, spec: dict[str, Any], ctx: MixerContext) -> int:
        return 0

    @classmethod
    def trace(cls, spec: dict[str, Any], ctx: MixerContext, batch: int) -> list[Call]:
        return [("dct", {"b": batch, "seq": ctx.seq_len, "width": ctx.width})]


class DFTHead(BaseHead):
    """DFT head: O = Re(F_L·V·F_{d_h}) on the head's value slice."""

    projections: ClassVar[int] = 1

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return real_dft2(v)  # (B, h, L, d_h)

    @classmethod
    def trace(cls, spec: dict[str, Any], heads: int, ctx: MixerContext, batch: int) -> list[Call]:
        return [("fft", {"b": batch * heads, "seq": ctx.seq_len, "width": spec["head_dim"]})]


class DCTHead(BaseHead):
    """DCT head: O = C_L·V·C_{d_h}ᵀ on the head's value slice."""

    projections: ClassVar[int] = 1

    def __init__(self, spec: dict[str, Any], heads: int, ctx: MixerContext) -> None:
        super().__init__(spec, heads, ctx)
        self.register_buffer("c_seq", dct_matrix(ctx.seq_len), persistent=False)
        self.register_buffer("c_width", dct_matrix(spec["head_dim"]), persistent=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.c_seq @ v @ self.c_width.T  # (B, h, L, d_h)

    @classmethod
    def trace(cls, spec: dict[str, Any], heads: int, ctx: MixerContext, batch: int) -> list[Call]:
        return [("dct", {"b": batch * heads, "seq": ctx.seq_len, "width": spec["head_dim"]})]
