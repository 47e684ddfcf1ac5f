"""hetnas search layer: studies, searchers, the Ray runner and the ``nas`` CLI.

The public names load on first use (PEP 562), so ``import nas`` and the read-only commands of
the ``nas`` CLI stay fast: only ``nas run`` pays for Ray, torch and the searchers.
"""

from __future__ import annotations

import importlib
from typing import Any

from nas._errors import UserError

# Public name -> module that defines it.
_LAZY = {
    "BaseSearcher": "nas.searchers",
    "RunResult": "nas._runner",
    "Study": "nas._study",
    "Supernet": "nas.searchers._oneshot",
    "make_searcher": "nas.searchers",
    "register_searcher": "nas.searchers",
    "run": "nas._runner",
}

__all__ = [
    "BaseSearcher",
    "RunResult",
    "Study",
    "Supernet",
    "UserError",
    "make_searcher",
    "register_searcher",
    "run",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'nas' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
