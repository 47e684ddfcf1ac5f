"""Plain-PyTorch softmax attention: the oracle every softmax kernel is tested against."""

from __future__ import annotations

import math

import torch


def naive_softmax_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """O = softmax(QKᵀ/√d + M)·V with the score matrix materialised.

    Args:
        q, k, v: (batch, heads, seq, head_dim).
        causal: mask j > i.

    Returns:
        (batch, heads, seq, head_dim), the dtype of ``q``.
    """
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        n = q.shape[-2]
        keep = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ v
