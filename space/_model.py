"""The transformer that ``build`` returns, assembled from an architecture dict (interfaces §1).

Pre-norm blocks ``x = x + mixer(norm(x)); x = x + ffn(norm(x))``, a Linear between layers of
different widths, a final norm, then a classification or language-modelling head.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from space._errors import SpaceError
from space.mixers import MixerContext
from space.mixers import make_mixer
from space.mixers._base import factor_rank
from space.mixers._base import make_linear

#: Seed of ``example_input``: latency is predicted for one fixed input.
EXAMPLE_SEED = 0


def as_dict(arch: Any) -> dict[str, Any]:
    """The plain dict of an ``Architecture`` (``to_dict()``) or of a dict, checked to be one."""
    a = arch.to_dict() if hasattr(arch, "to_dict") else arch
    if not isinstance(a, dict) or a.get("family") != "transformer":
        raise SpaceError(
            "build, trace and the counts need a transformer architecture (a dict with "
            f"'family': 'transformer', docs/interfaces.md §1); got {type(a).__name__} with "
            f"family {a.get('family') if isinstance(a, dict) else None!r}. Build such "
            "architectures from a space made with space.transformer(...)."
        )
    if a["task"] == "lm" and a["input"]["type"] != "tokens":
        raise SpaceError(
            f"task 'lm' predicts tokens, so input.type must be 'tokens'; got "
            f"{a['input']['type']!r}. Use task 'classify' for images."
        )
    return a


def class_token(a: dict[str, Any]) -> bool:
    """Image inputs with ``cls`` pooling carry a learned class token."""
    return a["input"]["type"] == "image" and a["task"] == "classify" and a["pool"] == "cls"


def sequence_length(a: dict[str, Any]) -> int:
    """L: ``seq_len`` for tokens; (image_size // patch)² patches (+1 class token) for images."""
    inp = a["input"]
    if inp["type"] == "tokens":
        return inp["seq_len"]
    return (inp["image_size"] // inp["patch"]) ** 2 + class_token(a)


def layer_context(a: dict[str, Any], i: int) -> MixerContext:
    """The ``MixerContext`` of layer i."""
    layer = a["layers"][i]
    return MixerContext(
        layer["width"], sequence_length(a), bool(a["causal"]), layer.get("rank_ratio")
    )


def ffn_linears(layer: dict[str, Any]) -> list[tuple[int, int, int | None]]:
    """(d_in, d_out, rank) of each FFN linear; SwiGLU hidden linears produce gate and value.

    Rank k = max(1, floor(ρ·min(d_in, f))) with f the hidden width (not 2f for SwiGLU).
    """
    dims = [layer["width"], *layer["ffn"], layer["width"]]
    last = len(dims) - 2
    gated = 2 if layer["activation"] == "swiglu" else 1
    return [
        (a, b * (gated if i < last else 1), factor_rank(layer.get("rank_ratio"), min(a, b)))
        for i, (a, b) in enumerate(pairwise(dims))
    ]


def norm_params(kind: str, width: int) -> int:
    """LayerNorm has a gain and a bias per channel, RMSNorm a gain only."""
    return 2 * width if kind == "layernorm" else width


def make_norm(kind: str, width: int) -> nn.Module:
    if kind == "layernorm":
        return nn.LayerNorm(width)
    return nn.RMSNorm(width)


def activate(kind: str, x: torch.Tensor) -> torch.Tensor:
    """gelu, relu, quad = 0.125x² + 0.5x + 0.25 (MPCFormer code), swiglu = SiLU(a) ⊙ b."""
    if kind == "gelu":
        return F.gelu(x)
    if kind == "relu":
        return F.relu(x)
    if kind == "quad":
        return 0.125 * x * x + 0.5 * x + 0.25
    gate, value = x.chunk(2, dim=-1)
    return F.silu(gate) * value


class FeedForward(nn.Module):
    """FFN stack over hidden widths f_1..f_n: h_i = σ(W_i·h_{i−1}), y = W_out·h_n.

    With SwiGLU, W_i maps to 2f_i and σ(W_i h) = SiLU(W_i^a h) ⊙ W_i^b h.
    """

    def __init__(self, layer: dict[str, Any]) -> None:
        super().__init__()
        self.activation = layer["activation"]
        self.linears = nn.ModuleList(make_linear(a, b, r) for a, b, r in ffn_linears(layer))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, out = self.linears
        for linear in hidden:
            x = activate(self.activation, linear(x))
        return out(x)


class Block(nn.Module):
    """Pre-norm block: x = x + mixer(norm₁(x)); x = x + ffn(norm₂(x)) (no FFN when ffn = [])."""

    def __init__(self, layer: dict[str, Any], ctx: MixerContext) -> None:
        super().__init__()
        d = layer["width"]
        self.norm1 = make_norm(layer["norm"], d)
        self.mixer = make_mixer(layer["mixer"], ctx)
        self.norm2 = make_norm(layer["norm"], d) if layer["ffn"] else None
        self.ffn = FeedForward(layer) if layer["ffn"] else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        if self.ffn is not None:
            x = x + self.ffn(self.norm2(x))
        return x


class TokenEmbedding(nn.Module):
    """x_t = E[token_t] + P_t with learned positions P ∈ ℝ^{L×d}."""

    def __init__(self, vocab: int, seq_len: int, width: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Parameter(torch.randn(1, seq_len, width) * 0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tokens(tokens) + self.positions  # (B, L, d)


class PatchEmbedding(nn.Module):
    """ViT tokeniser: a stride-p p×p convolution per patch, an optional class token, positions.

    The class token goes first, or last in a causal model so that it sees every patch.
    """

    def __init__(self, a: dict[str, Any], width: int) -> None:
        super().__init__()
        inp = a["input"]
        self.patches = nn.Conv2d(inp["channels"], width, inp["patch"], stride=inp["patch"])
        self.cls = nn.Parameter(torch.zeros(1, 1, width)) if class_token(a) else None
        self.cls_last = bool(a["causal"])
        self.positions = nn.Parameter(torch.randn(1, sequence_length(a), width) * 0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # The convolution runs as the GEMM of the flattened patches, as space.trace prices it:
        # on the CPU, oneDNN's convolution took 15x that GEMM's time for a 32x32 image at
        # patch 8, which no kernel profile of the trace's ops can see.
        b, c, h, w = images.shape
        p = self.patches.stride[0]
        rows, cols = h // p, w // p
        x = images[:, :, :rows * p, :cols * p].reshape(b, c, rows, p, cols, p)
        x = x.permute(0, 2, 4, 1, 3, 5).reshape(b, rows * cols, c * p * p)
        x = F.linear(x, self.patches.weight.flatten(1), self.patches.bias)  # (B, N, d)
        if self.cls is not None:
            cls = self.cls.expand(x.shape[0], -1, -1)
            x = torch.cat([x, cls] if self.cls_last else [cls, x], dim=1)
        return x + self.positions  # (B, L, d)


class TransformerModel(nn.Module):
    """The model of one transformer architecture dict; ``example_input`` gives its input."""

    def __init__(self, a: dict[str, Any]) -> None:
        super().__init__()
        self.arch = a
        layers = a["layers"]
        widths = [layer["width"] for layer in layers]
        inp = a["input"]
        if inp["type"] == "tokens":
            self.embed: nn.Module = TokenEmbedding(inp["vocab"], inp["seq_len"], widths[0])
        else:
            self.embed = PatchEmbedding(a, widths[0])
        self.blocks = nn.ModuleList(
            Block(layer, layer_context(a, i)) for i, layer in enumerate(layers)
        )
        self.projections = nn.ModuleList(
            nn.Linear(d, e) if d != e else nn.Identity() for d, e in pairwise(widths)
        )
        self.norm = make_norm(layers[-1]["norm"], widths[-1])
        out = inp["vocab"] if a["task"] == "lm" else a["num_classes"]
        self.head = nn.Linear(widths[-1], out)
        # cls pooling reads the first position, or the last in a causal model (the only one
        # that sees the whole sequence).
        self.cls_index = -1 if a["causal"] else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)  # (B, L, d_0)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i < len(self.projections):
                h = self.projections[i](h)
        h = self.norm(h)
        if self.arch["task"] == "lm":
            return self.head(h)  # (B, L, vocab)
        pooled = h.mean(dim=1) if self.arch["pool"] == "mean" else h[:, self.cls_index]
        return self.head(pooled)  # (B, classes)

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """The fixed, seeded input latency is predicted for: token ids or images."""
        gen = torch.Generator().manual_seed(EXAMPLE_SEED)
        inp = self.arch["input"]
        if inp["type"] == "tokens":
            return torch.randint(inp["vocab"], (batch_size, inp["seq_len"]), generator=gen)
        size = inp["image_size"]
        return torch.randn(batch_size, inp["channels"], size, size, generator=gen)
