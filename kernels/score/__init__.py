"""Score-function attention: references here, the Triton entry point in ``function``.

``function`` imports Triton, so it is imported only when a Triton path runs.
"""

from __future__ import annotations

from kernels.score.naive import naive_score_attention
from kernels.score.naive import scale_attention_reassociated

__all__ = [
    "naive_score_attention",
    "scale_attention_reassociated",
]
