"""Searchers: what to evaluate next (random, evolution, tpe, nsga2, gp, boshnas, oneshot).

``make_searcher(name, space=..., objectives=..., constraints=..., feasible=..., seed=...)``
builds one; the classes load lazily so importing ``nas`` does not import torch or optuna.
"""

from __future__ import annotations

from nas.searchers._base import BaseSearcher
from nas.searchers._base import Record
from nas.searchers._pool import PoolSpace
from nas.searchers._registry import make_searcher
from nas.searchers._registry import register_searcher
from nas.searchers._registry import searcher_names

__all__ = [
    "BaseSearcher",
    "PoolSpace",
    "Record",
    "make_searcher",
    "register_searcher",
    "searcher_names",
]
