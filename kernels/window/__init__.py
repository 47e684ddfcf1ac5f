"""Sliding-window softmax attention: references here, the Triton entry point in ``function``.

``function`` imports Triton, so it is imported only when a Triton path runs.
"""

from __future__ import annotations

from kernels.window.naive import naive_window_attention
from kernels.window.naive import window_mask

__all__ = [
    "naive_window_attention",
    "window_mask",
]
