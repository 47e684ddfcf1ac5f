"""Every registered mixer: shape, gradients, causality, its own counts, its formula."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import kernels
from space._errors import SpaceError
from space.mixers import MIXERS
from space.mixers import BaseMixer
from space.mixers import MixerContext
from space.mixers import make_mixer
from space.mixers import register_mixer
from space.mixers._spectral import dct_matrix

B, L, D = 2, 7, 16

#: One example spec per registered mixer type (the registry test keeps this complete).
SPECS: dict[str, dict] = {
    "softmax": {"type": "softmax", "heads": 2, "head_dim": 8},
    "wma": {"type": "wma", "heads": 2, "head_dim": 8},
    "window": {"type": "window", "heads": 2, "head_dim": 8, "window": 2},
    "linear": {"type": "linear", "heads": 4, "head_dim": 4, "feature_map": "elu"},
    "relu": {"type": "relu", "heads": 2, "head_dim": 8},
    "scale": {"type": "scale", "heads": 2, "head_dim": 8},
    "quad": {"type": "quad", "heads": 1, "head_dim": 12},
    "lowrank": {"type": "lowrank", "heads": 2, "head_dim": 8, "rank": 3},
    "dft": {"type": "dft"},
    "dct": {"type": "dct"},
    "conv": {"type": "conv", "kernel": 3},
    "dynconv": {"type": "dynconv", "kernel": 5},
    "pool": {"type": "pool", "pool_size": 3},
    "ssm": {"type": "ssm", "state": 4, "selective": True},
    "shsa": {"type": "shsa", "qk_dim": 4, "partial": 0.25},
    "heads": {
        "type": "heads",
        "heads": [
            {"type": "softmax", "head_dim": 4},
            {"type": "wma", "head_dim": 4},
            {"type": "window", "head_dim": 2, "window": 1},
            {"type": "linear", "head_dim": 4, "feature_map": "relu"},
            {"type": "relu", "head_dim": 4},
            {"type": "scale", "head_dim": 4},
            {"type": "quad", "head_dim": 4},
            {"type": "conv", "head_dim": 4, "kernel": 3},
            {"type": "softmax", "head_dim": 4},
        ],
    },
}
#: Variants whose code paths differ from the example spec.
EXTRA = {
    "linear_relu": {"type": "linear", "heads": 2, "head_dim": 8, "feature_map": "relu"},
    "ssm_fixed": {"type": "ssm", "state": 3, "selective": False},
    "conv_even": {"type": "conv", "kernel": 4},
    "pool_even": {"type": "pool", "pool_size": 4},
    "shsa_full": {"type": "shsa", "qk_dim": 8, "partial": 1.0},
    "heads_spectral": {
        "type": "heads",
        "heads": [
            {"type": "dft", "head_dim": 4},
            {"type": "dct", "head_dim": 8},
            {"type": "softmax", "head_dim": 4},
        ],
    },
}
ALL = {**SPECS, **EXTRA}


def _is_causal(spec: dict) -> bool:
    if spec["type"] == "heads":
        return all(MIXERS[h["type"]].causal for h in spec["heads"])
    return MIXERS[spec["type"]].causal


CAUSAL = [name for name, spec in ALL.items() if _is_causal(spec)]


def _make(spec: dict, causal: bool = False, rank_ratio: float | None = None) -> BaseMixer:
    torch.manual_seed(0)
    return make_mixer(spec, MixerContext(D, L, causal, rank_ratio))


def _input(requires_grad: bool = False) -> torch.Tensor:
    x = torch.randn(B, L, D, generator=torch.Generator().manual_seed(1))
    return x.requires_grad_(requires_grad)


def test_specs_cover_every_builtin_mixer() -> None:
    assert set(SPECS) == set(MIXERS)


@pytest.mark.parametrize("rank_ratio", [None, 0.5])
@pytest.mark.parametrize("name", sorted(ALL))
def test_forward_shape(name: str, rank_ratio: float | None) -> None:
    out = _make(ALL[name], rank_ratio=rank_ratio)(_input())
    assert out.shape == (B, L, D)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_parameter_and_the_input_get_gradients(name: str) -> None:
    mixer = _make(ALL[name], causal=_is_causal(ALL[name]))
    x = _input(requires_grad=True)
    (mixer(x) ** 2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in mixer.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", CAUSAL)
def test_causal_output_ignores_the_future(name: str) -> None:
    mixer = _make(ALL[name], causal=True)
    x = _input()
    out = mixer(x)
    for t in (0, 3, L - 2):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn(B, L - t - 1, D)
        torch.testing.assert_close(mixer(changed)[:, : t + 1], out[:, : t + 1])


@pytest.mark.parametrize("name", ["softmax", "conv", "dynconv", "shsa", "heads"])
def test_non_causal_form_sees_the_future(name: str) -> None:
    mixer = _make(ALL[name], causal=False)
    x = _input()
    changed = x.clone()
    changed[:, 1] += 1.0
    assert not torch.allclose(mixer(changed)[:, 0], mixer(x)[:, 0])


@pytest.mark.parametrize("rank_ratio", [None, 0.3])
@pytest.mark.parametrize("name", sorted(ALL))
def test_count_params_matches_the_module(name: str, rank_ratio: float | None) -> None:
    spec, ctx = ALL[name], MixerContext(D, L, False, rank_ratio)
    module = make_mixer(spec, ctx)
    assert MIXERS[spec["type"]].module.count_params(spec, ctx) == sum(
        p.numel() for p in module.parameters()
    )


def test_heads_of_equal_type_share_one_kernel_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = kernels.attention

    def recording(q, k, v, kind="softmax", causal=False, window=None, **kw):
        calls.append((kind, q.shape[1], q.shape[-1]))
        return original(q, k, v, kind=kind, causal=causal, window=window, **kw)

    monkeypatch.setattr(kernels, "attention", recording)
    _make(SPECS["heads"])(_input())
    # Two softmax heads of d_h 4 form one group; WMA is softmax on QW.
    assert calls.count(("softmax", 2, 4)) == 1
    assert ("softmax", 1, 4) in calls
    ctx = MixerContext(D, L)
    traced = [
        c for c in MIXERS["heads"].module.trace(SPECS["heads"], ctx, B) if c[0] == "attention"
    ]
    assert [(s["kind"], s["h"], s["d"]) for _, s in traced] == calls


def test_softmax_mixer_is_multi_head_attention() -> None:
    mixer = _make(SPECS["softmax"])
    x = _input()
    q, k, v = mixer.inp(x).view(B, L, 3, 2, 8).permute(2, 0, 3, 1, 4)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1)
    expected = mixer.out((a @ v).transpose(1, 2).reshape(B, L, 16))
    torch.testing.assert_close(mixer(x), expected)


def test_wma_scores_use_the_shared_weight() -> None:
    mixer = _make(SPECS["wma"])
    with torch.no_grad():
        mixer.ops[0].weight.copy_(torch.randn(8, 8))
    x = _input()
    q, k, v = mixer.inp(x).view(B, L, 3, 2, 8).permute(2, 0, 3, 1, 4)
    w = mixer.ops[0].weight
    a = torch.softmax(q @ w @ k.transpose(-1, -2) / math.sqrt(8), dim=-1)
    expected = mixer.out((a @ v).transpose(1, 2).reshape(B, L, 16))
    torch.testing.assert_close(mixer(x), expected)


def test_dft_is_the_real_part_of_the_2d_fourier_transform() -> None:
    x = _input()
    f_l = torch.fft.fft(torch.eye(L, dtype=torch.complex64), norm="ortho")
    f_d = torch.fft.fft(torch.eye(D, dtype=torch.complex64), norm="ortho")
    expected = (f_l @ x.to(torch.complex64) @ f_d).real
    torch.testing.assert_close(_make(SPECS["dft"])(x), expected, atol=1e-5, rtol=1e-5)


def test_dct_matrix_is_orthonormal_dct_ii() -> None:
    c = dct_matrix(6)
    torch.testing.assert_close(c @ c.T, torch.eye(6), atol=1e-6, rtol=0)
    x = torch.randn(6)
    n = torch.arange(6)
    k = 2
    direct = math.sqrt(2 / 6) * (x * torch.cos(math.pi * (2 * n + 1) * k / 12)).sum()
    torch.testing.assert_close((c @ x)[k], direct)


def test_pool_is_average_minus_identity() -> None:
    mixer = _make(SPECS["pool"])
    constant = torch.ones(B, L, D)
    torch.testing.assert_close(mixer(constant), torch.zeros(B, L, D))
    x = _input()
    torch.testing.assert_close(mixer(x)[:, 3], x[:, 2:5].mean(1) - x[:, 3])
    torch.testing.assert_close(mixer(x)[:, 0], x[:, 0:2].mean(1) - x[:, 0])


def test_causal_conv_is_a_left_padded_depthwise_convolution() -> None:
    mixer = _make(SPECS["conv"], causal=True)
    x = _input()
    w, b = mixer.conv.weight[:, 0], mixer.conv.bias  # (D, 3), (D,)
    expected_t3 = (x[:, 1:4] * w.T).sum(1) + b
    torch.testing.assert_close(mixer(x)[:, 3], expected_t3)


def test_shsa_passes_the_rest_of_the_channels_through() -> None:
    mixer = _make(SPECS["shsa"])
    x = _input()
    changed = x.clone()
    changed[..., 4:] += 1.0
    # Only W_O sees the untouched channels, so the change is W_O applied to it.
    delta = mixer(changed) - mixer(x)
    expected = mixer.out(torch.cat([torch.zeros(B, L, 4), torch.ones(B, L, D - 4)], -1))
    torch.testing.assert_close(delta, expected - mixer.out(torch.zeros(B, L, D)))


def test_ssm_with_one_step_is_its_skip_and_drive() -> None:
    spec = {"type": "ssm", "state": 2, "selective": False}
    mixer = make_mixer(spec, MixerContext(4, 1))
    x = torch.randn(1, 1, 4)
    u, z = mixer.inp(x).chunk(2, -1)
    delta = torch.nn.functional.softplus(mixer.dt_bias)
    y = ((delta * u).unsqueeze(-1) * mixer.b * mixer.c).sum(-1) + mixer.d_skip * u
    torch.testing.assert_close(mixer(x), mixer.out(y * torch.nn.functional.silu(z)))


def test_metadata_matches_the_interface_table() -> None:
    causal = {
        "softmax",
        "wma",
        "window",
        "linear",
        "relu",
        "scale",
        "quad",
        "conv",
        "dynconv",
        "ssm",
        "shsa",
        "heads",
    }
    head_capable = {
        "softmax",
        "wma",
        "window",
        "linear",
        "relu",
        "scale",
        "quad",
        "dft",
        "dct",
        "conv",
    }
    attention_like = {"softmax", "wma", "window", "linear", "relu", "scale", "quad", "lowrank"}
    assert {n for n, i in MIXERS.items() if i.causal} == causal
    assert {n for n, i in MIXERS.items() if i.head_capable} == head_capable
    assert {n for n, i in MIXERS.items() if i.attention_like} == attention_like
    kinds = {name: {k: p.kind for k, p in info.params.items()} for name, info in MIXERS.items()}
    assert kinds["window"] == {"window": int}
    assert kinds["ssm"] == {"state": int, "selective": bool}
    assert kinds["shsa"] == {"qk_dim": int, "partial": float}
    # Every example spec of this file declares exactly what its type requires.
    for name, spec in SPECS.items():
        if name != "heads":
            required = {k for k, p in MIXERS[name].params.items() if p.required}
            assert required <= set(spec), name


def test_register_mixer_warns_on_overwrite_and_builds_new_types() -> None:
    class Identity(BaseMixer):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

        @classmethod
        def count_params(cls, spec, ctx) -> int:
            return 0

        @classmethod
        def trace(cls, spec, ctx, batch):
            return []

    try:
        register_mixer("identity_test", Identity, causal=True)
        assert MIXERS["identity_test"].causal
        x = _input()
        assert make_mixer({"type": "identity_test"}, MixerContext(D, L))(x) is x
        with pytest.warns(UserWarning, match="replacing the mixer 'identity_test'"):
            register_mixer("identity_test", Identity)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            register_mixer("identity_test_2", Identity)
    finally:
        MIXERS.pop("identity_test", None)
        MIXERS.pop("identity_test_2", None)


def test_unknown_types_and_heads_name_the_known_ones() -> None:
    with pytest.raises(SpaceError, match="Unknown mixer type 'nope'. Must be one of"):
        make_mixer({"type": "nope"}, MixerContext(D, L))
    bad_head = {
        "type": "heads",
        "heads": [{"type": "ssm", "head_dim": 4, "state": 2, "selective": False}],
    }
    with pytest.raises(SpaceError, match="'ssm' cannot be a head"):
        make_mixer(bad_head, MixerContext(D, L))
