"""Attention kernels (Triton, with plain-PyTorch references) and the kernel profiler.

``attention`` runs the Triton kernels on CUDA tensors and under ``TRITON_INTERPRET=1``, torch
ops otherwise; ``profile`` times the primitives the latency model is built from, with the
load-robust clock and estimator of ``clock_ns`` and ``robust_estimate``.
"""

from __future__ import annotations

from kernels._attention import ATTENTION_KINDS
from kernels._attention import attention
from kernels._attention import attention_backend
from kernels._errors import KernelError
from kernels._errors import KernelUnavailableError
from kernels._profile import PROFILE_OPS
from kernels._profile import profile
from kernels._timing import ESTIMATE_QUANTILE
from kernels._timing import NOISY
from kernels._timing import clock_ns
from kernels._timing import robust_estimate
from kernels.linear.naive import naive_linear_attention
from kernels.score.naive import naive_score_attention
from kernels.softmax.naive import naive_softmax_attention
from kernels.window.naive import naive_window_attention

__all__ = [
    "ATTENTION_KINDS",
    "ESTIMATE_QUANTILE",
    "NOISY",
    "KernelError",
    "KernelUnavailableError",
    "PROFILE_OPS",
    "attention",
    "attention_backend",
    "clock_ns",
    "naive_linear_attention",
    "naive_score_attention",
    "naive_softmax_attention",
    "naive_window_attention",
    "profile",
    "robust_estimate",
]
