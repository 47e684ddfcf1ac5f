"""Optuna TPE, NSGA-II and GP driven through ask/tell on the space's decisions.

Each searcher holds an in-memory Optuna study and one sampler for its lifetime (rebuilding a
sampler per ask throws away its caches); before every ask the sampler's random streams are
reseeded from the searcher's seed and ask count, so asks stay a pure function of the calls.

``space.draw`` walks the decisions an
architecture takes and asks the trial for each one, with the decision's path as the parameter
name, so conditional and repeated decisions become Optuna's dynamic search space. Several
objectives map to Optuna's multi-objective directions (MOTPE, NSGA-II's non-dominated sorting).
Measured constraint violations (and draws ``feasible`` rejects) become Optuna constraint
values, which TPE and NSGA-II rank after every feasible trial.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.distributions import distribution_to_json
from optuna.samplers._ga import BaseGASampler
from optuna.samplers._lazy_random_state import LazyRandomState
from optuna.search_space import IntersectionSearchSpace
from optuna.search_space.group_decomposed import _GroupDecomposedSearchSpace
from optuna.search_space.intersection import _calculate as _intersection
from optuna.trial import TrialState

from nas.searchers._base import BaseSearcher
from nas.searchers._base import Record
from nas.searchers._registry import register_searcher
from space import Architecture

_PRIMITIVE = (str, int, float, bool, type(None))
_CONSTRAINT = "constraints:violation"
# Violation recorded for a draw that ``feasible`` rejects: Optuna then ranks it after every
# feasible trial, so the sampler learns where the infeasible region is.
_INFEASIBLE = 1.0
# Mutations tried from a proposal that is already told or pending before the random fill.
_WALK = 4


class _QuietFilter(logging.Filter):
    """Drops Optuna's records below WARNING while a searcher call runs in this thread."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not getattr(self.local, "depth", 0)


_QUIET = _QuietFilter()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Optuna logs every tell at INFO and warns that ``group`` is experimental; a searcher is
    # library code, so neither should reach the user's console. A filter, because setting the
    # verbosity clears every logger's cache, which cost about as much as a NSGA-II proposal.
    # Records of Optuna's modules reach its handlers, not the filters of its root logger.
    for handler in optuna.logging.get_logger("optuna").handlers:
        handler.addFilter(_QUIET)
    _QUIET.local.depth = getattr(_QUIET.local, "depth", 0) + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        _QUIET.local.depth -= 1


def _distribution(decision: Any) -> BaseDistribution:
    if hasattr(decision, "options"):
        options = list(decision.options)
        primitive = all(isinstance(o, _PRIMITIVE) for o in options)
        if primitive and len({json.dumps(o) for o in options}) == len(options):
            return CategoricalDistribution(options)
        # Sub-specs and lists are not valid Optuna choices; their index stands in for them.
        return CategoricalDistribution(list(range(len(options))))
    if hasattr(decision, "step"):
        log = bool(decision.log)
        return IntDistribution(
            decision.low, decision.high, log=log, step=1 if log else decision.step
        )
    return FloatDistribution(decision.low, decision.high, log=bool(decision.log))


def _reseed(sampler: optuna.samplers.BaseSampler, seed: int) -> None:
    """Reset every random stream of ``sampler`` (and of the samplers it holds) to ``seed``.

    The stream objects are kept and only their state replaced, because strategies inside a
    sampler (NSGA-II's crossover) share them. ``seed`` gives the same state as a new
    ``RandomState(seed)`` in a sixtieth of the time (building one cost NSGA-II 15 % of an ask).
    """
    for i, value in enumerate(vars(sampler).values()):
        if isinstance(value, LazyRandomState):
            value.rng.seed(seed + i)
        elif isinstance(value, optuna.samplers.BaseSampler):
            _reseed(value, seed + i)


def _append(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> None:
    """``study.add_trials`` for trials built here (by ``create_trial``, so already validated),
    without the two deep copies per trial that made adding results cost more than NSGA-II's
    own proposal."""
    storage = study._storage
    info = storage._studies[study._study_id]
    for trial in trials:
        storage._max_trial_id += 1
        trial._trial_id, trial.number = storage._max_trial_id, len(info.trials)
        storage._trial_id_to_study_id_and_number[trial._trial_id] = (study._study_id, trial.number)
        info.trials.append(trial)
        storage._update_cache(trial._trial_id, study._study_id)
    study._thread_local.cached_all_trials = None


def _samplers(sampler: optuna.samplers.BaseSampler) -> Iterator[optuna.samplers.BaseSampler]:
    """``sampler`` and the samplers it holds (e.g. the independent fallback)."""
    yield sampler
    for value in vars(sampler).values():
        if isinstance(value, optuna.samplers.BaseSampler):
            yield from _samplers(value)


def _advance(space: IntersectionSearchSpace, study: optuna.Study) -> None:
    """``space.calculate(study)`` without building its sorted deep copy of the result, which
    cost a NSGA-II ask a tenth of its time here and is built again by the sampler anyway."""
    space._study_id = study._study_id
    space._search_space, space._cached_trial_number = _intersection(
        study._get_trials(deepcopy=False, use_cache=False), space._include_pruned,
        space._search_space, space._cached_trial_number,
    )  # fmt: skip


@contextlib.contextmanager
def _transient(study: optuna.Study) -> Iterator[None]:
    """Drop every trial added to ``study`` inside the block when it ends (an ask's draws and
    the pending trials), with what the sampler and the study cached about them.

    Keeping only told results between asks makes the live study exactly the one a restored
    searcher rebuilds from its history, so one sampler serves the whole run and a resumed run
    still asks what the original would have. (The study's own attributes, where NSGA-II caches
    each generation's parents, are computed from told results alone: see
    ``NSGA2Searcher.inform``.) Optuna's storages cannot delete trials, so this edits the
    in-memory storage's tables.
    """
    storage = study._storage
    info = storage._studies[study._study_id]
    length = len(info.trials)
    samplers = list(_samplers(study.sampler))
    # Incremental caches over the trials (intersection search spaces, a genetic sampler's
    # generations) are brought up to date on the told trials alone and restored afterwards,
    # instead of being recomputed from scratch on every ask.
    caches: list[tuple[Any, tuple[str, ...]]] = []
    for sampler in samplers:
        if isinstance(sampler, BaseGASampler):
            sampler._sync_generation_cache(study)
            caches.append((sampler, tuple(k for k in vars(sampler) if k.startswith("_cached_"))))
        for value in vars(sampler).values():
            if isinstance(value, IntersectionSearchSpace):
                _advance(value, study)
                caches.append((value, tuple(vars(value))))
    kept = [{k: copy.copy(getattr(obj, k)) for k in names} for obj, names in caches]
    try:
        yield
    finally:
        for trial in info.trials[length:]:
            del storage._trial_id_to_study_id_and_number[trial._trial_id]
        del info.trials[length:]
        storage._max_trial_id = max((t._trial_id for t in info.trials), default=-1)
        if info.best_trial_id is not None and info.best_trial_id > storage._max_trial_id:
            info.best_trial_id = None
            for trial in info.trials:
                storage._update_cache(trial._trial_id, study._study_id)
        study._thread_local.cached_all_trials = None
        for (obj, _), state in zip(caches, kept, strict=True):
            vars(obj).update(state)
        for sampler in samplers:
            for name, value in vars(sampler).items():
                if isinstance(value, _GroupDecomposedSearchSpace):
                    # It re-reads every trial on each call anyway; only its merge is cached.
                    setattr(sampler, name, _GroupDecomposedSearchSpace(value._include_pruned))


def _answer(decision: Any, distribution: BaseDistribution, value: Any) -> Any:
    """Translate an Optuna parameter value into what ``space.draw``'s chooser returns."""
    if isinstance(distribution, CategoricalDistribution):
        if list(distribution.choices) == list(range(len(decision.options))):
            return int(value)
        return distribution.choices.index(value)
    return value


class _OptunaSearcher(BaseSearcher):
    """Shared ask/tell plumbing; subclasses only choose the sampler."""

    #: Sampler draws per requested architecture. A converged sampler keeps proposing told
    #: architectures; drawing again until it proposes a new one made an ask up to eight times
    #: Optuna's own cost per query, so a repeat is answered by a short random walk from it.
    draws_per_ask = 1
    #: Whether a draw that repeats a told architecture or breaks ``feasible`` is told back to the
    #: sampler for the rest of the ask (it teaches TPE and the GP about that region).
    inform = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._study: optuna.Study | None = None
        # How many told results the study holds, and how many of them completed.
        self._synced = self._completed = 0
        self._names: dict[str, str] = {}
        self._parameters: dict[tuple[str, int], tuple[BaseDistribution, str]] = {}
        # Replayed parameters per architecture: a cache, rebuilt from the space on demand.
        self._params: dict[Architecture, dict[str, tuple[Any, BaseDistribution]] | None] = {}

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def _tell(self, number: int, values: list[float] | None, violation: float) -> None:
        study = self.study
        # Optuna's public constraint setter needs a live Trial, which a restored study lacks;
        # the storage call below is what ``Trial.set_constraint`` does.
        if self._constrained:
            trial_id = study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, number)
            study._storage.set_trial_system_attr(trial_id, _CONSTRAINT, float(violation))
        if values is None:
            study.tell(number, state=TrialState.FAIL)
        else:
            study.tell(number, values, state=TrialState.COMPLETE)

    @property
    def study(self) -> optuna.Study:
        """The in-memory Optuna study: every told result, in the order told (built on first use,
        brought up to date on each use)."""
        if self._study is None:
            self._study, self._synced, self._completed = self._new_study(), 0, 0
        trials = []
        for record in self._history[self._synced :]:
            trial = self._frozen(record, self._completed)
            if trial is not None:
                trials.append(trial)
                self._completed += record.ok
        self._synced = len(self._history)
        _append(self._study, trials)
        return self._study

    def _new_study(self) -> optuna.Study:
        directions = ["maximize" if d == "max" else "minimize" for d in self.objectives.values()]
        sampler = self._make_sampler(self.seed)
        with _quiet():
            study = optuna.create_study(directions=directions, sampler=sampler)
        self._prepare(study.sampler)
        return study

    def _frozen(self, told: Record | Architecture,
                completed: int) -> optuna.trial.FrozenTrial | None:
        """A told result, or a pending architecture, as an Optuna trial."""
        record = told if isinstance(told, Record) else None
        params = self._replay(told if record is None else record.arch)
        if params is None:
            return None
        ok = record is not None and record.ok
        attrs = {}
        if record is not None and self._constrained:
            attrs[_CONSTRAINT] = float(record.violation)
        if ok:
            attrs.update(self._told_attrs(completed))
        state = (TrialState.RUNNING if record is None
                 else TrialState.COMPLETE if ok else TrialState.FAIL)
        # What ``create_trial`` builds, without its validation: the parameters come from the
        # space's own decisions, and checking them again cost a fifth of a NSGA-II query.
        now = datetime.datetime.now()
        return optuna.trial.FrozenTrial(
            number=-1, trial_id=-1, state=state, value=None,
            values=[record.metrics[m] for m in self.objectives] if ok else None,
            datetime_start=now, datetime_complete=None if record is None else now,
            params={k: v for k, (v, _) in params.items()},
            distributions={k: d for k, (_, d) in params.items()},
            user_attrs={}, system_attrs=attrs, intermediate_values={},
        )  # fmt: skip

    def _prepare(self, sampler: optuna.samplers.BaseSampler) -> None:
        """Give a restored searcher's new sampler the bounded state it had; default: none."""
        return None

    def _told_attrs(self, index: int) -> dict[str, Any]:
        """System attributes of the ``index``-th completed told result's trial; default: none."""
        return {}

    def _name(self, path: str, distribution: BaseDistribution) -> str:
        # A path whose options differ between branches would clash in Optuna's study-wide
        # parameter table, so later variants get a suffix derived from their distribution.
        encoded = distribution_to_json(distribution)
        first = self._names.setdefault(path, encoded)
        if first == encoded:
            return path
        return f"{path}~{hashlib.sha256(encoded.encode()).hexdigest()[:8]}"

    def _parameter(self, path: str, decision: Any) -> tuple[BaseDistribution, str]:
        """The Optuna distribution and parameter name of the decision at ``path``."""
        # The space keeps its decisions alive, so their ids are stable keys for this cache.
        key = (path, id(decision))
        if key not in self._parameters:
            dist = _distribution(decision)
            self._parameters[key] = dist, self._name(path, dist)
        return self._parameters[key]

    def _draw(self, trial: optuna.Trial) -> Architecture:
        def chooser(path: str, decision: Any) -> Any:
            dist, name = self._parameter(path, decision)
            if isinstance(dist, CategoricalDistribution):
                value = trial.suggest_categorical(name, dist.choices)
            elif isinstance(dist, IntDistribution):
                value = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
            else:
                value = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
            return _answer(decision, dist, value)

        return self.space.draw(chooser)

    def _suggest(self, n: int) -> list[Architecture]:
        study = self.study
        known = {r.arch: r for r in self._history}
        chosen: list[Architecture] = []
        # Built when first needed: a generator costs about a tenth of a NSGA-II proposal.
        walk: np.random.Generator | None = None
        with _quiet(), _transient(study):
            pending = [self._frozen(arch, 0) for arch in self._pending]
            _append(study, [t for t in pending if t is not None])
            _reseed(study.sampler, int(self._rng().integers(2**31)))
            for _ in range(self.draws_per_ask * n):
                if len(chosen) >= n:
                    break
                trial = study.ask()
                arch = self._draw(trial)
                if arch in known:
                    if self.inform:
                        self._finish(trial.number, known[arch])
                elif not (arch in self._pending or arch in chosen) and not self._is_feasible(arch):
                    if self.inform:
                        self._tell(trial.number, self._stand_in(), _INFEASIBLE)
                    continue
                if self._admissible(arch, chosen):
                    chosen.append(arch)
                    continue
                # The sampler's proposal is known: its nearest new architectures are the next
                # best guess, and far cheaper than another draw.
                walk = walk or self._rng(2)
                for _ in range(_WALK):
                    arch = self.space.mutate(arch, walk)
                    if self._admissible(arch, chosen):
                        chosen.append(arch)
                        break
        return chosen if len(chosen) >= n else self._random_fill(n, self._rng(1), chosen)

    @property
    def _constrained(self) -> bool:
        # Violations go to the sampler only where one can be positive: GPSampler fits a second
        # Gaussian process for any constraint it sees, which doubled its cost per ask.
        return bool(self.constraints) or self.feasible is not None

    def _stand_in(self) -> list[float]:
        # The values of an infeasible trial: the worst seen, so it never looks attractive.
        values = [r.metrics[m] for r in self._history if r.ok for m in self.objectives]
        worst = []
        for i, direction in enumerate(self.objectives.values()):
            column = values[i :: len(self.objectives)]
            worst.append((min if direction == "max" else max)(column, default=0.0))
        return worst

    def _finish(self, number: int, record: Record) -> None:
        values = [record.metrics[m] for m in self.objectives] if record.ok else None
        self._tell(number, values, record.violation)

    def _replay(self, arch: Architecture) -> dict[str, tuple[Any, BaseDistribution]] | None:
        """The parameters that make ``space.draw`` produce ``arch``, or None if unknown."""
        if arch not in self._params:
            self._params[arch] = self._replay_draw(arch)
        return self._params[arch]

    def _replay_draw(self, arch: Architecture) -> dict[str, tuple[Any, BaseDistribution]] | None:
        try:
            decisions = self.space.decisions(arch)
        except (NotImplementedError, AttributeError, ValueError):
            return None
        params: dict[str, tuple[Any, BaseDistribution]] = {}

        def chooser(path: str, decision: Any) -> Any:
            value = decisions[path]
            dist, name = self._parameter(path, decision)
            # ``space.decisions`` gives a choice as its option index.
            params[name] = (dist.choices[value] if hasattr(decision, "options") else value, dist)
            return value

        try:
            same = self.space.draw(chooser) == arch
        except (KeyError, ValueError, TypeError, IndexError):
            return None
        return params if same else None

    def _extra_state(self) -> dict[str, Any]:
        # The parameter names of the branches seen so far: bounded by the space's decisions.
        return {"names": self._names}

    def _load_extra_state(self, extra: Mapping[str, Any], told: int) -> None:
        self._study = None
        self._params, self._parameters = {}, {}
        self._names = dict(extra.get("names", {}))


@register_searcher("tpe")
class TPESearcher(_OptunaSearcher):
    """Optuna's multivariate TPE (grouped for conditional spaces, constant liar for pending
    trials; MOTPE for several objectives).

    Args:
        n_startup_trials: random trials before the Parzen estimators take over.
        **kwargs: see :class:`BaseSearcher`.
    """

    def __init__(self, *, n_startup_trials: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_startup_trials = n_startup_trials

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        with _quiet():
            return optuna.samplers.TPESampler(
                seed=seed,
                multivariate=True,
                # Grouping only matters where decisions come and go; on a flat space it is
                # one group anyway, and re-deriving it each ask cost 15 % of the sampler's time.
                group=getattr(self.space, "conditional", True),
                constant_liar=True,
                n_startup_trials=self.n_startup_trials,
            )


@register_searcher("nsga2")
class NSGA2Searcher(_OptunaSearcher):
    """Optuna's NSGA-II (non-dominated sorting and crowding distance; constrained dominance).

    Args:
        population_size: individuals per generation; by default 20 on a space of at most
            ``SMALL_SPACE`` architectures and Optuna's 50 on larger ones (or of unknown size).
            On the 620-model FlexiBERT pools 20 found fronts sooner than Optuna's 50; on the
            30,000-configuration HPOBench grids it fell behind (``benchmarks/RESULTS.md``).
        **kwargs: see :class:`BaseSearcher`.
    """

    SMALL_SPACE = 1024

    def __init__(self, *, population_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if population_size is None:
            try:
                small = int(self.space.size()) <= self.SMALL_SPACE
            except (TypeError, ValueError, NotImplementedError, AttributeError):
                small = False
            population_size = 20 if small else 50
        self.population_size = population_size

    # A generation is bred from parents fixed when it starts, so a told-back draw teaches it
    # nothing; left unfinished, draws never join a generation, and the parents the sampler caches
    # in the study stay a function of the told results alone (what a restored study rebuilds).
    inform = False

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=self.population_size)

    def _told_attrs(self, index: int) -> dict[str, Any]:
        # Generations are consecutive runs of ``population_size`` completed results, so a rebuilt
        # study has the same generations whoever rebuilds it.
        key = optuna.samplers.NSGAIISampler._get_generation_key()
        return {key: index // self.population_size}


class _GPSampler(optuna.samplers.GPSampler):
    """GPSampler that drops a constraint kernel fitted on a search space of another dimension.

    GPSampler checks the cached constraint kernels against the objective's cached kernel, which
    it has already refitted on the new space by then, so a conditional space whose dimension
    changed reached the constraint fit with a kernel of the old one (an IndexError).
    """

    def _get_constraints_acqf_args(self, constraint_vals, internal_search_space, *args):
        cache = self._constraints_gprs_cache_list
        if cache and len(cache[0].inverse_squared_lengthscales) != internal_search_space.dim:
            self._constraints_gprs_cache_list = None
        return super()._get_constraints_acqf_args(constraint_vals, internal_search_space, *args)


@register_searcher("gp")
class GPSearcher(_OptunaSearcher):
    """Optuna's Gaussian-process sampler (log expected improvement; for several objectives,
    expected hypervolume improvement).

    The sampler warm-starts each kernel fit from the previous one; those kernel parameters are
    part of the state, so a restored searcher fits (and asks) exactly what the original would.

    Args:
        n_startup_trials: random trials before the Gaussian process takes over.
        **kwargs: see :class:`BaseSearcher`.
    """

    def __init__(self, *, n_startup_trials: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_startup_trials = n_startup_trials
        # The kernel parameters a restored searcher starts its first fit from.
        self._kernels: dict[str, Any] = {}

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        with _quiet():
            return _GPSampler(seed=seed, n_startup_trials=self.n_startup_trials)

    _CACHES = ("_gprs_cache_list", "_constraints_gprs_cache_list")

    def _extra_state(self) -> dict[str, Any]:
        # One kernel per objective and constraint, of the space's dimension: bounded.
        kernels = self._kernels
        if self._study is not None:
            sampler = self._study.sampler
            kernels = {
                name: None if getattr(sampler, name) is None else [
                    {"inverse_squared_lengthscales": g.inverse_squared_lengthscales.tolist(),
                     "kernel_scale": float(g.kernel_scale), "noise_var": float(g.noise_var)}
                    for g in getattr(sampler, name)
                ]
                for name in self._CACHES
            }  # fmt: skip
        return {**super()._extra_state(), "kernels": kernels}

    def _load_extra_state(self, extra: Mapping[str, Any], told: int) -> None:
        super()._load_extra_state(extra, told)
        self._kernels = dict(extra.get("kernels") or {})

    def _prepare(self, sampler: optuna.samplers.BaseSampler) -> None:
        import torch
        from optuna._gp.gp import GPRegressor

        # GPSampler checks a cached constraint kernel's dimension against the objective's only:
        # without an objective kernel, a constraint kernel from a smaller search space would be
        # used as it is (and fail), so neither is carried.
        if self._kernels.get("_gprs_cache_list") is None:
            return
        for name, kernels in self._kernels.items():
            if name not in self._CACHES:
                continue
            cache = None
            if kernels is not None:
                # Only the kernel parameters of a cached regressor are read (as the starting
                # point of the next fit), so the training data can be a placeholder.
                cache = [
                    GPRegressor(
                        is_categorical=torch.zeros(len(k["inverse_squared_lengthscales"]),
                                                   dtype=torch.bool),
                        X_train=torch.zeros(1, len(k["inverse_squared_lengthscales"]),
                                            dtype=torch.float64),
                        y_train=torch.zeros(1, dtype=torch.float64),
                        inverse_squared_lengthscales=torch.tensor(
                            k["inverse_squared_lengthscales"], dtype=torch.float64),
                        kernel_scale=torch.tensor(k["kernel_scale"], dtype=torch.float64),
                        noise_var=torch.tensor(k["noise_var"], dtype=torch.float64),
                    )
                    for k in kernels
                ]  # fmt: skip
            setattr(sampler, name, cache)
