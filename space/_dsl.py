"""The primitives a spec is written with."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from space._errors import SpaceError
from space._nodes import Choice
from space._nodes import Derived
from space._nodes import Integer
from space._nodes import Real
from space._nodes import Repeat
from space._nodes import compile_spec


def choice(*options: Any) -> Choice:
    """A categorical decision. Options are plain values or sub-specs (dicts, lists, other
    decisions), which makes the space conditional: a sub-spec's decisions exist only when
    its option is chosen.

    Example: ``choice("softmax", {"type": "window", "window": choice(8, 16)})``.
    """
    return Choice([compile_spec(option) for option in options])


def integer(low: int, high: int, *, step: int = 1, log: bool = False) -> Integer:
    """An integer in ``[low, high]`` on a grid of ``step``; ``log`` samples it log-uniformly."""
    return Integer(int(low), int(high), int(step), bool(log))


def real(low: float, high: float, *, log: bool = False) -> Real:
    """A float in ``[low, high]``; ``log`` samples it log-uniformly (learning rates)."""
    return Real(low, high, bool(log))


def repeat(body: Any, depth: Any, *, shared: bool = False) -> Repeat:
    """A list of ``depth`` copies of ``body``; ``depth`` may itself be a decision.

    Each repetition draws its own values (heterogeneous stacks) unless ``shared=True``, in which
    case one draw is used for every repetition (homogeneous stacks).
    """
    return Repeat(compile_spec(body), compile_spec(depth), bool(shared))


def derived(fn: Callable[..., Any], *needs: str, label: str | None = None) -> Derived:
    """A value computed from decisions resolved before it, looked up by name in the same or an
    enclosing dict (``"@depth"`` is the depth of the innermost repeat).

    Example: ``derived(lambda width, heads: width // heads, "width", "heads")``.
    """
    return Derived(fn, tuple(needs), label or getattr(fn, "__name__", "derived"))


def ref(name: str) -> Derived:
    """The value of the decision ``name`` from an enclosing dict: ties choices together
    (e.g. every layer's width to one global embedding width)."""
    return Derived(_identity, (name,), f"ref({name})")


def _identity(value: Any) -> Any:
    return value


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class Constraint:
    """A hard bound on a metric, e.g. ``Constraint("sram_kb", "<=", 320, device="stm32f746")``.

    ``device`` names the cost model that produces the metric when it is not the study's own
    evaluator; searchers never hand out an architecture that a cheap cost model shows to break
    a hard constraint.
    """

    metric: str
    op: str
    bound: float
    device: str | None = None

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise SpaceError(
                f"constraint on {self.metric!r}: op must be one of {sorted(_OPS)}; "
                f"got {self.op!r}."
            )
        if not isinstance(self.bound, int | float) or not math.isfinite(self.bound):
            raise SpaceError(
                f"constraint on {self.metric!r}: bound must be a finite number; "
                f"got {self.bound!r}."
            )

    def satisfied(self, metrics: dict[str, float]) -> bool:
        """True if ``metrics`` holds the metric and it meets the bound."""
        value = metrics.get(self.metric)
        return value is not None and math.isfinite(value) and _OPS[self.op](value, self.bound)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "bound": float(self.bound),
                "device": self.device}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Constraint:
        return cls(data["metric"], data["op"], data["bound"], data.get("device"))

