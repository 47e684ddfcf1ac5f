"""Exceptions of the ``nas`` package."""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in what the user asked for: the message states the rule, the value and the fix."""
