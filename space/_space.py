"""``Space``: a validated spec and every operation searchers need on it."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import numpy as np

from space._arch import Architecture
from space._dsl import Constraint
from space._errors import SpaceError
from space._nodes import Choice
from space._nodes import Decision
from space._nodes import Group
from space._nodes import Integer
from space._nodes import Real
from space._nodes import Scope
from space._nodes import compile_spec

_ROOT = Scope({})


def _rng(seed: Any) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, np.random.Generator):
        return random.Random(int(seed.integers(2**63)))
    return random.Random(seed)


def _random_value(rng: random.Random, decision: Decision) -> Any:
    if type(decision) is Choice:
        # One float draw is about twice as fast as randrange, and choices are most decisions.
        return int(rng.random() * len(decision.options))
    if isinstance(decision, Integer):
        if decision.log:
            return decision.snap(math.exp(rng.uniform(math.log(decision.low),
                                                      math.log(decision.high))))
        return rng.randrange(decision.low, decision.high + 1, decision.step)
    assert isinstance(decision, Real)
    if decision.log:
        return math.exp(rng.uniform(math.log(decision.low), math.log(decision.high)))
    return rng.uniform(decision.low, decision.high)


def _first_value(decision: Decision) -> Any:
    if isinstance(decision, Choice):
        return 0
    return decision.low  # type: ignore[attr-defined]


class Space:
    """A search space: named decisions, nested specs, repeats and constants.

    Args:
        spec: a dict whose values are constants, nested dicts or lists, or decisions
            (``choice``, ``integer``, ``real``, ``repeat``, ``derived``/``ref``).
        constraints: hard bounds (``Constraint``) that every architecture handed out by a
            searcher must meet.

    Raises:
        SpaceError: the spec breaks a rule; the message names the path, value and fix.
    """

    def __init__(
        self, spec: Mapping[str, Any] | Group, *, constraints: Iterable[Constraint] = ()
    ) -> None:
        if not isinstance(spec, Mapping | Group):
            raise SpaceError(
                f"a Space is built from a dict of named decisions; got {type(spec).__name__}. "
                "Wrap it: Space({'name': choice(...)})."
            )
        root = compile_spec(spec)
        root.check("")
        assert isinstance(root, Group)
        self._root = root
        self.constraints = tuple(constraints)
        for c in self.constraints:
            if not isinstance(c, Constraint):
                raise SpaceError(
                    f"constraints must be space.Constraint values; got {c!r}. "
                    "Use Constraint('latency_ms', '<=', 5.0)."
                )
        self._layout: list[tuple[str, Decision, int, int]] | None = None
        self.hash = hashlib.sha256(
            json.dumps(root.describe(), sort_keys=True, default=str).encode()
        ).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Space(hash={self.hash}, decisions={len(self._slots())})"

    def draw(self, choose: Callable[[str, Decision], Any]) -> Architecture:
        """Resolve every decision reached through ``choose(key, decision)``, which returns an
        option index for a ``Choice`` and a value for ``Integer``/``Real``."""
        return Architecture._trusted(self._root.resolve(choose, "", _ROOT))

    def sample(self, seed: Any = None) -> Architecture:
        """A uniformly drawn choice at every decision (seed: int, Random, numpy Generator)."""
        rng = _rng(seed)
        return self.draw(lambda key, decision: _random_value(rng, decision))

    def contains(self, arch: Architecture | Mapping[str, Any]) -> bool:
        data = arch.to_dict() if isinstance(arch, Architecture) else arch
        return self._root.match(data, _ROOT)

    def _require(self, arch: Architecture | Mapping[str, Any]) -> dict[str, Any]:
        data = arch.to_dict() if isinstance(arch, Architecture) else dict(arch)
        if not self._root.match(data, _ROOT):
            raise SpaceError(
                f"architecture {Architecture(data).id} is not in this space (hash {self.hash}); "
                "pass one drawn from it (sample, decode, mutate) or check it with contains()."
            )
        return data

    def size(self) -> int:
        """The exact number of architectures (a Python int, possibly astronomically large)."""
        return self._root.count()

    def decisions(self, arch: Architecture | Mapping[str, Any]) -> dict[str, Any]:
        """``key -> choice`` for every decision ``arch`` took (option index for choices)."""
        out: dict[str, Any] = {}
        self._root.collect(self._require(arch), "", _ROOT, out)
        return out

    def _replay(self, taken: dict[str, Any], fill: Callable[[str, Decision], Any],
                override: tuple[str, Any] | None = None) -> Architecture:
        def choose(key: str, decision: Decision) -> Any:
            if override is not None and key == override[0]:
                return override[1]
            if key in taken:
                return taken[key]
            return fill(key, decision)

        return self.draw(choose)

    def _decision_at(self) -> dict[str, Decision]:
        return {key: decision for key, decision, _, _ in self._slots()}

    def mutate(self, arch: Architecture | Mapping[str, Any], seed: Any = None) -> Architecture:
        """Re-draw one decision (sub-specs it opens are drawn afresh); differs from ``arch``
        unless the space has a single architecture."""
        rng = _rng(seed)
        taken = self.decisions(arch)
        at = self._decision_at()
        keys = [k for k in taken if _alternatives(at[k], taken[k], rng)]
        # ``decisions`` has checked membership; an Architecture is already canonical.
        original = arch if isinstance(arch, Architecture) else Architecture(arch)
        if not keys:
            return original
        for _ in range(16):
            key = rng.choice(keys)
            new = rng.choice(_alternatives(at[key], taken[key], rng))
            child = self._replay(taken, lambda k, d: _random_value(rng, d), (key, new))
            if child != original:
                return child
        return child

    def neighbors(self, arch: Architecture | Mapping[str, Any]) -> list[Architecture]:
        """Every architecture one decision away, in a deterministic order (adjacent grid
        values for integers; reals are not varied). New sub-specs take their first option."""
        taken = self.decisions(arch)
        at = self._decision_at()
        seen = {Architecture(self._require(arch)).id}
        out = []
        for key, value in taken.items():
            for alt in _alternatives(at[key], value, None):
                child = self._replay(taken, lambda k, d: _first_value(d), (key, alt))
                if child.id not in seen:
                    seen.add(child.id)
                    out.append(child)
        return out

    def _slots(self) -> list[tuple[str, Decision, int, int]]:
        if self._layout is None:
            groups: list[tuple[str, Decision, int]] = []
            self._root.layout("", groups)
            offset, layout = 0, []
            for key, decision, width in groups:
                layout.append((key, decision, offset, width))
                offset += width
            self._layout = layout
        return self._layout

    @property
    def conditional(self) -> bool:
        """Whether some decision is taken by only some architectures: one inside an option of
        a choice, or in a layer of a repeat whose depth is a decision."""
        keys = [key for key, _, _, _ in self._slots()]
        repeats = [key[: -len(".depth")] for key in keys if key.endswith(".depth")]
        return any("<" in key for key in keys) or any(
            key.startswith(f"{r}[") and not key.startswith(f"{r}[*]")
            for r in repeats for key in keys)

    @property
    def encoding_size(self) -> int:
        """Length of ``encode``'s vectors."""
        slots = self._slots()
        return slots[-1][2] + slots[-1][3] if slots else 0

    def encode(self, arch: Architecture | Mapping[str, Any]) -> np.ndarray:
        """A fixed-length vector: values in [0, 1] for the decisions taken, -1 elsewhere
        (decisions of unchosen options and of layers beyond the depth)."""
        taken = self.decisions(arch)
        vec = np.full(self.encoding_size, -1.0)
        for key, decision, offset, width in self._slots():
            if key in taken:
                vec[offset:offset + width] = decision.encode(taken[key])
        return vec

    def decode(self, vec: Iterable[float]) -> Architecture:
        """The architecture nearest to ``vec`` (any vector of the right length is snapped to a
        valid architecture); ``decode(encode(a)) == a``."""
        vec = np.asarray(list(vec), dtype=float)
        if vec.shape != (self.encoding_size,):
            raise SpaceError(
                f"decode needs a vector of length {self.encoding_size}; got shape {vec.shape}."
            )
        where = {key: (decision, offset, width) for key, decision, offset, width in self._slots()}

        def choose(key: str, decision: Decision) -> Any:
            _, offset, width = where[key]
            return decision.decode([float(x) for x in vec[offset:offset + width]])

        return self.draw(choose)


def _alternatives(decision: Decision, value: Any, rng: random.Random | None) -> list[Any]:
    """Other values a decision could take; ``rng`` given means 'for a random mutation'."""
    if isinstance(decision, Choice):
        return [i for i in range(len(decision.options)) if i != value]
    if isinstance(decision, Integer):
        if rng is not None:
            return [v for v in decision.values() if v != value] if decision.count() <= 64 else [
                decision.snap(value + s * decision.step * rng.randint(1, 8)) for s in (-1, 1)
                if decision.snap(value + s * decision.step) != value
            ]
        return [v for v in (value - decision.step, value + decision.step)
                if decision.low <= v <= decision.high]
    assert isinstance(decision, Real)
    if rng is None or decision.high == decision.low:
        return []
    return [_random_value(rng, decision)]
