"""Two transformer spaces whose random members calibrate and check the latency model: a
heterogeneous text encoder and a vision transformer."""

from __future__ import annotations

from space import Space
from space import choice
from space import head
from space import heads
from space import layer
from space import mixer
from space import patches
from space import ref
from space import repeat
from space import tokens
from space import transformer


def text_space(seq_len: int = 128) -> Space:
    """Token classifiers with per-layer widths and mixers from every family, FlexiBERT-style."""
    width = choice(64, 128, 256)
    mixers = choice(
        mixer("softmax", heads=choice(2, 4)),
        mixer("linear", heads=choice(2, 4), feature_map="elu"),
        mixer("window", heads=choice(2, 4), window=16),
        mixer("relu", heads=choice(2, 4)),
        mixer("dct"),
        mixer("conv", kernel=choice(5, 9)),
        heads(head(choice("softmax", "scale", "quad")), count=choice(2, 4)),
    )
    block = layer(width, mixers, ffn=[choice(256, 512, 1024)],
                  activation=choice("gelu", "relu"))
    return Space(transformer(repeat(block, depth=choice(1, 2, 3, 4)),
                             input=tokens(1000, choice(seq_len // 2, seq_len)), num_classes=4))


def vision_space(image_size: int = 32) -> Space:
    """ViTs over patches with one width, low-rank options and attention variants."""
    attention = choice(*[mixer(kind, heads=choice(2, 4)) for kind in ("softmax", "relu", "scale")])
    block = layer(ref("embed"), attention, ffn=[choice(256, 512)], rank_ratio=choice(None, 0.5))
    return Space(transformer(repeat(block, depth=choice(2, 4, 6)),
                             input=patches(image_size, choice(4, 8), 3),
                             num_classes=10, embed=choice(96, 192)))


def calibration_spaces() -> dict[str, Space]:
    return {"text": text_space(), "vision": vision_space()}
