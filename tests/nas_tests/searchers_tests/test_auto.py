"""``searcher="auto"`` resolves to a registered searcher by the space's size."""

from __future__ import annotations

import nas
from nas.searchers import PoolSpace
from nas.searchers._auto import choose_searcher
from space import Space
from space import choice


def test_auto_picks_boshnas_on_small_spaces_and_tpe_on_large_ones() -> None:
    large = Space({f"d{i}": choice(*range(5)) for i in range(6)})
    pool = PoolSpace(large, [large.sample(i) for i in range(50)])
    assert choose_searcher(pool) == "boshnas"
    assert choose_searcher(large) == "tpe"


def test_study_default_is_resolved_when_built() -> None:
    space = Space({f"d{i}": choice(*range(5)) for i in range(6)})
    study = nas.Study(
        name="auto", space=space, evaluate=lambda arch: {"accuracy": 1.0},
        objectives={"accuracy": "max"},
    )  # fmt: skip
    assert study.searcher == "tpe"
    assert nas.Study(
        name="picked", space=space, evaluate=lambda arch: {"accuracy": 1.0},
        objectives={"accuracy": "max"}, searcher="random",
    ).searcher == "random"  # fmt: skip
