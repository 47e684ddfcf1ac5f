"""Searcher registry: ``register_searcher`` and ``make_searcher``."""

from __future__ import annotations

import difflib
import importlib
import inspect
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from nas._errors import UserError
from nas.searchers._base import BaseSearcher

# Built-ins load lazily (torch and optuna stay unimported until a study asks for them).
_BUILTIN = {
    "random": ("nas.searchers._random", "RandomSearcher"),
    "evolution": ("nas.searchers._evolution", "EvolutionSearcher"),
    "tpe": ("nas.searchers._optuna", "TPESearcher"),
    "nsga2": ("nas.searchers._optuna", "NSGA2Searcher"),
    "gp": ("nas.searchers._optuna", "GPSearcher"),
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
        raise UserError(f"Unknown searcher {name!r}. Must be one of {searcher_names()}.")
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
        UserError: an unknown name, or an option the searcher does not take.
    """
    cls = searcher_class(name)
    check_options(name, options)
    return cls(
        space=space,
        objectives=objectives,
        constraints=constraints,
        feasible=feasible,
        seed=seed,
        **options,
    )


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse an option the searcher ``name`` does not take, naming the ones it does.

    Raises:
        UserError: an unknown searcher or option.
    """
    takes = _options_of(searcher_class(name))
    for option in options:
        if takes is not None and option not in takes:
            close = difflib.get_close_matches(option, sorted(takes), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise UserError(
                f"Searcher {name!r} takes no option {option!r}; its options are "
                f"{sorted(takes) or 'none'}{hint}"
            )


def _options_of(cls: type) -> set[str] | None:
    """The keyword options a searcher class takes besides the ones ``make_searcher`` passes,
    collected along the ``__init__`` chain (None when one takes ``**kwargs`` for itself)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - {"self", "space", "objectives", "constraints", "feasible", "seed"}
    return None
