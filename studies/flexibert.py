"""FlexiBERT's heterogeneous space on ListOps, searched by BOSHNAS.

The space is FlexiBERT's test space (boshnas.md §1.1, ``studies/spaces.py``): 2 or 4 layers,
each with its own op (softmax or WMA attention, DFT or DCT token mixing, convolution with
kernel 5 or 9), width, head count and feed-forward stack; 84,943,872 architectures. Models
are trained from scratch on LRA ListOps (generated, length <= 64 here). Four homogeneous
softmax models, from the BERT-Tiny shape to the BERT-Mini shape, are evaluated first, so the
search's models can be compared with them at equal parameter counts.

    nas run studies/flexibert.py            # 24 trials of 400 steps, about 70 min on 2 cores
    nas run studies/flexibert.py --quick    # about 5 minutes
    nas best flexibert-quick --top 5
"""

from spaces import flexibert

import nas
from evaluators import Compose
from evaluators import ListOpsTask
from evaluators import StaticCostEvaluator
from evaluators import TrainEvaluator
from evaluators._tasks import LISTOPS_VOCAB

SEQ = 64
space = flexibert(vocab=LISTOPS_VOCAB, seq_len=SEQ, num_classes=10)


def homogeneous(width, heads, ffn, depth):
    """A softmax-only architecture of the space: BERT-Tiny is (128, 2, [512], 2), BERT-Mini
    (256, 4, [1024], 4)."""
    arch = space.sample(seed=0).to_dict()
    block = {"width": width, "ffn": ffn, "activation": "gelu", "norm": "layernorm",
             "rank_ratio": None, "mixer": {"type": "heads", "heads": [
                 {"type": "softmax", "head_dim": width // heads}] * heads}}
    arch["layers"] = [block] * depth
    return arch


TINY, MINI = homogeneous(128, 2, [512], 2), homogeneous(256, 4, [1024], 4)


def task():
    return ListOpsTask(max_len=SEQ, max_depth=3, max_args=5)


study = nas.Study(
    name="flexibert",
    space=space,
    # 400 steps separate the shapes (BERT-Tiny: 0.49 at 400, 0.52 at 800) at half the cost.
    evaluate=Compose(TrainEvaluator(task(), steps=400), StaticCostEvaluator()),
    objectives={"accuracy": "max"},
    searcher="boshnas",
    trials=24,
    initial=[TINY, homogeneous(128, 2, [512], 4), homogeneous(256, 4, [1024], 2), MINI],
)

quick_study = study.replace(
    name="flexibert-quick",
    evaluate=Compose(TrainEvaluator(task(), steps=100, batch_size=32), StaticCostEvaluator()),
    trials=6,
    initial=[TINY, MINI],
)
