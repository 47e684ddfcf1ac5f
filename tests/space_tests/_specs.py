"""Spaces shared by the space tests: the contract's example and the published spaces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from space import Space
from space import choice
from space import integer
from space import real
from space import repeat

_SPACES_FILE = Path(__file__).resolve().parents[2] / "studies" / "spaces.py"


def published():
    """The ``studies/spaces.py`` module (a spec file, not a package)."""
    spec = importlib.util.spec_from_file_location("hetnas_study_spaces", _SPACES_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def contract_space() -> Space:
    return Space({"e0": choice("conv3x3", "skip", "none"), "lr": choice(1e-3, 1e-2)})


def automl_space() -> Space:
    """Conditional, nested, ranged and repeated decisions, as a hyper-parameter space uses."""
    return Space({
        "optimizer": choice({"name": "sgd", "momentum": real(0.0, 0.99)},
                            {"name": "adam", "beta2": choice(0.99, 0.999)}),
        "lr": real(1e-4, 1e-1, log=True),
        "batch": integer(16, 256, step=16),
        "blocks": repeat({"kind": choice("conv", "pool"), "size": integer(1, 64, log=True)},
                         depth=choice(1, 2, 3)),
    })
