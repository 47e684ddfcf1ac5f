"""hetnas search layer: studies, searchers, the Ray runner and the ``nas`` CLI."""

from __future__ import annotations

from nas._errors import UserError

__all__ = [
    "UserError",
]
