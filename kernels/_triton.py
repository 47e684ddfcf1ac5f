"""When the Triton path can run: CUDA tensors, or any tensor under ``TRITON_INTERPRET=1``.

Triton is imported only by the kernel modules, and those only when a Triton path is taken, so
``import kernels`` works without Triton and the interpreter switch can still be set late.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os

import torch

logger = logging.getLogger("kernels")

#: Head dims the Triton kernels compile for: ``tl.dot`` needs ≥ 16, tiles need powers of two.
TRITON_HEAD_DIMS = (16, 32, 64, 128)
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def interpret_mode() -> bool:
    """True when ``TRITON_INTERPRET=1``: Triton kernels then run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@functools.cache
def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


@functools.cache
def log_once(message: str) -> None:
    logger.info(message)


def triton_unsupported(q: torch.Tensor) -> str | None:
    """Why the Triton kernels cannot take ``q``, or None when they can."""
    if not triton_available():
        return "Triton is not installed (pip install 'hetnas[triton]')"
    if q.shape[-1] not in TRITON_HEAD_DIMS:
        return f"head_dim {q.shape[-1]} is not one of {list(TRITON_HEAD_DIMS)}"
    if q.dtype not in TRITON_DTYPES:
        return f"dtype {q.dtype} is not one of {[str(t) for t in TRITON_DTYPES]}"
    if q.dtype == torch.bfloat16 and not q.is_cuda:
        # The interpreter's tl.dot returns garbage for bfloat16 operands (Triton 3.9).
        return "the Triton interpreter cannot multiply bfloat16 tiles"
    return None


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision: IEEE for fp32, since TF32 would miss the 1e-4 tolerance."""
    return "ieee" if dtype == torch.float32 else "tf32"


def cdiv(a: int, b: int) -> int:
    return -(-a // b)
