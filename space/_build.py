"""``build``: an architecture dict (docs/interfaces.md §1) -> a runnable ``torch.nn.Module``."""

from __future__ import annotations

from typing import Any

import torch

from space._model import TransformerModel
from space._model import as_dict


def build(arch: Any, seed: int | None = None) -> TransformerModel:
    """Build the CPU model of a transformer architecture.

    Args:
        arch: an ``Architecture`` (read through ``to_dict()``) or a plain dict of the schema.
        seed: seeds the weight initialisation (without touching the global RNG) when given.

    Returns:
        A ``TransformerModel``; ``model(model.example_input(b))`` runs one forward pass and
        returns logits, (b, classes) or (b, L, vocab).

    Raises:
        SpaceError: ``arch`` is not a transformer architecture.
    """
    a = as_dict(arch)
    if seed is None:
        return TransformerModel(a)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerModel(a)
