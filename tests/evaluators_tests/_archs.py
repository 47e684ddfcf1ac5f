"""Hand-written architecture dicts (docs/interfaces.md §1) shared by the evaluator tests."""

from __future__ import annotations

from typing import Any

# Every mixer of the schema with the parameters it needs.
MIXERS: dict[str, dict[str, Any]] = {
    "softmax": {"type": "softmax", "heads": 2, "head_dim": 16},
    "wma": {"type": "wma", "heads": 2, "head_dim": 16},
    "window": {"type": "window", "heads": 2, "head_dim": 16, "window": 4},
    "linear": {"type": "linear", "heads": 2, "head_dim": 16, "feature_map": "elu"},
    "relu": {"type": "relu", "heads": 2, "head_dim": 16},
    "scale": {"type": "scale", "heads": 2, "head_dim": 16},
    "quad": {"type": "quad", "heads": 2, "head_dim": 16},
    "lowrank": {"type": "lowrank", "heads": 2, "head_dim": 16, "rank": 8},
    "dft": {"type": "dft"},
    "dct": {"type": "dct"},
    "conv": {"type": "conv", "kernel": 3},
    "dynconv": {"type": "dynconv", "heads": 2, "head_dim": 16, "kernel": 5},
    "pool": {"type": "pool", "pool_size": 3},
    "ssm": {"type": "ssm", "state": 8, "selective": True},
    "shsa": {"type": "shsa", "qk_dim": 16, "partial": 0.25},
    "heads": {"type": "heads", "heads": [
        {"type": "softmax", "head_dim": 16}, {"type": "scale", "head_dim": 16}]},
}


def layer(width: int = 32, mixer: dict | None = None, ffn: list[int] | None = None,
          activation: str = "gelu", rank_ratio: float | None = None) -> dict[str, Any]:
    return {"width": width, "mixer": mixer or MIXERS["softmax"],
            "ffn": [64] if ffn is None else ffn, "activation": activation, "norm": "layernorm",
            "rank_ratio": rank_ratio}


def text(layers: list[dict] | None = None, seq_len: int = 16, vocab: int = 50) -> dict[str, Any]:
    return {"family": "transformer", "task": "classify", "causal": False,
            "input": {"type": "tokens", "vocab": vocab, "seq_len": seq_len},
            "num_classes": 4, "pool": "mean", "layers": layers or [layer(), layer()]}


def vit(width: int = 32, depth: int = 2, patch: int = 4, image: int = 16,
        rank_ratio: float | None = None, mixer: dict | None = None) -> dict[str, Any]:
    return {"family": "transformer", "task": "classify", "causal": False,
            "input": {"type": "image", "image_size": image, "channels": 3, "patch": patch},
            "num_classes": 10, "pool": "cls",
            "layers": [layer(width, mixer, [2 * width], rank_ratio=rank_ratio)] * depth}
