"""The ask/tell loop the searcher tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def drive(searcher, rounds: int, score: Callable[[Any], float], n: int = 3) -> list[str]:
    """Ask/tell for some rounds; the last architecture of each batch stays pending a round."""
    asked, late = [], []
    for _ in range(rounds):
        batch = searcher.ask(n)
        asked += [a.id for a in batch]
        for arch in late + batch[:-1]:
            searcher.tell(arch, {"accuracy": score(arch)})
        late = batch[-1:]
    return asked
