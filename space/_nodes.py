"""The nodes a spec compiles to, and the few traversals every space operation is built from.

A spec is a tree of plain values, dicts, lists and decision primitives. Every space operation is
one of four walks over that tree: ``resolve`` (draw values through a chooser), ``match`` (is a
value inside the node), ``collect`` (which decisions did a value take) and ``layout`` (the slots
of the fixed-length encoding). Choosers decide; nodes only know their structure.
"""

from __future__ import annotations

import math
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from space._errors import SpaceError

Chooser = Callable[[str, "Decision"], Any]
_SCALARS = (str, int, float, bool, type(None))


class Scope:
    """Values resolved so far, innermost first, so derived values can read their context."""

    __slots__ = ("frame", "parent")

    def __init__(self, frame: Mapping[str, Any], parent: Scope | None = None) -> None:
        self.frame = frame
        self.parent = parent

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.frame:
                return scope.frame[name]
            scope = scope.parent
        raise KeyError(name)


def join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


class Node(ABC):
    """A compiled piece of a spec."""

    @abstractmethod
    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any: ...

    @abstractmethod
    def match(self, value: Any, scope: Scope) -> bool: ...

    @abstractmethod
    def count(self) -> int: ...

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        """Record ``key -> choice`` for every decision ``value`` took (value must match)."""

    def layout(self, key: str, out: list[tuple[str, Decision, int]]) -> None:
        """Append ``(key, decision, width)`` for each encoding slot group below this node."""

    def check(self, path: str) -> None:
        """Raise SpaceError, naming ``path``, if this part of the spec is invalid."""

    def children(self) -> list[Node]:
        return []

    @abstractmethod
    def describe(self) -> Any:
        """A JSON-able description, used for the space hash."""


class Const(Node):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        return self.value

    def match(self, value: Any, scope: Scope) -> bool:
        return type(value) is type(self.value) and value == self.value

    def count(self) -> int:
        return 1

    def describe(self) -> Any:
        return {"const": self.value}


class Invalid(Node):
    """A spec value that cannot be part of a space; reported with its path by ``check``."""

    def __init__(self, value: Any, rule: str) -> None:
        self.value = value
        self.rule = rule

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        raise SpaceError(self.rule)

    def match(self, value: Any, scope: Scope) -> bool:
        return False

    def count(self) -> int:
        return 0

    def check(self, path: str) -> None:
        raise SpaceError(f"{path or 'spec'}: {self.rule}; got {self.value!r}.")

    def describe(self) -> Any:
        return {"invalid": repr(self.value)}


class Group(Node):
    """A dict of named sub-specs; later entries may derive from earlier ones."""

    def __init__(self, fields: Mapping[str, Node]) -> None:
        self.fields = dict(fields)

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        out: dict[str, Any] = {}
        inner = Scope(out, scope)
        for name, node in self.fields.items():
            out[name] = node.resolve(choose, join(key, name), inner)
        return out

    def match(self, value: Any, scope: Scope) -> bool:
        if not isinstance(value, dict) or value.keys() != self.fields.keys():
            return False
        # Derived values see only the entries before them, exactly as when resolving.
        seen: dict[str, Any] = {}
        inner = Scope(seen, scope)
        for name, node in self.fields.items():
            if not node.match(value[name], inner):
                return False
            seen[name] = value[name]
        return True

    def count(self) -> int:
        return math.prod(node.count() for node in self.fields.values())

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        seen: dict[str, Any] = {}
        inner = Scope(seen, scope)
        for name, node in self.fields.items():
            node.collect(value[name], join(key, name), inner, out)
            seen[name] = value[name]

    def layout(self, key: str, out: list[tuple[str, Decision, int]]) -> None:
        for name, node in self.fields.items():
            node.layout(join(key, name), out)

    def check(self, path: str) -> None:
        for name, node in self.fields.items():
            node.check(join(path, name))

    def children(self) -> list[Node]:
        return list(self.fields.values())

    def describe(self) -> Any:
        return {"group": {name: node.describe() for name, node in self.fields.items()}}


class Seq(Node):
    """A fixed-length list of sub-specs, each with its own decisions."""

    def __init__(self, items: list[Node]) -> None:
        self.items = items

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        return [node.resolve(choose, f"{key}[{i}]", scope) for i, node in enumerate(self.items)]

    def match(self, value: Any, scope: Scope) -> bool:
        return (
            isinstance(value, list)
            and len(value) == len(self.items)
            and all(node.match(v, scope) for node, v in zip(self.items, value, strict=True))
        )

    def count(self) -> int:
        return math.prod(node.count() for node in self.items)

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        for i, (node, v) in enumerate(zip(self.items, value, strict=True)):
            node.collect(v, f"{key}[{i}]", scope, out)

    def layout(self, key: str, out: list[tuple[str, Decision, int]]) -> None:
        for i, node in enumerate(self.items):
            node.layout(f"{key}[{i}]", out)

    def check(self, path: str) -> None:
        for i, node in enumerate(self.items):
            node.check(f"{path}[{i}]")

    def children(self) -> list[Node]:
        return list(self.items)

    def describe(self) -> Any:
        return {"seq": [node.describe() for node in self.items]}


class Derived(Node):
    """A value computed from values resolved before it (siblings or enclosing specs)."""

    def __init__(self, fn: Callable[..., Any], needs: tuple[str, ...], label: str) -> None:
        self.fn = fn
        self.needs = needs
        self.label = label

    def _compute(self, scope: Scope) -> Any:
        try:
            args = [scope.lookup(name) for name in self.needs]
        except KeyError as exc:
            raise SpaceError(
                f"derived value {self.label!r} needs {exc.args[0]!r}, which is not defined "
                "before it; declare that decision earlier in the same or an enclosing dict."
            ) from None
        return self.fn(*args)

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        return self._compute(scope)

    def match(self, value: Any, scope: Scope) -> bool:
        try:
            expected = self._compute(scope)
        except (SpaceError, ArithmeticError, TypeError, ValueError):
            return False
        return type(value) is type(expected) and value == expected

    def count(self) -> int:
        return 1

    def describe(self) -> Any:
        return {"derived": self.label, "needs": list(self.needs)}


class Decision(Node):
    """A node whose value a chooser picks: what searchers see."""

    def layout(self, key: str, out: list[tuple[str, Decision, int]]) -> None:
        out.append((key, self, self.slots()))

    def slots(self) -> int:
        return 1

    @abstractmethod
    def encode(self, choice: Any) -> list[float]:
        """Map a collected choice to ``slots()`` numbers in [0, 1]."""

    @abstractmethod
    def decode(self, numbers: list[float]) -> Any:
        """The nearest valid choice to ``numbers``."""


def _label(node: Node, index: int) -> str:
    if isinstance(node, Const):
        return str(node.value)
    if isinstance(node, Group):
        kind = node.fields.get("type")
        if isinstance(kind, Const) and isinstance(kind.value, str):
            return kind.value
    return str(index)


class Choice(Decision):
    """A categorical decision; options are values or sub-specs (conditional spaces)."""

    def __init__(self, options: list[Node]) -> None:
        self.options = options
        labels = [_label(node, i) for i, node in enumerate(options)]
        if len(set(labels)) != len(labels):
            labels = [str(i) for i in range(len(options))]
        self.labels = labels
        values = [node.value for node in options if isinstance(node, Const)]
        self.numeric = len(values) == len(options) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        )
        if self.numeric:
            order = sorted(range(len(values)), key=lambda i: values[i])
            self._rank = {i: r for r, i in enumerate(order)}
            self._by_rank = order

    def child_key(self, key: str, index: int) -> str:
        return f"{key}<{self.labels[index]}>"

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        index = choose(key, self)
        if not isinstance(index, int) or not 0 <= index < len(self.options):
            raise SpaceError(
                f"{key}: a choice index must be in [0, {len(self.options) - 1}]; got {index!r}."
            )
        return self.options[index].resolve(choose, self.child_key(key, index), scope)

    def index_of(self, value: Any, scope: Scope) -> int | None:
        for i, node in enumerate(self.options):
            if node.match(value, scope):
                return i
        return None

    def match(self, value: Any, scope: Scope) -> bool:
        return self.index_of(value, scope) is not None

    def count(self) -> int:
        return sum(node.count() for node in self.options)

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        index = self.index_of(value, scope)
        out[key] = index
        self.options[index].collect(value, self.child_key(key, index), scope, out)

    def layout(self, key: str, out: list[tuple[str, Decision, int]]) -> None:
        out.append((key, self, self.slots()))
        for i, node in enumerate(self.options):
            node.layout(self.child_key(key, i), out)

    def slots(self) -> int:
        return len(self.options) if not self.numeric and len(self.options) > 2 else 1

    def encode(self, choice: Any) -> list[float]:
        n = len(self.options)
        if self.slots() > 1:
            return [1.0 if i == choice else 0.0 for i in range(n)]
        position = self._rank[choice] if self.numeric else choice
        return [position / (n - 1) if n > 1 else 0.0]

    def decode(self, numbers: list[float]) -> Any:
        n = len(self.options)
        if self.slots() > 1:
            return max(range(n), key=lambda i: numbers[i])
        position = min(n - 1, max(0, round(numbers[0] * (n - 1))))
        return self._by_rank[position] if self.numeric else position

    def check(self, path: str) -> None:
        if not self.options:
            raise SpaceError(
                f"{path or 'spec'}: choice() needs at least one option; got none. "
                "Pass the options, e.g. choice(128, 256)."
            )
        for i, node in enumerate(self.options):
            node.check(f"{path}<{self.labels[i]}>")

    def children(self) -> list[Node]:
        return list(self.options)

    def describe(self) -> Any:
        return {"choice": [node.describe() for node in self.options]}


class Integer(Decision):
    """An integer range ``low..high`` (inclusive) on a grid of ``step``, optionally log-scaled."""

    def __init__(self, low: int, high: int, step: int = 1, log: bool = False) -> None:
        self.low, self.high, self.step, self.log = low, high, step, log

    def values(self) -> range:
        return range(self.low, self.high + 1, self.step)

    def snap(self, x: float) -> int:
        k = round((x - self.low) / self.step)
        return self.low + self.step * min(max(k, 0), (self.high - self.low) // self.step)

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        value = choose(key, self)
        if not self.match(value, scope):
            raise SpaceError(
                f"{key}: the value must be an int in {self.values()}; got {value!r}."
            )
        return value

    def match(self, value: Any, scope: Scope) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def count(self) -> int:
        return len(self.values())

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        out[key] = value

    def _unit(self, value: float) -> float:
        if self.high == self.low:
            return 0.0
        if self.log:
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def encode(self, choice: Any) -> list[float]:
        return [self._unit(choice)]

    def decode(self, numbers: list[float]) -> Any:
        u = min(max(numbers[0], 0.0), 1.0)
        if self.log:
            return self.snap(self.low * (self.high / self.low) ** u)
        return self.snap(self.low + u * (self.high - self.low))

    def check(self, path: str) -> None:
        if self.step < 1 or self.low > self.high or (self.log and self.low <= 0):
            raise SpaceError(
                f"{path or 'spec'}: integer() needs low <= high, step >= 1 and low > 0 when "
                f"log=True; got low={self.low}, high={self.high}, step={self.step}, "
                f"log={self.log}."
            )

    def describe(self) -> Any:
        return {"integer": [self.low, self.high, self.step, self.log]}


class Real(Decision):
    """A continuous range ``[low, high]``, optionally log-scaled. Makes ``size()`` infinite.

    Values are kept to ``DIGITS`` significant digits (and clamped into the range): the
    unit-interval map of ``encode`` and its inverse lose the last binary digits of a float,
    and rounding the result back to 12 digits restores the value exactly, so
    ``decode(encode(a)) == a`` for every architecture the space produces.
    """

    DIGITS = 12

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        self.low, self.high, self.log = float(low), float(high), log

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        value = choose(key, self)
        if not self.match(value, scope):
            raise SpaceError(f"{key}: the value must be a float in [{self.low}, {self.high}]; "
                             f"got {value!r}.")
        return self.canonical(value)

    def canonical(self, value: float) -> float:
        """``value`` rounded to ``DIGITS`` significant digits, kept inside ``[low, high]``."""
        return min(max(float(f"{value:.{self.DIGITS}g}"), self.low), self.high)

    def match(self, value: Any, scope: Scope) -> bool:
        return isinstance(value, float) and self.low <= value <= self.high

    def count(self) -> int:
        raise SpaceError(
            "size() is defined only for discrete spaces, and this one has a real() range; "
            "use integer() or choice() for a countable space."
        )

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        out[key] = value

    def encode(self, choice: Any) -> list[float]:
        if self.high == self.low:
            return [0.0]
        if self.log:
            return [math.log(choice / self.low) / math.log(self.high / self.low)]
        return [(choice - self.low) / (self.high - self.low)]

    def decode(self, numbers: list[float]) -> Any:
        u = min(max(numbers[0], 0.0), 1.0)
        if self.log:
            return float(self.low * (self.high / self.low) ** u)
        return float(self.low + u * (self.high - self.low))

    def check(self, path: str) -> None:
        if not self.low <= self.high or (self.log and self.low <= 0):
            raise SpaceError(
                f"{path or 'spec'}: real() needs low <= high and low > 0 when log=True; "
                f"got low={self.low}, high={self.high}, log={self.log}."
            )

    def describe(self) -> Any:
        return {"real": [self.low, self.high, self.log]}


class Repeat(Node):
    """A stack whose depth is itself a decision; each repetition draws its own values
    (heterogeneous) unless ``shared`` (homogeneous: one draw copied to every repetition)."""

    def __init__(self, body: Node, depth: Node, shared: bool) -> None:
        self.body = body
        self.depth = depth
        self.shared = shared

    def depths(self) -> list[int]:
        if isinstance(self.depth, Const):
            return [self.depth.value]
        if isinstance(self.depth, Integer):
            return list(self.depth.values())
        assert isinstance(self.depth, Choice)
        return [node.value for node in self.depth.options]  # type: ignore[attr-defined]

    def resolve(self, choose: Chooser, key: str, scope: Scope) -> Any:
        depth = self.depth.resolve(choose, f"{key}.depth", scope)
        inner = Scope({"@depth": depth}, scope)
        if self.shared:
            item = self.body.resolve(choose, f"{key}[*]", inner)
            return [item] * depth
        return [self.body.resolve(choose, f"{key}[{i}]", inner) for i in range(depth)]

    def match(self, value: Any, scope: Scope) -> bool:
        if not isinstance(value, list) or not self.depth.match(len(value), scope):
            return False
        inner = Scope({"@depth": len(value)}, scope)
        if self.shared:
            return all(v == value[0] for v in value) and self.body.match(value[0], inner)
        return all(self.body.match(v, inner) for v in value)

    def count(self) -> int:
        per = self.body.count()
        return sum(per if self.shared else per**d for d in self.depths())

    def collect(self, value: Any, key: str, scope: Scope, out: dict[str, Any]) -> None:
        self.depth.collect(len(value), f"{key}.depth", scope, out)
        inner = Scope({"@depth": len(value)}, scope)
        if self.shared:
            self.body.collect(value[0], f"{key}[*]", inner, out)
        else:
            for i, v in enumerate(value):
                self.body.collect(v, f"{key}[{i}]", inner, out)

    def layout(self, key: str, out: list[tuple[str, Decision, int]]) -> None:
        self.depth.layout(f"{key}.depth", out)
        if self.shared:
            self.body.layout(f"{key}[*]", out)
        else:
            for i in range(max(self.depths())):
                self.body.layout(f"{key}[{i}]", out)

    def check(self, path: str) -> None:
        if not isinstance(self.depth, Const | Choice | Integer):
            raise SpaceError(
                f"{path}.depth: a repeat depth must be an int, choice() of ints or integer(); "
                f"got {type(self.depth).__name__}."
            )
        self.depth.check(f"{path}.depth")
        depths = self.depths()
        bad = [d for d in depths if not isinstance(d, int) or isinstance(d, bool) or d < 1]
        if bad:
            raise SpaceError(
                f"{path}.depth: a repeat depth must be a positive int; got {bad[0]!r}. "
                "Use depth=choice(2, 4) or depth=integer(1, 12)."
            )
        self.body.check(f"{path}[*]")

    def children(self) -> list[Node]:
        return [self.body, self.depth]

    def describe(self) -> Any:
        return {"repeat": self.body.describe(), "depth": self.depth.describe(),
                "shared": self.shared}


def compile_spec(spec: Any) -> Node:
    """Turn a user spec (dicts, lists, scalars, primitives) into nodes; bad values become
    ``Invalid`` nodes so ``check`` can report them with their path."""
    if isinstance(spec, Node):
        return spec
    if isinstance(spec, Mapping):
        bad = [k for k in spec if not isinstance(k, str)]
        if bad:
            return Invalid(bad[0], "dict keys in a spec must be strings")
        return Group({k: compile_spec(v) for k, v in spec.items()})
    if isinstance(spec, list | tuple):
        return Seq([compile_spec(v) for v in spec])
    if isinstance(spec, float) and not math.isfinite(spec):
        return Invalid(spec, "values must be finite numbers")
    if isinstance(spec, _SCALARS):
        return Const(spec)
    return Invalid(spec, "a spec holds only str, int, float, bool, None, dicts, lists and "
                         "decisions (choice, integer, real, repeat, derived)")
