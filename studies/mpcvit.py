"""MPCViT on digits: which heads need softmax when inference runs under two-party MPC?

Each of the 4 heads of each of the 3 layers of a small ViT picks softmax, ReLU-softmax (RSAttn)
or ScaleAttn, as in MPCViT's heterogeneous attention space (hardware-costs.md §1.1). NSGA-II
trades validation accuracy against the 2PC inference time on the WAN preset calibrated on
MPCViT's CIFAR-10 numbers. The all-softmax, all-ReLU and all-ScaleAttn models are evaluated
first, so the front can be compared with them.

    nas run studies/mpcvit.py --quick    # about 2 minutes
    nas pareto mpcvit-quick --plot studies/mpcvit.png
"""

import nas
from evaluators import Compose
from evaluators import CostEvaluator
from evaluators import TrainEvaluator
from space import Space
from space import choice
from space import head
from space import heads
from space import layer
from space import patches
from space import repeat
from space import transformer

KINDS = ("softmax", "relu", "scale")


def vit(head_kind):
    return transformer(repeat(layer(64, heads(head(head_kind), count=4), ffn=[128]), depth=3),
                       input=patches(8, 2, 1), num_classes=10)


space = Space(vit(choice(*KINDS)))
HOMOGENEOUS = [Space(vit(kind)).sample(seed=0) for kind in KINDS]

study = nas.Study(
    name="mpcvit",
    space=space,
    evaluate=Compose(TrainEvaluator("digits", steps=600), CostEvaluator("mpc-wan")),
    objectives={"accuracy": "max", "mpc_ms": "min"},
    searcher="nsga2",
    trials=60,
    initial=HOMOGENEOUS,
)

quick_study = study.replace(
    name="mpcvit-quick",
    evaluate=Compose(TrainEvaluator("digits", steps=200), CostEvaluator("mpc-wan")),
    trials=16,
)
