"""Graph-similarity embedding of architectures ("Transformer2vec", boshnas.md §2).

Each architecture's graph (``arch.graph()``, FlexiBERT's computational graph for transformers)
becomes a Weisfeiler-Lehman subtree feature vector: the counts of node labels refined over a few
rounds by the sorted labels of predecessors and successors, hashed into a fixed number of
buckets with a process-independent hash. Normalised, the WL kernel is the dot product of these
vectors, so the dissimilarity ``sqrt(2 - 2 k)`` is Euclidean in feature space and classical
(metric) MDS of it is exactly a PCA of the normalised features: we take the top ``dim``
principal axes over the candidate pool. That avoids the original's interpolated 1 %-sampled
GED matrix (boshnas.md §4, item 7), and new candidates are placed by projecting onto the same
axes instead of recomputing the whole embedding.

The space's own ``encode`` is appended with a small weight, so decisions a graph does not show
(e.g. a learning rate) still separate architectures and snapping stays unambiguous.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.extmath import randomized_svd

from space import Architecture

WL_ROUNDS = 3
BUCKETS = 2048
# Weight of the space encoding relative to the unit-norm WL features.
ENCODING_WEIGHT = 0.5


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def wl_features(arch: Architecture, rounds: int = WL_ROUNDS, buckets: int = BUCKETS) -> np.ndarray:
    """Hashed Weisfeiler-Lehman subtree counts of ``arch.graph()``, L2-normalised."""
    graph = arch.graph()
    labels = {node: _hash(str(data.get("op", ""))) for node, data in graph.nodes(data=True)}
    vec = np.zeros(buckets)
    for step in range(rounds + 1):
        for label in labels.values():
            vec[int(label, 16) % buckets] += 1.0
        if step == rounds:
            break
        labels = {
            node: _hash(
                labels[node]
                + "<" + ",".join(sorted(labels[p] for p in graph.predecessors(node)))
                + ">" + ",".join(sorted(labels[s] for s in graph.successors(node)))
            )
            for node in graph.nodes
        }  # fmt: skip
    return vec / max(np.linalg.norm(vec), 1e-12)


class GraphEmbedding:
    """Fixed-dimension embedding fitted on a candidate pool; values scaled to [0, 1] there.

    Args:
        space: gives ``encode`` (its ``encoding_size`` fixes the appended part).
        dim: embedding dimension d (16 as in FlexiBERT).
    """

    def __init__(self, space: Any, dim: int = 16) -> None:
        self.space = space
        self.dim = dim

    def _features(self, archs: Sequence[Architecture]) -> np.ndarray:
        rows = []
        for arch in archs:
            enc = np.asarray(self.space.encode(arch), dtype=float)
            scale = ENCODING_WEIGHT / np.sqrt(max(len(enc), 1))
            rows.append(np.concatenate([wl_features(arch), scale * enc]))
        return np.array(rows)

    def fit(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Learn the axes from ``archs`` and return their embeddings, shape (n, dim)."""
        feats = self._features(archs)
        self.mean_ = feats.mean(axis=0)
        k = max(1, min(self.dim, len(archs) - 1))
        # Seeded randomized SVD with sign flipping: fast for thousands of candidates and the
        # same axes in every process.
        _, _, vt = randomized_svd(feats - self.mean_, n_components=k, random_state=0)
        self.axes_ = vt.T
        raw = (feats - self.mean_) @ self.axes_
        self.low_, span = raw.min(axis=0), np.ptp(raw, axis=0)
        self.span_ = np.where(span > 1e-12, span, 1.0)
        return self._scale(raw)

    def transform(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Embed architectures outside the fitted pool onto the same axes."""
        if not archs:
            return np.zeros((0, self.axes_.shape[1]))
        return self._scale((self._features(archs) - self.mean_) @ self.axes_)

    def _scale(self, raw: np.ndarray) -> np.ndarray:
        out = (raw - self.low_) / self.span_
        if out.shape[1] < self.dim:
            # Fewer architectures than dimensions: pad so the surrogates keep a fixed input size.
            out = np.pad(out, ((0, 0), (0, self.dim - out.shape[1])), constant_values=0.5)
        return out
