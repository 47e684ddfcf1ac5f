"""``build``: every mixer, activation, norm, rank, input type and task gives a runnable model."""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch

from space._build import build
from space._errors import SpaceError
from space.mixers import MIXERS

ATTENTION = ["softmax", "wma", "window", "linear", "relu", "scale", "quad"]
HEAD_TYPES = [name for name, info in MIXERS.items() if info.head_capable]


def _mixer_params(kind: str, rng: random.Random, seq_len: int) -> dict[str, Any]:
    """The type's own params (not heads/head_dim), valid for sequences of ``seq_len``."""
    return {
        "window": {"window": rng.randint(1, max(1, seq_len - 1))},
        "linear": {"feature_map": rng.choice(["elu", "relu"])},
        "lowrank": {"rank": rng.randint(1, seq_len)},
        "conv": {"kernel": rng.choice([2, 3, 5])},
        "dynconv": {"kernel": rng.choice([3, 4, 5])},
        "pool": {"pool_size": rng.choice([2, 3])},
        "ssm": {"state": rng.randint(1, 4), "selective": rng.random() < 0.5},
        "shsa": {"qk_dim": rng.choice([2, 4]), "partial": rng.choice([0.25, 0.5, 1.0])},
    }.get(kind, {})


def random_mixer(
    kind: str, width: int, causal: bool, rng: random.Random, seq_len: int
) -> dict[str, Any]:
    """A valid mixer dict of ``kind`` for a layer of ``width``."""
    if kind == "heads":
        choices = [t for t in HEAD_TYPES if MIXERS[t].causal or not causal]
        return {
            "type": "heads",
            "heads": [
                {"type": t, "head_dim": rng.choice([2, 4]), **_mixer_params(t, rng, seq_len)}
                for t in (rng.choice(choices) for _ in range(rng.randint(1, 4)))
            ],
        }
    spec = {"type": kind, **_mixer_params(kind, rng, seq_len)}
    if MIXERS[kind].attention_like:
        heads = rng.choice([h for h in (1, 2, 4) if width % h == 0])
        spec |= {"heads": heads, "head_dim": width // heads if rng.random() < 0.7 else 4}
    return spec


def random_arch(rng: random.Random, mixer: str | None = None) -> dict[str, Any]:
    """A small random transformer architecture dict (docs/interfaces.md §1).

    Covers both input types and tasks, causal and not, every mixer (``mixer`` forces the first
    layer's), activations, norms, rank ratios, FFN stacks (also empty) and width changes.
    """
    # A forced mixer without a causal form needs a non-causal classifier.
    causal_ok = mixer is None or MIXERS[mixer].causal
    task = rng.choice(["classify", "lm"]) if causal_ok else "classify"
    if task == "lm" or rng.random() < 0.5:
        inp = {"type": "tokens", "vocab": rng.randint(5, 40), "seq_len": rng.randint(3, 12)}
        seq_len = inp["seq_len"]
    else:
        patch = rng.choice([2, 3, 4])
        inp = {
            "type": "image",
            "image_size": rng.randint(patch, 12),
            "channels": rng.randint(1, 3),
            "patch": patch,
        }
        seq_len = (inp["image_size"] // patch) ** 2 + 1
    causal = task == "lm" or (causal_ok and rng.random() < 0.3)
    arch: dict[str, Any] = {"family": "transformer", "task": task, "causal": causal, "input": inp}
    if task == "classify":
        arch |= {"num_classes": rng.randint(2, 5), "pool": rng.choice(["cls", "mean"])}
        if inp["type"] == "image" and arch["pool"] == "mean":
            seq_len -= 1
    kinds = [k for k, info in MIXERS.items() if info.causal or not causal]
    layers = []
    for i in range(rng.randint(1, 3)):
        width = rng.choice([8, 12, 16])
        kind = mixer if (i == 0 and mixer) else rng.choice(kinds)
        layers.append(
            {
                "width": width,
                "mixer": random_mixer(kind, width, causal, rng, seq_len),
                "ffn": [rng.choice([8, 16, 24]) for _ in range(rng.choice([0, 1, 1, 2]))],
                "activation": rng.choice(["gelu", "relu", "quad", "swiglu"]),
                "norm": rng.choice(["layernorm", "rmsnorm"]),
                "rank_ratio": rng.choice([None, None, 0.3, 0.5, 0.95]),
            }
        )
    arch["layers"] = layers
    return arch


def _base(**changes: Any) -> dict[str, Any]:
    arch = {
        "family": "transformer",
        "task": "classify",
        "causal": False,
        "input": {"type": "tokens", "vocab": 30, "seq_len": 9},
        "num_classes": 3,
        "pool": "mean",
        "layers": [
            {
                "width": 16,
                "mixer": {"type": "softmax", "heads": 2, "head_dim": 8},
                "ffn": [32],
                "activation": "gelu",
                "norm": "layernorm",
                "rank_ratio": None,
            }
        ],
    }
    layer = changes.pop("layer", {})
    arch |= changes
    arch["layers"] = [{**arch["layers"][0], **layer}]
    return arch


def _run(arch: dict[str, Any], batch: int = 2) -> torch.Tensor:
    model = build(arch, seed=0)
    out = model(model.example_input(batch))
    assert torch.isfinite(out).all()
    return out


@pytest.mark.parametrize(
    ("kind", "causal"),
    [
        (kind, causal)
        for kind in sorted(MIXERS)
        for causal in (False, True)
        if MIXERS[kind].causal or not causal
    ],
)
def test_every_mixer_builds_and_runs(kind: str, causal: bool) -> None:
    arch = random_arch(random.Random(kind), mixer=kind)
    arch["causal"] = causal
    if arch["task"] == "lm" and not causal:
        arch |= {"task": "classify", "num_classes": 2, "pool": "mean"}
    for layer in arch["layers"][1:]:
        layer["mixer"] = {"type": "conv", "kernel": 3}
    out = _run(arch)
    assert out.shape[0] == 2


@pytest.mark.parametrize("activation", ["gelu", "relu", "quad", "swiglu"])
@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_activations_and_norms(activation: str, norm: str) -> None:
    arch = _base(layer={"activation": activation, "norm": norm, "ffn": [24, 8]})
    assert _run(arch).shape == (2, 3)
    model = build(arch)
    norm_class = torch.nn.LayerNorm if norm == "layernorm" else torch.nn.RMSNorm
    assert isinstance(model.blocks[0].norm1, norm_class)


def test_quad_activation_formula() -> None:
    from space._model import activate

    x = torch.tensor([-2.0, 0.0, 1.0])
    torch.testing.assert_close(activate("quad", x), 0.125 * x**2 + 0.5 * x + 0.25)


@pytest.mark.parametrize("rank_ratio", [None, 0.1, 0.5, 0.95])
def test_rank_ratio_factorises_every_linear(rank_ratio: float | None) -> None:
    model = build(_base(layer={"rank_ratio": rank_ratio}))
    assert _run(_base(layer={"rank_ratio": rank_ratio})).shape == (2, 3)
    linears = [model.blocks[0].mixer.inp, model.blocks[0].mixer.out, *model.blocks[0].ffn.linears]
    for linear in linears:
        assert isinstance(linear, torch.nn.Linear) == (rank_ratio is None)
    if rank_ratio == 0.5:
        # qkv of width 16: k = 8; FFN 16 <-> 32: k = floor(0.5 · 16) = 8.
        assert [m.out_features for m in model.blocks[0].mixer.inp] == [8, 8, 48]
        assert [m.out_features for m in model.blocks[0].ffn.linears[0]] == [8, 8, 32]


def test_no_ffn_means_no_second_norm() -> None:
    model = build(_base(layer={"ffn": []}))
    assert model.blocks[0].ffn is None and model.blocks[0].norm2 is None
    assert _run(_base(layer={"ffn": []})).shape == (2, 3)


def test_layers_of_different_widths_are_joined_by_a_projection() -> None:
    arch = _base()
    arch["layers"] = [
        {**arch["layers"][0], "width": 16},
        {**arch["layers"][0], "width": 24, "mixer": {"type": "dft"}},
        {**arch["layers"][0], "width": 24, "mixer": {"type": "dct"}},
    ]
    model = build(arch)
    assert isinstance(model.projections[0], torch.nn.Linear)
    assert (model.projections[0].in_features, model.projections[0].out_features) == (16, 24)
    assert isinstance(model.projections[1], torch.nn.Identity)
    assert _run(arch).shape == (2, 3)


@pytest.mark.parametrize("pool", ["cls", "mean"])
@pytest.mark.parametrize("causal", [False, True])
def test_image_input_with_patches_and_class_token(pool: str, causal: bool) -> None:
    arch = _base(
        input={"type": "image", "image_size": 10, "channels": 3, "patch": 3},
        pool=pool,
        causal=causal,
    )
    model = build(arch)
    x = model.example_input(2)
    assert x.shape == (2, 3, 10, 10) and x.dtype == torch.float32
    assert model.embed(x).shape == (2, 9 + (pool == "cls"), 16)
    assert model.embed.patches.stride == (3, 3)
    assert _run(arch).shape == (2, 3)


def test_causal_class_token_comes_last_and_sees_every_patch() -> None:
    arch = _base(
        input={"type": "image", "image_size": 8, "channels": 1, "patch": 4},
        pool="cls",
        causal=True,
    )
    model = build(arch, seed=0)
    x = model.example_input(1)
    changed = x.clone()
    changed[..., :4, :4] += 1.0
    assert not torch.allclose(model(x), model(changed))


def test_language_model_predicts_every_position_and_is_causal() -> None:
    arch = _base(task="lm", causal=True, input={"type": "tokens", "vocab": 17, "seq_len": 6})
    del arch["num_classes"], arch["pool"]
    model = build(arch, seed=0)
    x = model.example_input(2)
    assert x.dtype == torch.long and x.shape == (2, 6)
    out = model(x)
    assert out.shape == (2, 6, 17)
    changed = x.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % 17
    torch.testing.assert_close(model(changed)[:, :4], out[:, :4])


@pytest.mark.parametrize("kind", sorted(k for k, info in MIXERS.items() if info.causal))
def test_causal_language_models_of_every_causal_mixer(kind: str) -> None:
    arch = _base(task="lm", causal=True, input={"type": "tokens", "vocab": 13, "seq_len": 7})
    del arch["num_classes"], arch["pool"]
    arch["layers"][0]["mixer"] = random_mixer(kind, 16, True, random.Random(kind), 7)
    arch["layers"].append({**arch["layers"][0], "width": 8, "rank_ratio": 0.5})
    model = build(arch, seed=0)
    x = model.example_input(2)
    out = model(x)
    for t in (0, 3):
        changed = x.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % 13
        torch.testing.assert_close(model(changed)[:, : t + 1], out[:, : t + 1])


def test_classification_with_cls_pooling_reads_the_first_token() -> None:
    model = build(_base(pool="cls"), seed=0)
    x = model.example_input(1)
    changed = x.clone()
    changed[:, 0] = (changed[:, 0] + 1) % 30
    assert not torch.allclose(model(x), model(changed))


def test_example_input_and_seeded_build_are_deterministic() -> None:
    arch = _base()
    a, b = build(arch, seed=3), build(arch, seed=3)
    torch.testing.assert_close(a.example_input(4), b.example_input(4))
    torch.testing.assert_close(a(a.example_input(4)), b(b.example_input(4)))
    assert not torch.allclose(a(a.example_input(4)), build(arch, seed=4)(a.example_input(4)))


def test_build_reads_architecture_objects_through_to_dict() -> None:
    class Arch:
        def to_dict(self) -> dict[str, Any]:
            return _base()

    assert _run(Arch()).shape == (2, 3)


def test_non_transformer_architectures_are_refused() -> None:
    with pytest.raises(SpaceError, match="family"):
        build({"lr": 0.1})
    with pytest.raises(SpaceError, match="input.type must be 'tokens'"):
        build(
            _base(task="lm", input={"type": "image", "image_size": 8, "channels": 1, "patch": 4})
        )


def test_random_architectures_build_and_run() -> None:
    rng = random.Random(0)
    for _ in range(30):
        _run(random_arch(rng), batch=1)


def test_build_from_a_sampled_architecture() -> None:
    from tests.space_tests._specs import published

    spaces = published()
    for sp in (spaces.flexibert(vocab=50, seq_len=8), spaces.mpcvit(image_size=8)):
        arch = sp.sample(seed=1)
        assert _run(arch, batch=1).shape[0] == 1
