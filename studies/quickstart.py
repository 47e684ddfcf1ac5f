"""Quickstart: heterogeneous-attention vision transformers on the digits task.

BOSHNAS searches per-head attention kinds, widths, depth and patch size for validation accuracy
and measured CPU latency (batch 1). About a minute on 2 idle cores:

    nas run studies/quickstart.py            # 24 trials
    nas run studies/quickstart.py --quick    # 4 short trials, a smoke test
    nas pareto quickstart
"""

from __future__ import annotations

import nas
from evaluators import Compose
from evaluators import MeasuredLatencyEvaluator
from evaluators import TrainEvaluator
from space import Space
from space import choice
from space import head
from space import heads
from space import layer
from space import patches
from space import repeat
from space import transformer

# Each head of a layer picks its own kind, so one layer may mix softmax, linear and conv heads.
HEAD = choice(head("softmax"), head("linear", feature_map="elu"), head("relu"),
              head("conv", kernel=3))

space = Space(transformer(
    repeat(layer(choice(32, 64), heads(HEAD, count=2), ffn=[choice(64, 128)],
                 activation=choice("gelu", "relu")), depth=choice(1, 2)),
    input=patches(8, choice(2, 4), 1),
    num_classes=10,
))


study = nas.Study(
    name="quickstart",
    space=space,
    # 500 steps (2-5 s on an idle core), or 10 s on a busy machine, whichever comes first.
    evaluate=Compose(TrainEvaluator("digits", steps=500, seconds=10), MeasuredLatencyEvaluator()),
    objectives={"accuracy": "max", "latency_ms": "min"},
    searcher="boshnas",
    trials=24,
    timeout_s=120,
)

quick_study = study.replace(
    name="quickstart-quick",
    evaluate=Compose(TrainEvaluator("digits", steps=30, seconds=5), MeasuredLatencyEvaluator()),
    trials=4,
)
