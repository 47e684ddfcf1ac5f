from __future__ import annotations

import pytest

from space import Space
from space import SpaceError
from space import choice
from space import head
from space import heads
from space import layer
from space import mixer
from space import patches
from space import repeat
from space import tokens
from space import transformer


def _lm(*layers):
    return transformer(list(layers), input=tokens(64, 32), task="lm")


def _clf(*layers, **kw):
    return transformer(list(layers), input=kw.pop("input", tokens(64, 32)), num_classes=4, **kw)


def test_head_dim_defaults_to_width_over_heads() -> None:
    sp = Space(_clf(layer(choice(128, 256), mixer("softmax", heads=choice(2, 4)), ffn=[256])))
    assert sp.size() == 4
    for seed in range(20):
        m = sp.sample(seed=seed)["layers"][0]
        assert m["mixer"]["head_dim"] * m["mixer"]["heads"] == m["width"]


def test_a_choice_of_mixer_types_fills_head_dim_for_each() -> None:
    sp = Space(_clf(layer(64, mixer(choice("softmax", "relu"), heads=choice(2, 4)))))
    assert sp.size() == 4
    kinds = set()
    for seed in range(30):
        m = sp.sample(seed=seed)["layers"][0]["mixer"]
        kinds.add(m["type"])
        assert m["head_dim"] * m["heads"] == 64
    assert kinds == {"softmax", "relu"}


def test_heads_mixer_splits_the_width_between_its_heads() -> None:
    sp = Space(_clf(layer(96, heads([head("softmax"), head("relu"), head("dct")]), ffn=[])))
    arch = sp.sample(seed=0)
    assert [h["head_dim"] for h in arch["layers"][0]["mixer"]["heads"]] == [32, 32, 32]


def test_lm_defaults_to_causal_and_drops_classification_keys() -> None:
    arch = Space(_lm(layer(32, mixer("linear", heads=2, feature_map="elu")))).sample(seed=0)
    assert arch["causal"] is True and arch["task"] == "lm"
    assert "num_classes" not in arch and "pool" not in arch


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _clf(layer(64, mixer("softmax", heads=4)), layer(64, mixer("softmax", heads=4)),
                      layer(256, mixer("softmax", heads=choice(4, 6)))),
         r"layers\[2\]\.mixer\.heads must divide the layer width 256; got 6\. "
         r"Use 1, 2, 4, 8, 16, 32, 64, 128 or 256\."),
        (lambda: _clf(layer(64, mixer("softmaxx", heads=4))),
         r"layers\[0\]\.mixer\.type must be a registered mixer; got 'softmaxx'\. Use one of"),
        (lambda: _clf(layer(-8, mixer("dct"))),
         r"layers\[0\]\.width must be a positive int; got -8"),
        (lambda: _lm(layer(64, choice(mixer("softmax", heads=2), mixer("dct")))),
         r"layers\[0\]\.mixer\.type must be causal-capable in a causal \(lm\) model; got 'dct'"),
        (lambda: _clf(layer(64, mixer("window", heads=2, window=choice(8, 40)))),
         r"layers\[0\]\.mixer\.window must be a positive int below the sequence length 32; "
         r"got 40"),
        (lambda: _clf(layer(64, mixer("lowrank", heads=2, rank=33))),
         r"layers\[0\]\.mixer\.rank must be a positive int at most the sequence length 32"),
        (lambda: _clf(layer(64, mixer("dct")), input=patches(32, choice(4, 5))),
         r"input\.patch must divide the image size 32; got 5"),
        (lambda: _clf(layer(64, heads(head("pool", pool_size=3), count=2))),
         r"layers\[0\]\.mixer\.heads\[\*\]\.type must be a head-capable mixer"),
        (lambda: _clf(layer(60, heads(head("softmax"), count=choice(4, 8)))),
         r"layers\[0\]\.mixer\.heads \(the number of heads\) must divide the layer width 60; "
         r"got 8"),
        (lambda: transformer(repeat(layer(64, mixer("dct"), activation="tanh"), depth=2),
                             input=tokens(64, 32), num_classes=4),
         r"layers\[\*\]\.activation must be one of gelu, relu, quad, swiglu; got 'tanh'"),
        (lambda: transformer([layer(64, mixer("dct"))], input=tokens(64, 32)),
         r"num_classes must be an int >= 2 for classification; got None"),
        (lambda: _clf(layer(64, mixer("dct"), ffn=[choice(128, 0)])),
         r"layers\[0\]\.ffn hidden widths must be positive ints; got 0"),
        # Every mixer's declared parameters: required, typed, in range, and nothing else.
        (lambda: _clf(layer(64, heads([head("conv"), head("softmax")]))),
         r"layers\[0\]\.mixer\.heads\[0\]\.kernel is required by head 'conv' \(an int >= 1\); "
         r"got none\. Pass head\('conv', \.\.\., kernel=3\)\."),
        (lambda: _clf(layer(64, mixer("conv", heads=2, kernel=3))),
         r"layers\[0\]\.mixer\.heads is not a parameter of mixer 'conv'; got 2\. It takes kernel"),
        (lambda: _clf(layer(64, mixer("window", heads=2))),
         r"layers\[0\]\.mixer\.window is required by mixer 'window'"),
        (lambda: _clf(layer(64, mixer("softmax"))),
         r"layers\[0\]\.mixer\.heads is required by mixer 'softmax'"),
        (lambda: _clf(layer(64, mixer("window", heads=2, windw=4))),
         r"layers\[0\]\.mixer\.windw is not a parameter of mixer 'window'; got 4\. It takes "
         r"heads, head_dim and window; did you mean window\?"),
        (lambda: _clf(layer(64, mixer("linear", heads=2, feature_map="tanh"))),
         r"feature_map of mixer 'linear' must be one of 'elu', 'relu'; got 'tanh'"),
        (lambda: _clf(layer(64, mixer("shsa", qk_dim=8, partial=0.0))),
         r"partial of mixer 'shsa' must be a float in \(0, 1\]; got 0\.0\. Use partial=0\.25\."),
        (lambda: _clf(layer(64, mixer("ssm", state=4, selective=1))),
         r"selective of mixer 'ssm' must be a bool; got 1"),
        (lambda: _clf(layer(64, mixer("conv", kernel=choice(3, 0)))),
         r"kernel of mixer 'conv' must be an int >= 1; got 0"),
        (lambda: _clf(layer(64, mixer("dct")), input="tokens"),
         r"input must be tokens\(\.\.\.\) or patches\(\.\.\.\); got 'tokens'"),
        (lambda: _clf(layer(64, {"type": "heads", "heads": 4})),
         r"layers\[0\]\.mixer\.heads must be a list of head specs or a repeat; got 4"),
    ],
)
def test_invalid_transformer_specs(make, message) -> None:
    with pytest.raises(SpaceError, match=message):
        Space(make())


def test_crop_allows_patches_that_do_not_divide_the_image() -> None:
    sp = Space(_clf(layer(64, mixer("dct")), input=patches(240, choice(28, 32), crop=True)))
    assert sp.size() == 2


def test_a_registered_mixer_declares_what_it_takes() -> None:
    from space import MIXERS
    from space import MixerParam
    from space import register_mixer
    from space.mixers import ConvMixer

    register_mixer("conv_test", ConvMixer, params={
        "kernel": MixerParam(int, low=1, high=9, example=3),
        "dilation": MixerParam(int, low=1, required=False)})
    try:
        Space(_clf(layer(64, mixer("conv_test", kernel=3))))
        with pytest.raises(SpaceError, match=r"kernel of mixer 'conv_test' must be an int in "
                                             r"\[1, 9\]; got 11"):
            Space(_clf(layer(64, mixer("conv_test", kernel=11))))
        # A bare type declares a required parameter of that type.
        with pytest.warns(UserWarning, match="replacing the mixer 'conv_test'"):
            register_mixer("conv_test", ConvMixer, params={"kernel": int})
        assert MIXERS["conv_test"].params["kernel"] == MixerParam(int)
    finally:
        MIXERS.pop("conv_test")
