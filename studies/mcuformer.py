"""MCUFormer on digits: the most accurate ViT that fits an STM32F746 (320 KB SRAM, 1 MB flash).

As in MCUFormer (hardware-costs.md §2.2), the patch size and the low-rank ratio of every linear
are searched with the embedding width, depth, heads and MLP ratio; here on 8×8 digits, where
patch 1 gives 65 tokens and patch 4 gives 5. Peak SRAM and flash come from the int8 operator
schedule of the board's cost model, so an architecture over either budget never costs a trial.
The one-shot searcher trains one weight-sharing supernet, searches its subnets under the
constraints, and retrains the best standalone.

    nas run studies/mcuformer.py --quick    # about 5 minutes on an idle 2-core machine
    nas best mcuformer-quick
"""

import nas
from evaluators import Compose
from evaluators import CostEvaluator
from evaluators import TrainEvaluator
from space import Constraint
from space import Space
from space import choice
from space import derived
from space import layer
from space import mixer
from space import patches
from space import ref
from space import repeat
from space import transformer

BOARD = "stm32f746"

space = Space(transformer(
    repeat(layer(ref("embed"), mixer("softmax", heads=choice(2, 4)),
                 ffn=choice([derived(lambda w: 2 * w, "width")],
                            [derived(lambda w: 4 * w, "width")]),
                 rank_ratio=ref("rank_ratio")),
           depth=choice(2, 3, 4)),
    input=patches(8, choice(1, 2, 4), 1),
    num_classes=10,
    embed=choice(64, 128, 192, 256),
    rank_ratio=choice(0.4, 0.55, 0.7, 0.85, 0.95),
))

study = nas.Study(
    name="mcuformer",
    space=space,
    evaluate=Compose(TrainEvaluator("digits", steps=600), CostEvaluator(BOARD)),
    objectives={"accuracy": "max", "sram_kb": "min"},
    constraints=[Constraint("sram_kb", "<=", 320, device=BOARD),
                 Constraint("flash_kb", "<=", 1024, device=BOARD)],
    searcher="oneshot",
    searcher_options={"supernet_steps": 1500, "population": 24, "generations": 6},
    trials=12,
)

quick_study = study.replace(
    name="mcuformer-quick",
    evaluate=Compose(TrainEvaluator("digits", steps=150), CostEvaluator(BOARD)),
    searcher_options={"supernet_steps": 100, "population": 8, "generations": 2},
    trials=3,
)
