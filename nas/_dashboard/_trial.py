"""A trial's page data: its record, its architecture as a drawable graph, its predicted costs."""

from __future__ import annotations

import re
from typing import Any

_KIND = re.compile(r"[a-z0-9]+")


def architecture_graph(arch_json: str) -> dict[str, Any]:
    """``arch.graph()`` as nodes with a row (longest path from the input) and a column, so the
    browser draws layers in order and a layer's heads side by side.

    Returns:
        ``{"nodes": [{"id", "op", "kind", "row", "col"}], "edges": [[src, dst]]}``; ``kind`` is
        the op's leading word (``softmax``, ``linear``, ``f128`` -> ``f``), which the page colours.
    """
    import networkx as nx

    from space import Architecture

    graph = Architecture.from_json(arch_json).graph()
    rows: dict[Any, int] = {}
    for node in nx.topological_sort(graph):
        rows[node] = max((rows[p] + 1 for p in graph.predecessors(node)), default=0)
    cols: dict[int, int] = {}
    nodes = []
    for node in sorted(graph.nodes, key=lambda n: (rows[n], str(n))):
        op = str(graph.nodes[node].get("op", node))
        found = _KIND.match(op)
        kind = found.group(0) if found else "op"
        if kind.startswith("f") and kind[1:].isdigit():
            kind = "ffn"
        nodes.append({"id": str(node), "op": op, "kind": kind, "row": rows[node],
                      "col": cols.get(rows[node], 0)})
        cols[rows[node]] = cols.get(rows[node], 0) + 1
    return {"nodes": nodes, "edges": [[str(a), str(b)] for a, b in graph.edges]}


def predicted_costs(arch_json: str, storage_url: str) -> list[dict[str, Any]]:
    """``evaluators.predict`` on every device, one entry each; a device that cannot price this
    architecture (no calibration, not a transformer) gets its one-line reason instead."""
    from evaluators import DEVICES
    from evaluators import EvaluatorError
    from evaluators import predict
    from space import Architecture
    from space import SpaceError
    from storage import StorageError

    arch = Architecture.from_json(arch_json)
    out = []
    for device in DEVICES:
        try:
            costs = predict(arch, device=device, storage=storage_url)
            out.append({"device": device, "costs": {k: v for k, v in costs.items()
                                                    if v is not None}})
        except (EvaluatorError, SpaceError, StorageError, KeyError, TypeError, ValueError) as e:
            out.append({"device": device, "error": " ".join(str(e).split()) or type(e).__name__})
    return out
