"""Plain-PyTorch sliding-window softmax attention (the oracle of the window kernels)."""

from __future__ import annotations

import math

import torch


def window_mask(n: int, window: int, causal: bool, device: torch.device | str) -> torch.Tensor:
    """(n, n) boolean mask, True where query i may attend key j: |i − j| ≤ w (j ≤ i if causal)."""
    i = torch.arange(n, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    # Not in place (&=): ONNX export has no in-place and.
    return (j >= i - window) & (j <= (i if causal else i + window))


def naive_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, causal: bool = False
) -> torch.Tensor:
    """O_i = Σ_{j ∈ [i−w, i+w]} softmax_j(q_i·k_j/√d)·v_j; [i−w, i] when causal.

    Args:
        q, k, v: (batch, heads, seq, head_dim).
        window: w ≥ 0, the number of neighbours on each side.
        causal: drop the right-hand side of the window.
    """
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    keep = window_mask(q.shape[-2], window, causal, q.device)
    s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ v
