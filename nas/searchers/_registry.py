"""Searcher registry: ``register_searcher`` and ``make_searcher``."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from nas.searchers._base import BaseSearcher

# Built-ins load lazily (torch and optuna stay unimported until a study asks for them).
_BUILTIN = {
    "random": ("nas.searchers._random", "RandomSearcher"),
    "evolution": ("nas.searchers._evolution", "EvolutionSearcher"),
    "tpe": ("nas.searchers._optuna", "TPESearcher"),
    "nsga2": ("nas.searchers._optuna", "NSGA2Searcher"),
    "boshnas": ("nas.searchers._boshnas", "BOSHNASSearcher"),
    "oneshot": ("nas.searchers._oneshot", "OneShotSearcher"),
}
_REGISTRY: dict[str, type[BaseSearcher]] = {}


def register_searcher(name: str) -> Callable[[type[BaseSearcher]], type[BaseSearcher]]:
    """Class decorator registering a :class:`BaseSearcher` subclass under ``name``.

    Re-registering a name warns and replaces the earlier class.
    """

    def decorator(cls: type[BaseSearcher]) -> type[BaseSearcher]:
        if not (isinstance(cls, type) and issubclass(cls, BaseSearcher)):
            raise TypeError(
                f"register_searcher({name!r}) needs a BaseSearcher subclass; got {cls!r}."
            )
        known = _REGISTRY.get(name)
        if known is not None and known is not cls:
            warnings.warn(
                f"Searcher {name!r} was registered by {known.__qualname__}; replacing it with "
                f"{cls.__qualname__}. Register under another name to keep both.",
                stacklevel=2,
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def searcher_names() -> list[str]:
    """Every name :func:`make_searcher` accepts, sorted."""
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def searcher_class(name: str) -> type[BaseSearcher]:
    """The class registered under ``name`` (importing a built-in on first use)."""
    if name not in _REGISTRY and name in _BUILTIN:
        module, attr = _BUILTIN[name]
        getattr(importlib.import_module(module), attr)
    if name not in _REGISTRY:
        raise ValueError(f"Unknown searcher {name!r}. Must be one of {searcher_names()}.")
    return _REGISTRY[name]


def make_searcher(
    name: str,
    *,
    space: Any,
    objectives: dict[str, str],
    constraints: Sequence[Any] = (),
    feasible: Callable[[Any], bool] | None = None,
    seed: int = 0,
    **options: Any,
) -> BaseSearcher:
    """Build a registered searcher.

    Args:
        name: one of :func:`searcher_names`.
        space: the search space.
        objectives: metric -> ``"min"`` | ``"max"``.
        constraints: ``space.Constraint`` values judged on told metrics.
        feasible: ``arch -> bool`` for constraints cheap cost models decide before a trial.
        seed: seeds every random choice.
        **options: searcher-specific keyword arguments (see each class).

    Raises:
        ValueError: for an unknown name.
    """
    cls = searcher_class(name)
    return cls(
        space=space,
        objectives=objectives,
        constraints=constraints,
        feasible=feasible,
        seed=seed,
        **options,
    )
