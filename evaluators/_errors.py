"""Exceptions of the ``evaluators`` package."""

from __future__ import annotations


class EvaluatorError(ValueError):
    """An invalid evaluator argument or architecture: the message states the rule, the value and
    the fix."""


class NotCalibratedError(EvaluatorError, LookupError):
    """A device needs a calibrated latency model that storage does not hold yet."""
