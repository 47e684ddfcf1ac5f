"""Read the transformer architecture dictionary of docs/interfaces.md §1.

Cost models walk the plain dict, so they price an architecture without building it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evaluators._errors import EvaluatorError


def arch_dict(arch: Any) -> dict[str, Any]:
    """The plain dict of an ``Architecture`` (or a dict passed through)."""
    if isinstance(arch, Mapping):
        data = dict(arch)
    elif hasattr(arch, "to_dict"):
        data = arch.to_dict()
    else:
        raise EvaluatorError(
            f"An architecture must be a space.Architecture or a dict; got {type(arch).__name__}."
        )
    if data.get("family") != "transformer":
        raise EvaluatorError(
            "Cost models price transformer architectures (a dict with family='transformer'); "
            f"got family={data.get('family')!r}. Declare the space with space.transformer(...)."
        )
    return data


def has_class_token(arch: Mapping[str, Any]) -> bool:
    inp = arch["input"]
    return inp["type"] == "image" and arch.get("task", "classify") == "classify" and (
        arch.get("pool", "cls") == "cls"
    )


def seq_len(arch: Mapping[str, Any]) -> int:
    """Token count L: seq_len for tokens, (image // patch)**2 (+1 class token) for images."""
    inp = arch["input"]
    if inp["type"] == "tokens":
        return int(inp["seq_len"])
    return (int(inp["image_size"]) // int(inp["patch"])) ** 2 + int(has_class_token(arch))


def out_dim(arch: Mapping[str, Any]) -> int:
    if arch.get("task", "classify") == "lm":
        return int(arch["input"]["vocab"])
    return int(arch["num_classes"])


def low_rank(d_in: int, d_out: int, rank_ratio: float | None, *, ffn: bool) -> int | None:
    """k of a factorised linear (MCUFormer), or None for a dense one (interfaces.md §1)."""
    if rank_ratio is None:
        return None
    base = min(d_in, d_out) if ffn else d_in
    # The epsilon matches space's factor_rank: 0.29·100 must floor to 29, not 28.
    return max(1, math.floor(rank_ratio * base + 1e-9))


def linear_shapes(d_in: int, d_out: int, k: int | None) -> list[tuple[int, int]]:
    """(in, out) of the linears a dense or factorised d_in -> d_out linear runs."""
    if k is None:
        return [(d_in, d_out)]
    return [(d_in, k), (k, k), (k, d_out)]


def head_groups(mixer: Mapping[str, Any], width: int) -> list[tuple[str, int, int, dict]]:
    """(kind, heads, head_dim, params) per group of identical heads in a layer's mixer.

    A per-head list groups equal heads so a cost model prices one batched call per group, as a
    builder that stacks identical heads would run it.
    """
    if mixer["type"] != "heads":
        heads = int(mixer.get("heads", 1))
        head_dim = int(mixer.get("head_dim", width // max(heads, 1)))
        params = {k: v for k, v in mixer.items() if k not in ("type", "heads", "head_dim")}
        return [(mixer["type"], heads, head_dim, params)]
    groups: dict[str, tuple[str, int, int, dict]] = {}
    for head in mixer["heads"]:
        params = {k: v for k, v in head.items() if k not in ("type", "head_dim")}
        key = repr((head["type"], int(head["head_dim"]), sorted(params.items())))
        kind, n, hd, p = groups.get(key, (head["type"], 0, int(head["head_dim"]), params))
        groups[key] = (kind, n + 1, hd, p)
    return list(groups.values())


def mixer_inner_width(mixer: Mapping[str, Any], width: int) -> int:
    """Total width of the q/k/v projections of an attention-like mixer."""
    return sum(n * hd for _, n, hd, _ in head_groups(mixer, width))
