"""``PoolSpace``: a space restricted to an explicit list of architectures.

Tabular benchmarks (FlexiBERT's evaluated models) and user-supplied candidate sets use it, so
every searcher runs unchanged over a finite pool: whatever a searcher draws or mutates in the
underlying space is snapped to the nearest pool member by the space's encoding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np

from nas._errors import UserError
from space import Architecture

# How many nearest pool members stand in for neighbours when none is exactly one decision away.
_NEAREST = 8


def _generator(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class PoolSpace:
    """The members of ``archs`` (all in ``space``) behind the ``space.Space`` API.

    Args:
        space: the space the architectures come from (its encoding measures nearness).
        archs: the pool; duplicates are dropped, order kept.

    Raises:
        ValueError: when the pool is empty or holds an architecture outside ``space``.
    """

    def __init__(self, space: Any, archs: Sequence[Architecture]) -> None:
        self.space = space
        self.architectures = tuple(dict.fromkeys(archs))
        if not self.architectures:
            raise UserError("A PoolSpace needs at least one architecture; got none.")
        outside = [a.id for a in self.architectures if not space.contains(a)]
        if outside:
            raise UserError(
                f"Every pool member must be in the space (hash {space.hash}); "
                f"{len(outside)} are not, e.g. {outside[0]}. Build them from this space."
            )
        self._index = {a: i for i, a in enumerate(self.architectures)}
        # Each member's decisions, filled on first use: searchers replay told members on every
        # result, and walking the space's tree for them cost as much as the sampler's proposal.
        self._decisions: dict[Architecture, dict[str, Any]] = {}
        self._codes = np.array([space.encode(a) for a in self.architectures])
        ids = "".join(sorted(a.id for a in self.architectures))
        self.hash = hashlib.sha256((space.hash + ids).encode()).hexdigest()[:16]
        self.constraints = getattr(space, "constraints", ())

    def __repr__(self) -> str:
        return f"PoolSpace(hash={self.hash}, size={len(self.architectures)})"

    @property
    def encoding_size(self) -> int:
        return self.space.encoding_size

    def size(self) -> int:
        return len(self.architectures)

    def contains(self, arch: Architecture) -> bool:
        return arch in self._index

    def sample(self, seed: Any = None) -> Architecture:
        return self.architectures[int(_generator(seed).integers(len(self.architectures)))]

    def _nearest(self, code: np.ndarray, exclude: Architecture | None = None) -> Architecture:
        dist = np.abs(self._codes - code).sum(axis=1)
        if exclude is not None and exclude in self._index:
            dist[self._index[exclude]] = np.inf
        return self.architectures[int(np.argmin(dist))]

    def _snap(self, arch: Architecture) -> Architecture:
        return arch if arch in self._index else self._nearest(self.space.encode(arch))

    def draw(self, chooser: Callable[[str, Any], Any]) -> Architecture:
        return self._snap(self.space.draw(chooser))

    def mutate(self, arch: Architecture, seed: Any = None) -> Architecture:
        """A mutant in the underlying space, snapped to the nearest other pool member."""
        if len(self.architectures) == 1:
            return arch
        child = self.space.mutate(arch, _generator(seed))
        if child in self._index and child != arch:
            return child
        return self._nearest(self.space.encode(child), exclude=arch)

    def neighbors(self, arch: Architecture) -> list[Architecture]:
        """Pool members one decision away, or the nearest few by encoding when there are none."""
        near = [a for a in self.space.neighbors(arch) if a in self._index]
        if near:
            return near
        dist = np.abs(self._codes - self.space.encode(arch)).sum(axis=1)
        order = [i for i in np.argsort(dist, kind="stable") if self.architectures[i] != arch]
        return [self.architectures[i] for i in order[:_NEAREST]]

    def encode(self, arch: Architecture) -> np.ndarray:
        i = self._index.get(arch)
        return self.space.encode(arch) if i is None else self._codes[i].copy()

    def decode(self, vec: Any) -> Architecture:
        return self._nearest(np.asarray(vec, dtype=float))

    def decisions(self, arch: Architecture) -> dict[str, Any]:
        if arch not in self._index:
            return self.space.decisions(arch)
        if arch not in self._decisions:
            self._decisions[arch] = self.space.decisions(arch)
        return dict(self._decisions[arch])
