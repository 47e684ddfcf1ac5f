"""The mixer registry: name -> module class, head op and the metadata the DSL validates with."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from space._errors import SpaceError
from space.mixers._base import BaseHead
from space.mixers._base import BaseMixer


@dataclass(frozen=True)
class MixerParam:
    """One parameter of a mixer type, checked when a space is built.

    Attributes:
        kind: ``int``, ``float``, ``str`` or ``bool`` (a float parameter also takes an int).
        low: the smallest allowed value, or None.
        high: the largest allowed value, or None.
        low_open: ``low`` itself is not allowed (``partial`` in (0, 1]).
        options: the allowed values, or None for any of ``kind``.
        required: a spec without it is an error (all built-in parameters are required).
        example: a typical value, for messages (default: ``low``, the first option, ...).
    """

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    options: tuple[Any, ...] | None = None
    required: bool = True
    example: Any = None

    def sample_value(self) -> Any:
        """A value this parameter accepts, to show in a fix."""
        if self.example is not None:
            return self.example
        if self.options:
            return self.options[0]
        if self.kind is bool:
            return True
        if self.kind is str:
            return "..."
        value = self.high if self.low_open and self.high is not None else (self.low or 1)
        return self.kind(value)

    def describe(self) -> str:
        """The rule in words: "an int >= 1", "a float in (0, 1]", "one of 'elu', 'relu'"."""
        if self.options is not None:
            return "one of " + ", ".join(repr(o) for o in self.options)
        article = "an" if self.kind is int else "a"
        name = {int: "int", float: "float", str: "string", bool: "bool"}.get(
            self.kind, self.kind.__name__)
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            return f"{article} {name} in {left}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{article} {name} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{article} {name} <= {self.high:g}"
        return f"{article} {name}"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has the kind, range and option this parameter allows."""
        if self.kind is float:
            kind_ok = isinstance(value, int | float) and not isinstance(value, bool) and (
                math.isfinite(value))
        elif self.kind is int:
            kind_ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            kind_ok = isinstance(value, self.kind)
        if not kind_ok:
            return False
        if self.options is not None and value not in self.options:
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high


def _param(value: MixerParam | type) -> MixerParam:
    return value if isinstance(value, MixerParam) else MixerParam(value)


@dataclass(frozen=True)
class MixerInfo:
    """What the DSL and the builder need to know about one mixer type.

    Attributes:
        name: the ``type`` in the architecture dict.
        module: the full-width mixer class, built as ``module(spec, ctx)``.
        head: the per-head op used inside the ``heads`` mixer, or None if not head-capable.
        causal: the mixer can run causally (position t sees only positions <= t).
        attention_like: the mixer dict also carries ``heads`` and ``head_dim``.
        params: the mixer's own parameters (besides ``heads``/``head_dim``), name -> MixerParam.
    """

    name: str
    module: type[BaseMixer]
    head: type[BaseHead] | None = None
    causal: bool = False
    attention_like: bool = False
    params: Mapping[str, MixerParam] = field(default_factory=dict)

    @property
    def head_capable(self) -> bool:
        """Whether the type may appear as a head of the ``heads`` mixer."""
        return self.head is not None


#: Every registered mixer type, by name.
MIXERS: dict[str, MixerInfo] = {}


def register_mixer(
    name: str,
    module: type[BaseMixer],
    *,
    head: type[BaseHead] | None = None,
    causal: bool = False,
    attention_like: bool = False,
    params: Mapping[str, MixerParam | type] | None = None,
) -> MixerInfo:
    """Register (or replace, with a warning) the mixer type ``name``.

    Args:
        name: the ``type`` value in architecture dicts.
        module: ``BaseMixer`` subclass built as ``module(spec, ctx)``.
        head: ``BaseHead`` subclass for per-head use, or None.
        causal: whether a causal form exists.
        attention_like: whether the dict carries ``heads`` and ``head_dim``.
        params: the type's own parameters, name -> ``MixerParam`` (or a bare type: a required
            parameter of that type, any value). ``Space(...)`` refuses a spec that lacks a
            required one, gives one a value it does not allow, or names one not listed here.

    Returns:
        The stored ``MixerInfo``.
    """
    if name in MIXERS:
        warnings.warn(
            f"register_mixer: replacing the mixer {name!r}. Register under a new name to keep "
            "the built-in one.",
            stacklevel=2,
        )
    info = MixerInfo(name, module, head, causal, attention_like,
                     {key: _param(value) for key, value in (params or {}).items()})
    MIXERS[name] = info
    return info


def mixer_info(name: str) -> MixerInfo:
    """The registry entry of ``name``; ``SpaceError`` naming the known types otherwise."""
    try:
        return MIXERS[name]
    except KeyError:
        raise SpaceError(
            f"Unknown mixer type {name!r}. Must be one of {sorted(MIXERS)}; "
            "add new ones with space.register_mixer."
        ) from None
