"""``Architecture``: a frozen, hashable, JSON-serialisable value of every choice made."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from space._errors import SpaceError


def _canonical(value: Any, path: str) -> Any:
    """A plain JSON value: dicts with str keys, lists (tuples become lists), finite scalars."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise SpaceError(f"{path or 'architecture'}: keys must be strings; got {key!r}.")
            out[key] = _canonical(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise SpaceError(f"{path}: values must be finite; got {value!r}.")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise SpaceError(
        f"{path or 'architecture'}: an architecture holds only JSON values; got "
        f"{type(value).__name__} {value!r}."
    )


def _non_finite(name: str) -> Any:
    raise SpaceError(f"architecture JSON: values must be finite; got {name}.")


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


class Architecture(Mapping[str, Any]):
    """One point of a search space: a frozen nested dict of choices.

    Equal choices give equal ``to_json()`` strings and equal ``id``s in every process, so
    architectures are usable as dict keys, deduplicated across workers and stored by id.
    Top-level values are read with ``arch[name]``; nested values come back as copies, so the
    architecture itself never changes.
    """

    __slots__ = ("_data", "_json", "_id")

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise SpaceError(f"an Architecture is built from a dict; got {type(data).__name__}.")
        self._data: dict[str, Any] = _canonical(data, "")
        self._json: str | None = None
        self._id: str | None = None

    @classmethod
    def _trusted(cls, data: dict[str, Any]) -> Architecture:
        """Wrap a dict that a space just resolved (already canonical), skipping the copy."""
        arch = cls.__new__(cls)
        arch._data, arch._json, arch._id = data, None, None
        return arch

    def __getitem__(self, name: str) -> Any:
        value = self._data[name]
        return _copy(value) if isinstance(value, dict | list) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict of all choices (a copy)."""
        # Parsing the cached canonical JSON copies about three times faster than deepcopy,
        # and cost models call this for every architecture they price.
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces; equal architectures give equal strings."""
        if self._json is None:
            self._json = json.dumps(
                self._data, sort_keys=True, separators=(",", ":"), allow_nan=False
            )
        return self._json

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text, parse_constant=_non_finite)
        except json.JSONDecodeError as exc:
            raise SpaceError(f"not valid architecture JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SpaceError(
                f"architecture JSON must be an object; got {type(data).__name__}.")
        # Parsed JSON (string keys, finite scalars once NaN/Infinity are refused) is already
        # canonical: skipping the walk makes this 8x faster, and workers parse every trial.
        return cls._trusted(data)

    @property
    def id(self) -> str:
        """A stable 16-hex-digit hash of the canonical JSON."""
        if self._id is None:
            self._id = hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
        return self._id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Architecture):
            return self.to_json() == other.to_json()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        text = self.to_json()
        return f"Architecture({text if len(text) <= 120 else text[:117] + '...'})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Architecture.from_json, (self.to_json(),))

    def graph(self):  # noqa: ANN201 - networkx has no stubs
        """The computational graph as a ``networkx.DiGraph``; every node carries ``op``."""
        from space._graph import to_graph

        return to_graph(self._data)
