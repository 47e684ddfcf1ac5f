"""Softmax attention: references here, the Triton entry point in ``function``.

``function`` imports Triton, so it is imported only when a Triton path runs.
"""

from __future__ import annotations

from kernels.softmax.naive import naive_softmax_attention

__all__ = [
    "naive_softmax_attention",
]
