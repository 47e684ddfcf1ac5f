"""Linear attention: references here, the Triton entry point in ``function``.

``function`` imports Triton, so it is imported only when a Triton path runs.
"""

from __future__ import annotations

from kernels.linear.naive import chunk_linear_attention
from kernels.linear.naive import naive_linear_attention

__all__ = [
    "chunk_linear_attention",
    "naive_linear_attention",
]
