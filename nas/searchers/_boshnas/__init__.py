"""BOSHNAS: Bayesian optimisation with second-order GOBI over graph embeddings."""

from __future__ import annotations

from nas.searchers._boshnas._searcher import BOSHNASSearcher

__all__ = ["BOSHNASSearcher"]
