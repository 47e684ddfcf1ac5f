"""Softmax or linear attention, layer by layer, for character-level language modelling.

Each layer of a causal byte-level LM on the Python standard library's own source picks softmax
or linear attention (elu+1 or ReLU feature maps), its width and heads, in the spirit of "Neural
Architecture Search on Efficient Transformers and Beyond". Regularized evolution trades
validation perplexity against forward latency measured on this CPU at 128 bytes. The
all-softmax and all-linear models are evaluated first.

    nas run studies/efficient_attention.py            # 40 trials, about 45 min on 2 cores
    nas run studies/efficient_attention.py --quick    # about 5 minutes
    nas pareto efficient-attention-quick --plot studies/efficient_attention.png
"""

import nas
from evaluators import Compose
from evaluators import MeasuredLatencyEvaluator
from evaluators import TrainEvaluator
from space import Space
from space import choice
from space import layer
from space import mixer
from space import repeat
from space import tokens
from space import transformer

SEQ = 128
SOFTMAX = mixer("softmax", heads=choice(2, 4))
LINEAR = mixer("linear", heads=choice(2, 4), feature_map=choice("elu", "relu"))


def lm(attention, seq_len=SEQ):
    return transformer(repeat(layer(choice(64, 128), attention, ffn=[choice(128, 256)]),
                              depth=choice(2, 3, 4)),
                       input=tokens(256, seq_len), task="lm")


space = Space(lm(choice(SOFTMAX, LINEAR)))
HOMOGENEOUS = [Space(lm(SOFTMAX)).sample(seed=1), Space(lm(LINEAR)).sample(seed=1)]
TASK = {"seq_len": SEQ}

study = nas.Study(
    name="efficient-attention",
    space=space,
    evaluate=Compose(TrainEvaluator("stdlib-lm", steps=600, task_options=TASK),
                     MeasuredLatencyEvaluator()),
    objectives={"perplexity": "min", "latency_ms": "min"},
    searcher="evolution",
    trials=40,
    initial=HOMOGENEOUS,
)

quick_study = study.replace(
    name="efficient-attention-quick",
    evaluate=Compose(TrainEvaluator("stdlib-lm", steps=120, batch_size=32, task_options=TASK),
                     MeasuredLatencyEvaluator()),
    trials=8,
)
