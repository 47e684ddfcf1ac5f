"""The search spaces of the published systems, written in the hetnas DSL.

Each is a function so a study can put it on its own task (vocabulary, length, classes); the
defaults are the published settings. ``tests/space_tests/test_studies_spaces.py`` derives each
``size()`` from the definition.
"""

from space import Space
from space import choice
from space import derived
from space import head
from space import heads
from space import layer
from space import mixer
from space import patches
from space import ref
from space import repeat
from space import tokens
from space import transformer

FLEXIBERT_OPS = [head("softmax"), head("wma"), head("dft"), head("dct"),
                 head("conv", kernel=5), head("conv", kernel=9)]


def flexibert(vocab=30522, seq_len=128, num_classes=2):
    """FlexiBERT's test space (boshnas.md §1.1): 2 or 4 layers; per layer an op/parameter
    shared by its 2 or 4 heads, width 128/256, a homogeneous FFN stack of 1 or 3 × 512/1024."""
    block = layer(choice(128, 256),
                  heads(choice(*FLEXIBERT_OPS), count=choice(2, 4), shared=True),
                  ffn=repeat(choice(512, 1024), depth=choice(1, 3), shared=True))
    return Space(transformer(repeat(block, depth=choice(2, 4)),
                             input=tokens(vocab, seq_len), num_classes=num_classes))


def mpcvit(image_size=32, patch=4, channels=3, num_classes=10):
    """MPCViT's per-head space on ViT-7/4/32 (hardware-costs.md §1.1): each of the 4 heads of
    each of the 7 layers is ReLU-softmax or ScaleAttn."""
    block = layer(256, heads(head(choice("relu", "scale")), count=4), ffn=[512])
    return Space(transformer(repeat(block, depth=7), input=patches(image_size, patch, channels),
                             num_classes=num_classes))


def mcuformer(image_size=240, channels=3, num_classes=1000):
    """MCUFormer's T space with its MCU dimensions (hardware-costs.md §2.2): global embedding
    width, rank ratio and patch size; per layer heads and MLP ratio; depth 12-14."""
    ffn = choice([derived(lambda w: int(w * 3.5), "width")], [derived(lambda w: w * 4, "width")])
    block = layer(ref("embed"), mixer("softmax", heads=choice(3, 4)), ffn=ffn,
                  rank_ratio=ref("rank_ratio"))
    return Space(transformer(
        repeat(block, depth=choice(12, 13, 14)),
        input=patches(image_size, choice(32, 28, 24, 20, 16), channels, crop=True),
        num_classes=num_classes, embed=choice(168, 192, 216),
        rank_ratio=choice(*[round(0.40 + 0.05 * i, 2) for i in range(12)])))
