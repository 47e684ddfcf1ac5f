"""User code on every worker: the spec's modules by value, and what they registered.

A Ray worker, on this machine or another node, cannot import a spec file by name, and even when
it can unpickle the spec's evaluator it starts with hetnas' built-in registries: a mixer added
with ``register_mixer("shift", ShiftMixer)`` in the spec (or in a module beside it) is unknown
there, so every trial failed with ``Unknown mixer type 'shift'``. Two things fix that:

- :func:`ship_folder` marks the modules that live beside the spec (or the script that called
  ``nas.run``) to be pickled by value, so the classes and functions they define travel with the
  evaluator instead of being imported by name;
- :func:`shippable` wraps the evaluator so that, when a worker unpickles it, the driver's
  registry entries (mixers, tasks) are installed first and the evaluator itself comes out.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

# hetnas itself is installed on every worker: never pickled by value, even when a spec lives in
# a checkout of it.
HETNAS = ("nas", "space", "evaluators", "kernels", "storage")
# (module, attribute) of each registry a worker consults while it evaluates a trial.
REGISTRIES = (
    ("space.mixers._registry", "MIXERS"),
    ("evaluators._tasks", "TASKS"),
)


def ship_folder(folder: str | Path) -> None:
    """Pickle by value every loaded module whose file lies under ``folder``."""
    import ray.cloudpickle

    root = Path(folder).resolve()
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if source is None or name == "__main__" or name.split(".")[0] in HETNAS:
            continue
        path = Path(source).resolve()
        # An environment inside the project (project/.venv) holds installed packages.
        installed = {"site-packages", "dist-packages"} & set(path.parts)
        if path.is_relative_to(root) and not installed:
            ray.cloudpickle.register_pickle_by_value(module)


def shippable(evaluate: Any) -> Any:
    """What the runner hands to ``ray.put`` instead of ``evaluate``.

    It pickles as the registries' current entries followed by ``evaluate``; unpickling installs
    the entries a worker lacks (or holds differently) and returns ``evaluate`` itself, so the
    worker's code never sees the wrapper. The modules beside the running script go by value
    too, as those beside a spec do (``ship_folder``).
    """
    main = sys.modules.get("__main__")
    # A script run as `python script.py` (no module spec); `python -m tool` runs installed code.
    if getattr(main, "__spec__", True) is None and getattr(main, "__file__", None):
        ship_folder(Path(main.__file__).parent)
    entries = {}
    for module, attribute in REGISTRIES:
        # A registry the driver never loaded holds only built-ins.
        if module in sys.modules:
            entries[(module, attribute)] = dict(getattr(sys.modules[module], attribute))
    return _Shipment(evaluate, _Registries(entries))


def ray_options(quiet: bool) -> dict[str, Any]:
    """Keyword arguments of ``ray.init`` for a run: no dashboard, worker output only unless
    ``quiet``, and Ray's own start-up warnings (token authentication, ...) kept off the
    user's terminal; a failure to start is still raised as an error."""
    return {"include_dashboard": False, "log_to_driver": not quiet,
            "logging_level": logging.ERROR}


class _Registries:
    def __init__(self, entries: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.entries = entries

    def __reduce__(self) -> tuple[Any, ...]:
        return _install, (self.entries,)


class _Shipment:
    def __init__(self, evaluate: Any, registries: _Registries) -> None:
        self.evaluate = evaluate
        self.registries = registries

    def __reduce__(self) -> tuple[Any, ...]:
        # Arguments unpickle in order: the registries are installed before the evaluator's
        # own state, which may already refer to them.
        return _unpack, (self.registries, self.evaluate)


def _install(entries: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (module, attribute), shipped in entries.items():
        registry = getattr(importlib.import_module(module), attribute)
        for name, value in shipped.items():
            # Set directly: register_mixer would warn about replacing an entry.
            if registry.get(name) != value:
                registry[name] = value


def _unpack(installed: None, evaluate: Any) -> Any:
    return evaluate
