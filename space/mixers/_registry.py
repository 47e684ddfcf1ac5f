"""The mixer registry: name -> module class, head op and the metadata the DSL validates with."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from space._errors import SpaceError
from space.mixers._base import BaseHead
from space.mixers._base import BaseMixer


@dataclass(frozen=True)
class MixerInfo:
    """What the DSL and the builder need to know about one mixer type.

    Attributes:
        name: the ``type`` in the architecture dict.
        module: the full-width mixer class, built as ``module(spec, ctx)``.
        head: the per-head op used inside the ``heads`` mixer, or None if not head-capable.
        causal: the mixer can run causally (position t sees only positions <= t).
        attention_like: the mixer dict also carries ``heads`` and ``head_dim``.
        params: the mixer's own parameters (besides ``heads``/``head_dim``), name -> type.
    """

    name: str
    module: type[BaseMixer]
    head: type[BaseHead] | None = None
    causal: bool = False
    attention_like: bool = False
    params: Mapping[str, type] = field(default_factory=dict)

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
    params: Mapping[str, type] | None = None,
) -> MixerInfo:
    """Register (or replace, with a warning) the mixer type ``name``.

    Args:
        name: the ``type`` value in architecture dicts.
        module: ``BaseMixer`` subclass built as ``module(spec, ctx)``.
        head: ``BaseHead`` subclass for per-head use, or None.
        causal: whether a causal form exists.
        attention_like: whether the dict carries ``heads`` and ``head_dim``.
        params: the type's own parameters, name -> type.

    Returns:
        The stored ``MixerInfo``.
    """
    if name in MIXERS:
        warnings.warn(
            f"register_mixer: replacing the mixer {name!r}. Register under a new name to keep "
            "the built-in one.",
            stacklevel=2,
        )
    info = MixerInfo(name, module, head, causal, attention_like, dict(params or {}))
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
