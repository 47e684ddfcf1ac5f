"""A fast hardware-only study for the dashboard's tests: board costs, no training (well under a
second per trial). Capacity (params) against the board's estimated latency, under a soft SRAM
bound that some trials break, so the front has feasible and infeasible points."""

from __future__ import annotations

import nas
from evaluators import CostEvaluator
from space import Constraint
from space import Space
from space import choice
from space import head
from space import heads
from space import layer
from space import patches
from space import repeat
from space import transformer

HEAD = choice(head("softmax"), head("linear", feature_map="elu"), head("relu"))

space = Space(transformer(
    repeat(layer(choice(16, 32, 64), heads(HEAD, count=2), ffn=[choice(32, 64, 128)],
                 activation=choice("gelu", "relu")), depth=choice(1, 2, 3)),
    input=patches(8, choice(2, 4), 1),
    num_classes=10,
))

study = nas.Study(
    name="hardware",
    space=space,
    evaluate=CostEvaluator("stm32f746"),
    objectives={"params": "max", "mcu_latency_ms": "min"},
    constraints=[Constraint("sram_kb", "<=", 4.0)],
    searcher="random",
    trials=12,
)
