"""Exceptions of the ``kernels`` package."""

from __future__ import annotations


class KernelError(ValueError):
    """An invalid kernel argument: the message states the rule, the value and the fix."""


class KernelUnavailableError(RuntimeError):
    """A requested backend or device cannot run here (no GPU, no Triton)."""
