"""BOSHNAS (Tuli et al., JAIR 2023) over any DSL space: batched, constrained, multi-objective."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from scipy.special import ndtr
from scipy.stats import rankdata

from nas.searchers._base import BaseSearcher
from nas.searchers._base import Record
from nas.searchers._base import enumerate_space
from nas.searchers._base import to_architecture
from nas.searchers._boshnas._acquisition import expected_improvement
from nas.searchers._boshnas._acquisition import hypervolume_improvement
from nas.searchers._boshnas._acquisition import nondominated
from nas.searchers._boshnas._embedding import GraphEmbedding
from nas.searchers._boshnas._gobi import gobi
from nas.searchers._boshnas._surrogates import Surrogates
from nas.searchers._boshnas._transfer import overlap
from nas.searchers._objectives import pareto_ranks
from nas.searchers._registry import register_searcher
from space import Architecture

# Per suggestion: the acquisition's best below 0.9, the most uncertain candidate up to 0.95,
# a random reference-pool member above (boshnas.md §3's optimisation / uncertainty / diversity
# split, with more weight on optimisation because candidates are already local and global).
SPLIT = (0.9, 0.95)
# Targets are the ranks of each modelled metric mapped onto [LOW, HIGH], recomputed from every
# result each round: robust to outliers (a diverged run, a 100x training time) and to values
# beyond any seen so far, which the sigmoid outputs could not represent otherwise.
LOW, HIGH = 0.1, 0.9
# Reference pools and embeddings are pure functions of (space, size, dim); a small cache lets a
# restored searcher (and the many searchers of a benchmark) skip recomputing them.
_CACHE = 8
_POOLS: dict[tuple[Any, ...], tuple[list[Architecture], bool, GraphEmbedding, np.ndarray]] = {}
_EMBEDDED: dict[tuple[Any, ...], dict[Architecture, np.ndarray]] = {}
# Local candidates per ask: neighbours of up to FRONT good results, NEIGHBOURS of each.
FRONT, NEIGHBOURS = 8, 24
# Candidates sampled from the reference pool per ask, for global moves.
GLOBAL = 256
# GOBI guides walks from the best candidates: HOPS moves, each to the one of HOP_WIDTH sampled
# neighbours nearest to the optimised embedding.
HOPS, HOP_WIDTH = 2, 8
# AdaHessian steps per GOBI run: the optimised embedding only steers short walks, so it needs
# the direction of descent, not convergence (boshnas.md's 200 steps cost seconds per ask).
GOBI_STEPS = 5
# Monte Carlo samples of the surrogates' Gaussian per candidate for expected HVI.
SAMPLES = 32


def _reference(space: Any, size: int, dim: int):
    key = (space.hash, size, dim)
    if key not in _POOLS:
        everything = enumerate_space(space, limit=size)
        exhaustive = everything is not None
        if everything is None:
            rng = np.random.default_rng([int(space.hash[:8], 16), 1])
            found: dict[Architecture, None] = {}
            for _ in range(3 * size):
                if len(found) >= size:
                    break
                found[space.sample(rng)] = None
            everything = list(found)
        embedding = GraphEmbedding(space, dim)
        _POOLS[key] = (everything, exhaustive, embedding, embedding.fit(everything))
        _EMBEDDED[key] = dict(zip(everything, _POOLS[key][3], strict=True))
        while len(_POOLS) > _CACHE:
            oldest = next(iter(_POOLS))
            del _POOLS[oldest], _EMBEDDED[oldest]
    return _POOLS[key], _EMBEDDED[key]


@register_searcher("boshnas")
class BOSHNASSearcher(BaseSearcher):
    """BOSHNAS: graph-embedding surrogates with epistemic and aleatoric uncertainty, whose
    acquisition (expected improvement, or expected hypervolume improvement for several
    objectives, times the probability of meeting measured constraints) is maximised over a
    bounded candidate set that second-order GOBI extends.

    Each :meth:`ask` (a round), following ``../shared/reference/boshnas.md`` §3 where it can:

    * every architecture is embedded by WL graph features and classical MDS fitted once on a
      reference pool (the whole space when it has at most ``pool_size`` members, else
      ``pool_size`` seeded samples; see :mod:`._embedding`); embeddings are cached;
    * until ``n_init`` results are told, suggestions spread over the reference pool by
      k-means++ seeding (away from everything told, pending or chosen);
    * then the teacher, student and NPN (one output per objective and per constrained metric,
      targets the ranks of each) are updated warm, with a fixed number of mini-batch steps, so
      an update costs the same at any history length (see :mod:`._surrogates`);
    * candidates: the whole reference pool when it is the space; otherwise neighbours of up to
      8 results of the best Pareto ranks, ``GLOBAL`` reference-pool members, and short walks
      from the best of them toward the embeddings GOBI (AdaHessian on the surrogates' optimistic
      prediction, ``starts`` starts) reaches. Only admissible architectures are candidates;
    * each candidate's prediction is Gaussian: the NPN mean, and a variance that adds the
      student's epistemic term and the NPN's aleatoric one. One objective: expected
      improvement over the best feasible target; several: expected hypervolume improvement
      over the feasible front, by Monte Carlo over the Gaussians (common random numbers), in
      target space with reference point 1. Either is multiplied by the probability that each
      constrained metric meets its bound;
    * a batch is chosen greedily: with probability 0.9 / 0.05 / 0.05 per slot the acquisition's
      best, the most uncertain candidate, or a random reference-pool member. After each pick
      the acquisition of candidates near it (and near pending architectures) is damped by
      ``1 - exp(-d^2 / 2 l^2)`` (``l``: median nearest-candidate distance), and for several
      objectives the pick's predicted mean joins the front (a believer), so a batch spreads.

    ``state_dict`` holds the told history and the surrogate weights (base64 float32, exact
    through JSON); the reference pool and embeddings are recomputed from the space. Evaluators
    that can reuse weights call :meth:`warm_start_from`.

    Args:
        n_init: results of the spread initial design before the surrogates take over (10).
        pool_size: reference-pool size (the space itself when it is at most this large).
        dim: embedding dimension (16).
        starts: GOBI starts per round (4).
        **kwargs: see :class:`BaseSearcher`.
    """

    def __init__(
        self,
        *,
        n_init: int = 10,
        pool_size: int = 1024,
        dim: int = 16,
        starts: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_init, self.pool_size, self.dim, self.starts = n_init, pool_size, dim, starts
        self._pool: list[Architecture] | None = None
        self._exhaustive = False
        self._surrogates: Surrogates | None = None

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
        mine = self._embed([arch])[0]
        for record in self._ok_records():
            if record.arch == arch:
                continue
            score = overlap(query, record.arch.to_dict(), self._decisions)
            near = -float(np.abs(mine - self._embed([record.arch])[0]).mean())
            if (score, near) > best_key:
                best, best_key = record.arch, (score, near)
        if best is None or best_key[0] < min_overlap:
            return None, max(best_key[0], 0.0)
        return best, best_key[0]

    def _decisions(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.space.decisions(data)

    # Embeddings.

    def _ensure_pool(self) -> None:
        if self._pool is None:
            (pool, exhaustive, embedding, _), cache = _reference(
                self.space, self.pool_size, self.dim
            )
            self._pool, self._exhaustive = pool, exhaustive
            self._embedding, self._cache = embedding, cache

    def _embed(self, archs: list[Architecture]) -> np.ndarray:
        self._ensure_pool()
        new = [a for a in dict.fromkeys(archs) if a not in self._cache]
        if new:
            for arch, row in zip(new, self._embedding.transform(new), strict=True):
                self._cache[arch] = row
        if not archs:
            return np.zeros((0, self._embedding.width))
        return np.array([self._cache[a] for a in archs])

    # Rounds.

    def _suggest(self, n: int) -> list[Architecture]:
        self._ensure_pool()
        assert self._pool is not None
        rng = self._rng()
        ok = self._ok_records()
        if self._exhaustive:
            open_ = [a for a in self._pool if self._admissible(a)]
            if len(open_) <= n:
                return open_
        if len(ok) < self.n_init:
            chosen = self._spread(n, rng)
        else:
            chosen = self._optimise(n, ok, rng)
        return self._random_fill(n, rng, chosen) if len(chosen) < n else chosen

    def _spread(self, n: int, rng: np.random.Generator) -> list[Architecture]:
        """k-means++ seeding over the reference pool, away from everything told or pending."""
        assert self._pool is not None
        chosen: list[Architecture] = []
        x = self._embed(self._pool)
        open_ = np.array([self._admissible(a) for a in self._pool])
        seen = [a for a in (*self._told, *self._pending)]
        far = np.full(len(x), np.inf)
        for row in self._embed(seen):
            far = np.minimum(far, np.linalg.norm(x - row, axis=1))
        while len(chosen) < n and open_.any():
            weights = np.where(open_, far**2 if np.isfinite(far).any() else 1.0, 0.0)
            if weights.sum() <= 0:
                # Every open candidate sits on a seen embedding: nothing left to spread over.
                weights = open_.astype(float)
            i = int(rng.choice(len(x), p=weights / weights.sum()))
            chosen.append(self._pool[i])
            open_[i] = False
            far = np.minimum(far, np.linalg.norm(x - x[i], axis=1))
        return chosen

    def _metrics(self, ok: list[Record]) -> list[tuple[str, Any]]:
        """Constraints whose metric some result reports: they get a surrogate output each."""
        return [
            (c.metric, c) for c in self.constraints
            if any(c.metric in r.metrics and r.metrics[c.metric] is not None for r in ok)
        ]  # fmt: skip

    def _optimise(self, n: int, ok: list[Record], rng: np.random.Generator) -> list[Architecture]:
        k = len(self.objectives)
        measured = self._metrics(ok)
        y, mask, bounds = self._targets(ok, measured)
        width = k + len(measured)
        if self._surrogates is None or self._surrogates.k != width:
            self._surrogates = Surrogates(self._embedding.width, int(rng.integers(2**31)), width)
        x_told = self._embed([r.arch for r in ok])
        self._surrogates.fit(x_told, y, int(rng.integers(2**31)), mask)

        feasible = np.array([r.violation <= 0 for r in ok])
        front = y[feasible, :k] if feasible.any() else np.zeros((0, k))
        candidates = self._candidates(ok, rng)
        if not candidates:
            return []
        scorer = _Scorer(self, front, bounds, measured, rng)
        x = self._embed(candidates)
        if not self._exhaustive and self.starts > 0:
            acq = scorer.score(x)
            extra = self._walks(candidates, x, acq, rng, scorer)
            if extra:
                candidates = candidates + extra
                x = np.vstack([x, self._embed(extra)])
        return self._batch(n, candidates, x, scorer, rng)

    def _targets(self, ok: list[Record], measured: list[tuple[str, Any]]):
        """Rank targets per modelled metric, their mask, and each constraint's bound mapped
        onto the same scale (None when no result reports that metric)."""
        columns = [np.array([r.losses[i] for r in ok]) for i in range(len(self.objectives))]
        mask = [np.ones(len(ok)) for _ in columns]
        bounds = []
        for metric, constraint in measured:
            raw = np.array([
                np.nan if r.metrics.get(metric) is None else float(r.metrics[metric]) for r in ok
            ])  # fmt: skip
            columns.append(raw)
            mask.append(np.isfinite(raw).astype(float))
            bounds.append((constraint, raw[np.isfinite(raw)]))
        y = np.zeros((len(ok), len(columns)))
        for j, column in enumerate(columns):
            y[:, j] = _rank_targets(column)
        mapped = []
        for constraint, seen in bounds:
            # The bound's target: between the ranks of the last value that meets it and the
            # first that breaks it.
            bound = float(constraint.bound)
            inside = seen < bound if constraint.op in ("<", ">=") else seen <= bound
            mapped.append(LOW + (HIGH - LOW) * (inside.sum() - 0.5) / max(len(seen) - 1, 1))
        return y, np.array(mask).T, mapped

    def _candidates(self, ok: list[Record], rng: np.random.Generator) -> list[Architecture]:
        assert self._pool is not None
        if self._exhaustive:
            return [a for a in self._pool if self._admissible(a)]
        found: dict[Architecture, None] = {}
        ranks, ties = _ranks(ok), rng.random(len(ok))
        order = sorted(range(len(ok)), key=lambda i: (ok[i].violation > 0, ranks[i], ties[i]))
        for i in order[:FRONT]:
            near = self.space.neighbors(ok[i].arch)
            if len(near) > NEIGHBOURS:
                near = [near[j] for j in sorted(rng.choice(len(near), NEIGHBOURS, replace=False))]
            for arch in near:
                found[arch] = None
        for j in rng.choice(len(self._pool), min(GLOBAL, len(self._pool)), replace=False):
            found[self._pool[int(j)]] = None
        return [a for a in found if self._admissible(a)]

    def _walks(self, candidates, x, acq, rng, scorer) -> list[Architecture]:
        """Architectures met walking from the best candidates toward GOBI's optima."""
        top = np.argsort(-acq, kind="stable")[: self.starts]
        starts = torch.as_tensor(x[top], dtype=torch.float32)
        low = torch.as_tensor(x.min(axis=0), dtype=torch.float32)
        high = torch.as_tensor(x.max(axis=0), dtype=torch.float32)
        targets = gobi(
            scorer.optimistic, starts, low, high, int(rng.integers(2**31)), max_iters=GOBI_STEPS
        ).numpy()
        known = set(candidates)
        found: dict[Architecture, None] = {}
        for i, goal in zip(top, targets, strict=True):
            here, here_d = candidates[int(i)], float(np.linalg.norm(x[int(i)] - goal))
            for _ in range(HOPS):
                near = self.space.neighbors(here)
                if len(near) > HOP_WIDTH:
                    near = [near[j] for j in rng.choice(len(near), HOP_WIDTH, replace=False)]
                if not near:
                    break
                dist = np.linalg.norm(self._embed(near) - goal, axis=1)
                j = int(np.argmin(dist))
                if dist[j] >= here_d:
                    break
                here, here_d = near[j], float(dist[j])
                if here not in known and self._admissible(here):
                    found[here] = None
        return list(found)

    def _batch(self, n, candidates, x, scorer, rng) -> list[Architecture]:
        acq = scorer.score(x)
        doubt = scorer.doubt
        taken = np.zeros(len(candidates), dtype=bool)
        nearest = _nearest_distances(x)
        scale = float(np.median(nearest)) if len(nearest) else 1.0
        damp = np.ones(len(candidates))
        for row in self._embed(list(self._pending)):
            damp *= _damping(x, row, scale)
        chosen: list[Architecture] = []
        for draw in rng.random(n):
            if taken.all():
                break
            if draw > SPLIT[1]:
                before = len(chosen)
                self._random_pool(chosen, rng)
                if len(chosen) > before and chosen[-1] in candidates:
                    taken[candidates.index(chosen[-1])] = True
                continue
            key = acq * damp if draw <= SPLIT[0] else doubt.copy()
            key = np.where(taken, -np.inf, key)
            i = int(np.argmax(key))
            taken[i] = True
            chosen.append(candidates[i])
            damp *= _damping(x, x[i], scale)
            if scorer.believe(i):
                acq = scorer.score(x)
        return chosen

    def _random_pool(self, chosen: list[Architecture], rng: np.random.Generator) -> None:
        assert self._pool is not None
        for _ in range(64):
            arch = self._pool[int(rng.integers(len(self._pool)))]
            if self._admissible(arch, chosen):
                chosen.append(arch)
                return

    # State.

    def _extra_state(self) -> dict[str, Any]:
        return {"surrogates": None if self._surrogates is None else self._surrogates.state()}

    def _load_extra_state(self, extra: Mapping[str, Any], told: int) -> None:
        self._surrogates = None
        state = extra.get("surrogates")
        if state is not None:
            self._ensure_pool()
            self._surrogates = Surrogates(self._embedding.width, 0, int(state["k"]))
            self._surrogates.load(state)


class _Scorer:
    """The acquisition of one round over embeddings (see :class:`BOSHNASSearcher`)."""

    def __init__(self, searcher, front, bounds, measured, rng) -> None:
        self.surrogates = searcher._surrogates
        self.k = len(searcher.objectives)
        self.front = nondominated(front) if self.k > 1 else front
        self.best = float(front[:, 0].min()) if len(front) and self.k == 1 else HIGH
        self.bounds = bounds
        self.signs = [1.0 if c.op in ("<", "<=", "==") else -1.0 for _, c in measured]
        self.noise = rng.standard_normal((SAMPLES, self.k))
        self.weights = torch.as_tensor(rng.dirichlet(np.ones(self.k)), dtype=torch.float32)
        self._x: np.ndarray | None = None

    def _predict(self, x: np.ndarray):
        with torch.no_grad():
            mean, epistemic, var = self.surrogates.predict(torch.as_tensor(x, dtype=torch.float32))
        width = self.surrogates.k
        mean, epistemic, var = (t.numpy().reshape(len(x), width) for t in (mean, epistemic, var))
        sd = np.sqrt(epistemic.astype(float) ** 2 + var)
        return mean.astype(float), sd

    def score(self, x: np.ndarray) -> np.ndarray:
        if self._x is not x:
            self._x = x
            self.mean, self.sd = self._predict(x)
            self.doubt = self.sd[:, : self.k].sum(axis=1)
        mu, sd = self.mean[:, : self.k], self.sd[:, : self.k]
        if self.k == 1:
            acq = expected_improvement(mu[:, 0], sd[:, 0], self.best)
        else:
            samples = mu[:, None, :] + sd[:, None, :] * self.noise[None, :, :]
            acq = hypervolume_improvement(samples, self.front).mean(axis=1)
        for j, (bound, sign) in enumerate(zip(self.bounds, self.signs, strict=True)):
            m, s = self.mean[:, self.k + j], self.sd[:, self.k + j]
            acq = acq * ndtr(sign * (bound - m) / np.maximum(s, 1e-9))
        return acq

    def believe(self, i: int) -> bool:
        """Add candidate ``i``'s predicted mean to the front; True when scores change."""
        if self.k == 1:
            return False
        self.front = nondominated(np.vstack([self.front, self.mean[i : i + 1, : self.k]]))
        return True

    def optimistic(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable stand-in GOBI minimises: a weighted lower confidence bound."""
        mean, epistemic, var = self.surrogates.predict(x)
        width = self.surrogates.k
        mean, epistemic, var = (
            t.reshape(len(x), width)[:, : self.k] for t in (mean, epistemic, var)
        )
        bound = mean - torch.sqrt(epistemic**2 + var + 1e-12)
        return (bound * self.weights).sum(dim=1)


def _rank_targets(column: np.ndarray) -> np.ndarray:
    out = np.full(len(column), 0.5 * (LOW + HIGH))
    seen = np.isfinite(column)
    if seen.sum() > 1:
        ranks = rankdata(column[seen]) - 1
        out[seen] = LOW + (HIGH - LOW) * ranks / (seen.sum() - 1)
    return out


def _ranks(ok: list[Record]) -> np.ndarray:
    return pareto_ranks(np.array([r.losses for r in ok], dtype=float))


def _nearest_distances(x: np.ndarray) -> np.ndarray:
    if len(x) < 2:
        return np.ones(1)
    sq = (x**2).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2 * x @ x.T
    np.fill_diagonal(dist, np.inf)
    return np.sqrt(np.maximum(dist.min(axis=1), 0.0))


def _damping(x: np.ndarray, row: np.ndarray, scale: float) -> np.ndarray:
    d2 = ((x - row) ** 2).sum(axis=1)
    return 1.0 - np.exp(-d2 / (2.0 * max(scale, 1e-6) ** 2))
