"""One-shot NAS: a weight-sharing supernet over a transformer space and evolution on it."""

from __future__ import annotations

from nas.searchers._oneshot._searcher import OneShotSearcher
from nas.searchers._oneshot._supernet import Supernet

__all__ = ["OneShotSearcher", "Supernet"]
