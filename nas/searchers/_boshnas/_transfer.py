"""Weight-transfer overlap between two architectures (boshnas.md §3.5)."""

from __future__ import annotations

from typing import Any


def overlap(query: dict[str, Any], trained: dict[str, Any], decisions: Any = None) -> float:
    """Fraction of the query's blocks whose weights could be copied from ``trained``.

    For transformers, FlexiBERT's rule counted in blocks rather than tensors: the embedding
    if the first widths match; then from layer 0 upward, the attention block if the mixer and
    width match, the feed-forward block if the FFN stack also matches, and the output block if
    the next layer's width also matches; stop at the first layer whose mixer type differs.
    Other architectures score the fraction of equal decisions (``decisions`` maps an
    architecture to its decision dict).
    """
    if query.get("family") == "transformer" and trained.get("family") == "transformer":
        mine, theirs = query["layers"], trained["layers"]
        copied = int(mine[0]["width"] == theirs[0]["width"])
        for j, layer in enumerate(mine):
            if j >= len(theirs) or layer["mixer"].get("type") != theirs[j]["mixer"].get("type"):
                break
            if layer["mixer"] != theirs[j]["mixer"] or layer["width"] != theirs[j]["width"]:
                continue
            copied += 1
            if layer.get("ffn") != theirs[j].get("ffn"):
                continue
            copied += 1
            nxt = mine[j + 1]["width"] if j + 1 < len(mine) else None
            their_next = theirs[j + 1]["width"] if j + 1 < len(theirs) else None
            copied += int(nxt == their_next)
        return copied / (1 + 3 * len(mine))
    if decisions is None:
        keys = set(query) | set(trained)
        return sum(query.get(k) == trained.get(k) for k in keys) / max(len(keys), 1)
    a, b = decisions(query), decisions(trained)
    keys = set(a) | set(b)
    return sum(a.get(k) == b.get(k) for k in keys) / max(len(keys), 1)
