"""BOSHNAS (Tuli et al., JAIR 2023) over any DSL space: batched, constrained, multi-objective."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import cdist
from scipy.stats import rankdata

from nas.searchers._base import BaseSearcher
from nas.searchers._base import Record
from nas.searchers._base import enumerate_space
from nas.searchers._base import to_architecture
from nas.searchers._boshnas._embedding import GraphEmbedding
from nas.searchers._boshnas._gobi import gobi
from nas.searchers._boshnas._surrogates import Surrogates
from nas.searchers._boshnas._transfer import overlap
from nas.searchers._objectives import chebyshev
from nas.searchers._objectives import improves
from nas.searchers._registry import register_searcher
from space import Architecture

# Per suggestion: optimisation (GOBI or exact) below 0.8, uncertainty sampling up to 0.9,
# diversity sampling above.
SPLIT = (0.8, 0.9)
# Convergence: the aleatoric phase starts at PATIENCE stalled rounds, the search has converged
# at CONVERGED (boshnas.md §3.4).
PATIENCE = 5
CONVERGED = 10
# Targets are the ranks of the (scalarised) losses mapped onto [LOW, HIGH], recomputed from
# every result each round: a loss worse than any seen so far is still representable under the
# sigmoid (fixes §4, item 5), and outliers such as diverged runs cannot squash every other
# target into a sliver of the range. A result that breaks a measured constraint gets BROKEN.
LOW, HIGH, BROKEN = 0.1, 0.9, 0.95
# Pools and their embeddings are pure functions of (space, seed, size, dim); a small cache lets
# a restored searcher (and the many searchers of a benchmark) skip recomputing them.
_POOL_CACHE = 8
_POOLS: dict[tuple[Any, ...], tuple[list[Architecture], bool, GraphEmbedding, np.ndarray]] = {}
# Good results whose neighbours join a sampled pool each round, and how many neighbours.
GROW_FROM, GROW_BY = 3, 32
# An enumerated pool is optimised exactly: a candidate is a local minimum of the acquisition when
# it beats its NEIGHBOURS nearest admissible candidates in the embedding.
NEIGHBOURS = 8


def _build_pool(
    space: Any, seed: int, size: int, dim: int
) -> tuple[list[Architecture], bool, GraphEmbedding, np.ndarray]:
    everything = enumerate_space(space, limit=size)
    exhaustive = everything is not None
    if everything is None:
        rng = np.random.default_rng([seed, 1])
        found: dict[Architecture, None] = {}
        for _ in range(3 * size):
            if len(found) >= size:
                break
            found[space.sample(rng)] = None
        everything = list(found)
    embedding = GraphEmbedding(space, dim)
    return everything, exhaustive, embedding, embedding.fit(everything)


@register_searcher("boshnas")
class BOSHNASSearcher(BaseSearcher):
    """BOSHNAS: graph-embedding surrogates with epistemic and aleatoric uncertainty, optimised
    under a lower-confidence-bound acquisition by second-order GOBI (exactly, when the space
    is small enough to enumerate).

    Each :meth:`ask` (a round) follows ``../shared/reference/boshnas.md`` §3:

    * candidates are a pool of architectures: the whole space when it has at most
      ``pool_size``, otherwise ``pool_size`` samples plus, each round, neighbours of the best
      results; every candidate is embedded by WL graph features and classical MDS (see
      :mod:`._embedding`);
    * until ``n_init`` results are told, suggestions spread over the embedding by k-means++
      seeding (each pool member drawn with probability proportional to its squared distance
      to everything told, pending or chosen), not uniformly: a pool is often clustered (a
      tabular benchmark's active-learning library, a grown pool), and uniform draws then give
      the first surrogate nothing from the sparse regions;
    * then the teacher, student and NPN are retrained (warm-started) on *every* result told so
      far (the original trained on stale data, §4 item 4) and each of the ``n`` suggestions
      is, with probability 0.8 / 0.1 / 0.1, the next optimisation result, the most uncertain
      pool member (student output), or a uniformly random pool member;
    * optimisation minimises ``mu - 0.5 (xi_e + [aleatoric] xi_a)``. When the pool is the whole
      space it is scored exactly: the results are the admissible local minima of the
      acquisition over the pool (each beats its ``NEIGHBOURS`` nearest admissible candidates
      in the embedding), best first, so the first is the exact argmin and a batch takes one
      point per basin instead of near-copies of one architecture, as GOBI's distinct snaps
      from several starts would. Otherwise GOBI minimises it with AdaHessian from
      ``max(starts, n)`` pool embeddings and snaps each result to the nearest admissible pool
      embedding (mean absolute difference); distinct snaps give a batch of distinct points,
      pending and told architectures are never snapped to. Missing optimisation slots are
      filled with the best acquisition values over the pool;
    * several objectives are scalarised per round by an augmented Chebyshev function with
      random Dirichlet weights (ParEGO), so successive rounds aim at different parts of the
      Pareto front;
    * the convergence counter counts finished rounds that used optimisation and brought no
      result that no earlier result weakly dominates; a round is judged only once all its
      suggestions are told, so asynchronous results in flight never advance it. At 5 the
      aleatoric term enters the acquisition; at 10 :attr:`converged` is True (asking still
      works).

    ``state_dict`` holds the told history, the surrogate weights as nested lists (exact through
    JSON, so a restored searcher asks exactly what the original would), the grown part of the
    pool and the round bookkeeping; the sampled pool and its embedding are recomputed from the
    space and the seed. Evaluators that can reuse weights call :meth:`warm_start_from`.

    Args:
        n_init: results of the spread initial design before the surrogates take over (10).
        pool_size: sampled candidates when the space is too large to enumerate.
        dim: embedding dimension (16).
        starts: GOBI starting points per round (10).
        **kwargs: see :class:`BaseSearcher`.
    """

    def __init__(
        self,
        *,
        n_init: int = 10,
        pool_size: int = 1024,
        dim: int = 16,
        starts: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_init, self.pool_size, self.dim, self.starts = n_init, pool_size, dim, starts
        self._pool_seed = self.seed
        self._pool: list[Architecture] | None = None
        self._exhaustive = False
        self._rows: dict[Architecture, int] = {}
        self._grown: list[Architecture] = []
        self._x = np.zeros((0, dim))
        self._surrogates: Surrogates | None = None
        self._rounds: list[dict[str, Any]] = []
        self._accounted = 0
        self._counter = 0

    @property
    def converged(self) -> bool:
        """The convergence rule has fired (10 stalled GOBI rounds)."""
        return self._counter >= CONVERGED

    @property
    def aleatoric(self) -> bool:
        """Whether the aleatoric term is in the acquisition (after 5 stalled rounds)."""
        return self._counter >= PATIENCE

    def warm_start_from(
        self, arch: Architecture, min_overlap: float = 0.8
    ) -> tuple[Architecture | None, float]:
        """The trained architecture whose weights best seed ``arch`` (boshnas.md §3.5).

        Called by evaluators that support weight transfer before training ``arch``.

        Returns:
            ``(neighbour, overlap)`` for the told, successful architecture with the highest
            overlap (ties: nearest embedding), or ``(None, best_overlap)`` when it is below
            ``min_overlap``.
        """
        arch = to_architecture(arch)
        best, best_key = None, (-1.0, 0.0)
        query = arch.to_dict()
        for record in self._ok_records():
            if record.arch == arch:
                continue
            score = overlap(query, record.arch.to_dict(), self._decisions)
            near = -float(np.abs(self._embed(arch) - self._embed(record.arch)).mean())
            if (score, near) > best_key:
                best, best_key = record.arch, (score, near)
        if best is None or best_key[0] < min_overlap:
            return None, max(best_key[0], 0.0)
        return best, best_key[0]

    def _decisions(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.space.decisions(data)

    # The pool and its embedding.

    def _ensure_pool(self) -> None:
        if self._pool is not None:
            return
        key = (self.space.hash, self._pool_seed, self.pool_size, self.dim)
        if key not in _POOLS:
            _POOLS[key] = _build_pool(self.space, self._pool_seed, self.pool_size, self.dim)
            while len(_POOLS) > _POOL_CACHE:
                del _POOLS[next(iter(_POOLS))]
        self._pool, self._exhaustive, self._embedding, self._x = _POOLS[key]
        self._rows = {a: i for i, a in enumerate(self._pool)}
        grown, self._grown = self._grown, []
        self._add(grown)

    def _add(self, archs: list[Architecture]) -> None:
        new = [a for a in dict.fromkeys(archs) if a not in self._rows]
        if not new:
            return
        start = len(self._x)
        self._x = np.vstack([self._x, self._embedding.transform(new)])
        for i, arch in enumerate(new):
            self._rows[arch] = start + i
        self._grown.extend(new)

    def _candidates(self) -> list[Architecture]:
        assert self._pool is not None
        return self._pool + self._grown

    def _embed(self, arch: Architecture) -> np.ndarray:
        # Embedding an outsider does not add it to the pool: that would change later asks.
        self._ensure_pool()
        if arch in self._rows:
            return self._x[self._rows[arch]]
        return self._embedding.transform([arch])[0]

    # Rounds.

    def _suggest(self, n: int) -> list[Architecture]:
        self._ensure_pool()
        self._account()
        rng = self._rng()
        ok = self._ok_records()
        chosen: list[Architecture] = []
        used_opt = False
        candidates = self._candidates()
        open_rows = ([i for i, a in enumerate(candidates) if self._admissible(a)]
                     if self._exhaustive else [])
        if self._exhaustive and len(open_rows) <= n:
            # Nothing left to choose between: skip the surrogates.
            chosen = [candidates[i] for i in open_rows]
        elif len(ok) < self.n_init:
            chosen = self._spread(n, rng, chosen)
        else:
            self._grow(ok, rng)
            targets = self._targets(ok, rng)
            rows = np.array([self._rows[r.arch] if r.arch in self._rows else -1 for r in ok])
            if (rows < 0).any():
                self._add([r.arch for r in ok])
                rows = np.array([self._rows[r.arch] for r in ok])
            if self._surrogates is None:
                self._surrogates = Surrogates(self.dim, int(rng.integers(2**31)))
            self._surrogates.fit(self._x[rows], targets, int(rng.integers(2**31)))
            draws = rng.random(n)
            n_opt = int((draws <= SPLIT[0]).sum())
            scores, epistemic = self._pool_scores()
            optimised: list[int] = []
            if n_opt:
                optimised = (
                    self._local_minima(scores, open_rows)
                    if self._exhaustive
                    else self._gobi(max(self.starts, n_opt), scores, rng)
                )
            used_opt = n_opt > 0
            ranked = iter(optimised + list(np.argsort(scores, kind="stable")))
            by_doubt = iter(np.argsort(-epistemic, kind="stable"))
            for r in draws:
                source = ranked if r <= SPLIT[0] else by_doubt if r <= SPLIT[1] else None
                if source is None:
                    self._diverse(len(chosen) + 1, rng, chosen)
                    continue
                for i in source:
                    arch = self._candidates()[i]
                    if self._admissible(arch, chosen):
                        chosen.append(arch)
                        break
        chosen = self._random_fill(n, rng, chosen) if len(chosen) < n else chosen
        self._rounds.append(
            {
                "archs": [a.to_json() for a in chosen],
                "gobi": used_opt,
                "before": len(self._history),
            }
        )
        return chosen

    def _diverse(
        self, n: int, rng: np.random.Generator, chosen: list[Architecture]
    ) -> list[Architecture]:
        """Uniformly random admissible pool members (indices in [0, N), unlike the original)."""
        candidates = self._candidates()
        for i in rng.permutation(len(candidates)):
            if len(chosen) >= n:
                break
            if self._admissible(candidates[i], chosen):
                chosen.append(candidates[i])
        return chosen

    def _spread(
        self, n: int, rng: np.random.Generator, chosen: list[Architecture]
    ) -> list[Architecture]:
        """k-means++ seeding over the embedding, away from everything told, pending or chosen."""
        candidates = self._candidates()
        open_ = np.array([self._admissible(a, chosen) for a in candidates])
        seen = [self._rows[a] for a in (*self._told, *self._pending, *chosen) if a in self._rows]
        far = np.full(len(candidates), np.inf)
        for row in seen:
            far = np.minimum(far, np.linalg.norm(self._x - self._x[row], axis=1))
        while len(chosen) < n and open_.any():
            weights = np.where(open_, far**2 if seen else 1.0, 0.0)
            if weights.sum() <= 0:
                # Every open candidate sits on a seen embedding: nothing left to spread over.
                weights = open_.astype(float)
            i = int(rng.choice(len(candidates), p=weights / weights.sum()))
            chosen.append(candidates[i])
            seen.append(i)
            open_[i] = False
            far = np.minimum(far, np.linalg.norm(self._x - self._x[i], axis=1))
        return chosen

    def _local_minima(self, scores: np.ndarray, open_rows: list[int]) -> list[int]:
        """The rows of ``open_rows`` (the admissible pool rows) whose acquisition beats their
        nearest admissible candidates."""
        rows = np.array(open_rows)
        if len(rows) < 2:
            return [int(i) for i in rows]
        dist = cdist(self._x[rows], self._x[rows], "sqeuclidean")
        np.fill_diagonal(dist, np.inf)
        k = min(NEIGHBOURS, len(rows) - 1)
        near = np.argpartition(dist, k - 1, axis=1)[:, :k]
        mine = scores[rows]
        minima = rows[(mine[:, None] <= mine[near]).all(axis=1)]
        return [int(i) for i in minima[np.argsort(scores[minima], kind="stable")]]

    def _grow(self, ok: list[Record], rng: np.random.Generator) -> None:
        if self._exhaustive:
            return
        best = sorted(ok, key=lambda r: (r.violation, r.losses))[:GROW_FROM]
        found: list[Architecture] = []
        for record in best:
            near = [a for a in self.space.neighbors(record.arch) if a not in self._rows]
            if len(near) > GROW_BY:
                near = [near[i] for i in sorted(rng.choice(len(near), GROW_BY, replace=False))]
            found.extend(near)
        self._add(found)

    def _targets(self, ok: list[Record], rng: np.random.Generator) -> np.ndarray:
        points = np.array([r.losses for r in ok], dtype=float)
        if points.shape[1] == 1:
            s = points[:, 0]
        else:
            s = chebyshev(points, rng.dirichlet(np.ones(points.shape[1])))
        ranks = rankdata(s) - 1
        y = LOW + (HIGH - LOW) * ranks / max(len(s) - 1, 1)
        broken = np.array([r.violation > 0 for r in ok])
        y[broken] = BROKEN
        return y

    def _acquisition(self, x: torch.Tensor) -> torch.Tensor:
        assert self._surrogates is not None
        mean, epistemic, aleatoric = self._surrogates.predict(x)
        return mean - 0.5 * (epistemic + (aleatoric if self.aleatoric else 0.0))

    def _pool_scores(self) -> tuple[np.ndarray, np.ndarray]:
        assert self._surrogates is not None
        with torch.no_grad():
            x = torch.as_tensor(self._x, dtype=torch.float32)
            score = self._acquisition(x).numpy()
            epistemic = self._surrogates.student(x).squeeze(-1).numpy()
        return score, epistemic

    def _gobi(self, k: int, scores: np.ndarray, rng: np.random.Generator) -> list[int]:
        """Pool rows GOBI lands on, best acquisition first, one per start when possible."""
        x = torch.as_tensor(self._x, dtype=torch.float32)
        starts = x[rng.integers(len(x), size=k)]
        low, high = x.min(dim=0).values, x.max(dim=0).values
        pool = x

        def nearest(points: torch.Tensor) -> torch.Tensor:
            return torch.cdist(points, pool, p=1).argmin(dim=1)

        found = gobi(
            self._acquisition, starts, low, high, int(rng.integers(2**31)), snap=nearest
        ).numpy()
        candidates = self._candidates()
        landed: dict[int, None] = {}
        for point in found:
            for i in np.argsort(np.abs(self._x - point).mean(axis=1), kind="stable"):
                if int(i) not in landed and self._admissible(candidates[i], ()):
                    landed[int(i)] = None
                    break
        return sorted(landed, key=lambda i: scores[i])

    def _account(self) -> None:
        """Advance the convergence counter over rounds whose results are all told."""
        told = {r.arch.to_json(): r for r in self._history}
        while self._accounted < len(self._rounds):
            round_ = self._rounds[self._accounted]
            if any(a not in told for a in round_["archs"]):
                break
            earlier = np.array(
                [r.losses for r in self._history[: round_["before"]] if r.ok and not r.violation]
            ).reshape(-1, len(self.objectives))
            new = [told[a] for a in round_["archs"]]
            better = any(r.ok and not r.violation and improves(r.losses, earlier) for r in new)
            self._counter = self._counter + 1 if round_["gobi"] and not better else 0
            self._accounted += 1

    # State.

    def _extra_state(self) -> dict[str, Any]:
        return {
            "pool_seed": self._pool_seed,
            "grown": [a.to_json() for a in self._grown],
            "surrogates": None if self._surrogates is None else self._surrogates.state(),
            "rounds": self._rounds,
            "accounted": self._accounted,
            "counter": self._counter,
        }

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self._pool_seed = int(extra.get("pool_seed", self.seed))
        self._pool, self._rows, self._x = None, {}, np.zeros((0, self.dim))
        self._grown = [to_architecture(a) for a in extra.get("grown", [])]
        self._surrogates = None
        if extra.get("surrogates") is not None:
            self._surrogates = Surrogates(self.dim, 0)
            self._surrogates.load(extra["surrogates"])
        self._rounds = [dict(r) for r in extra.get("rounds", [])]
        self._accounted = int(extra.get("accounted", 0))
        self._counter = int(extra.get("counter", 0))
