"""The graph form of an architecture (FlexiBERT's computational graph for transformers).

Transformer graphs follow FlexiBERT (``../shared/reference/boshnas.md`` §2.1): ``input``; per
layer one node per head labelled with its op, an ``add_norm``, one node per feed-forward layer,
another ``add_norm`` (with residual edges around both blocks), a projection when the next layer
is wider or narrower; then ``output``. Graph kernels and edit distances compare these labels.
Any other architecture becomes a chain of ``name=value`` nodes, so every space has a graph.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

_SKIP = ("type", "heads", "head_dim")


def head_label(spec: dict[str, Any]) -> str:
    """``softmax_d64`` or ``window_d32_window-16``: op, head size and the op's parameters."""
    params = "".join(f"_{k}-{v}" for k, v in sorted(spec.items()) if k not in _SKIP)
    size = f"_d{spec['head_dim']}" if "head_dim" in spec else ""
    return f"{spec['type']}{size}{params}"


def _mixer_labels(mixer: dict[str, Any], width: int) -> list[str]:
    if mixer["type"] == "heads":
        return [head_label(h) for h in mixer["heads"]]
    if "heads" in mixer:
        return [head_label(mixer)] * int(mixer["heads"])
    return [f"{head_label(mixer)}_w{width}"]


def _transformer_graph(arch: dict[str, Any]) -> nx.DiGraph:
    g = nx.DiGraph()

    def add(op: str) -> int:
        node = g.number_of_nodes()
        g.add_node(node, op=op)
        return node

    prev = add("input")
    layers = arch["layers"]
    for j, spec in enumerate(layers):
        heads = [add(label) for label in _mixer_labels(spec["mixer"], spec["width"])]
        norm1 = add("add_norm")
        for h in heads:
            g.add_edge(prev, h)
            g.add_edge(h, norm1)
        g.add_edge(prev, norm1)
        last = norm1
        for hidden in spec["ffn"]:
            node = add(f"f{hidden}")
            g.add_edge(last, node)
            last = node
        norm2 = add("add_norm")
        g.add_edge(last, norm2)
        g.add_edge(norm1, norm2)
        prev = norm2
        if j + 1 < len(layers) and layers[j + 1]["width"] != spec["width"]:
            proj = add(f"proj{spec['width']}-{layers[j + 1]['width']}")
            g.add_edge(prev, proj)
            prev = proj
    g.add_edge(prev, add("output"))
    return g


def _flatten(value: Any, key: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for name in sorted(value):
            _flatten(value[name], f"{key}.{name}" if key else name, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten(item, f"{key}[{i}]", out)
    else:
        out.append(f"{key}={value}")


def to_graph(arch: dict[str, Any]) -> nx.DiGraph:
    """A ``networkx.DiGraph`` whose nodes carry an ``op`` label."""
    if arch.get("family") == "transformer":
        return _transformer_graph(arch)
    labels: list[str] = []
    _flatten(arch, "", labels)
    g = nx.DiGraph()
    for i, op in enumerate(["input", *labels, "output"]):
        g.add_node(i, op=op)
        if i:
            g.add_edge(i - 1, i)
    return g
