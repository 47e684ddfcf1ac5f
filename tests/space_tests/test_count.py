"""Analytic counts against the built module: parameters, the kernel-call trace, MACs."""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

import kernels
from space._build import build
from space._count import call_macs
from space._count import count_macs
from space._count import count_params
from space._count import layer_costs
from space._count import macs_by_op
from space._trace import trace
from space.mixers import MIXERS
from tests._vocabulary import TRACE_OPS
from tests.space_tests._specs import published
from tests.space_tests.test_build import random_arch


def _architectures(n: int, seed: int) -> list[dict[str, Any]]:
    """n random architectures; the first layer cycles through every mixer type."""
    rng, kinds = random.Random(seed), sorted(MIXERS)
    return [random_arch(rng, mixer=kinds[i % len(kinds)]) for i in range(n)]


def _built_params(arch: Any) -> int:
    return sum(p.numel() for p in build(arch).parameters())


def test_count_params_equals_the_built_module_on_200_architectures() -> None:
    archs = _architectures(200, seed=0)
    assert {a["layers"][0]["mixer"]["type"] for a in archs} == set(MIXERS)
    for arch in archs:
        assert count_params(arch) == _built_params(arch), arch


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_count_params_equals_the_built_module_for_any_seed(seed: int) -> None:
    arch = random_arch(random.Random(seed))
    assert count_params(arch) == _built_params(arch)


def test_count_params_on_samples_of_the_published_spaces() -> None:
    spaces = published()
    for sp in (
        spaces.flexibert(vocab=100, seq_len=16),
        spaces.mpcvit(image_size=16),
        spaces.mcuformer(image_size=48, num_classes=10),
    ):
        for seed in range(3):
            arch = sp.sample(seed=seed)
            assert count_params(arch) == _built_params(arch)


def test_a_hand_counted_model() -> None:
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
    embed = 30 * 16 + 9 * 16
    layer = 2 * 16 + (16 * 48 + 48) + (16 * 16 + 16) + 2 * 16 + (16 * 32 + 32) + (32 * 16 + 16)
    head = 2 * 16 + 16 * 3 + 3
    assert count_params(arch) == embed + layer + head == 2931
    linear = 9 * 16 * 48 + 9 * 16 * 16 + 2 * 9 * 16 * 32 + 16 * 3
    attention = 2 * 2 * 9 * 9 * 8  # QKᵀ and AV for 2 heads
    assert macs_by_op(arch) == {
        "linear": linear,
        "attention": attention,
        "embedding": 0,
        "add": 0,
        "layernorm": 0,
        "gelu": 0,
    }
    assert count_macs(arch) == linear + attention == 21072


class _Recorder(TorchFunctionMode):
    """Records the heavy calls a forward pass makes, in the trace's vocabulary.

    ``kernels.attention`` is recorded as one call; the torch ops inside it are not.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.in_kernel = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if not self.in_kernel:
            if name == "linear":
                x, w = args[0], args[1]
                self.calls.append(
                    ("linear", {"m": x.numel() // x.shape[-1], "k": x.shape[-1], "n": w.shape[0]})
                )
            elif name == "conv2d":
                x, w = args[0], args[1]
                rows = x.shape[0] * (x.shape[2] // w.shape[2]) * (x.shape[3] // w.shape[3])
                self.calls.append(("linear", {"m": rows, "k": w[0].numel(), "n": w.shape[0]}))
            elif name == "conv1d":
                x, w = args[0], args[1]
                seq = x.shape[2] - w.shape[2] + 1
                self.calls.append(
                    (
                        "conv1d",
                        {
                            "b": x.shape[0],
                            "channels": x.shape[1],
                            "seq": seq,
                            "kernel": w.shape[2],
                        },
                    )
                )
            elif name in ("matmul", "__matmul__"):
                a, b = args[0], args[1]
                batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]).numel()
                self.calls.append(
                    ("matmul", {"b": batch, "m": a.shape[-2], "k": a.shape[-1], "n": b.shape[-1]})
                )
            elif name == "fft_fft2":
                x = args[0]
                self.calls.append(
                    (
                        "fft",
                        {
                            "b": x.numel() // (x.shape[-2] * x.shape[-1]),
                            "seq": x.shape[-2],
                            "width": x.shape[-1],
                        },
                    )
                )
        return func(*args, **kwargs)


def _expected_heavy_calls(arch: Any, batch: int) -> list[tuple[str, dict[str, Any]]]:
    """The trace restricted to what the recorder sees; a ``dct`` runs as two matmuls."""
    out = []
    for op, shape in trace(arch, batch):
        if op == "dct":
            b, n, d = shape["b"], shape["seq"], shape["width"]
            out += [
                ("matmul", {"b": b, "m": n, "k": n, "n": d}),
                ("matmul", {"b": b, "m": n, "k": d, "n": d}),
            ]
        elif op in ("linear", "matmul", "conv1d", "fft", "attention"):
            out.append((op, shape))
    return out


def _record(arch: Any, batch: int, monkeypatch: pytest.MonkeyPatch) -> list:
    model = build(arch, seed=0)
    x = model.example_input(batch)
    recorder = _Recorder()
    original = kernels.attention

    def attention(q, k, v, kind="softmax", causal=False, window=None, **kw):
        recorder.calls.append(
            (
                "attention",
                {
                    "kind": kind,
                    "b": q.shape[0],
                    "h": q.shape[1],
                    "s": q.shape[2],
                    "d": q.shape[3],
                    "causal": causal,
                    "window": window,
                },
            )
        )
        recorder.in_kernel = True
        try:
            return original(q, k, v, kind=kind, causal=causal, window=window, **kw)
        finally:
            recorder.in_kernel = False

    monkeypatch.setattr(kernels, "attention", attention)
    with recorder:
        model(x)
    return recorder.calls


@pytest.mark.parametrize("batch", [1, 3])
def test_trace_lists_the_calls_the_module_makes(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for arch in _architectures(len(MIXERS) * 2, seed=batch):
        assert _record(arch, batch, monkeypatch) == _expected_heavy_calls(arch, batch), arch


def test_linear_macs_equal_the_recorded_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    for arch in _architectures(20, seed=7):
        recorded = sum(
            s["m"] * s["k"] * s["n"] for op, s in _record(arch, 2, monkeypatch) if op == "linear"
        )
        assert macs_by_op(arch, 2)["linear"] == recorded


def test_trace_uses_the_interface_vocabulary() -> None:
    keys = TRACE_OPS
    for arch in _architectures(60, seed=11):
        for op, shape in trace(arch, 2):
            assert set(shape) == keys[op], (op, shape)
            assert all(
                v > 0 for k, v in shape.items() if isinstance(v, int) and not isinstance(v, bool)
            ), (op, shape)


def test_macs_are_the_sum_over_the_trace_and_linear_in_batch() -> None:
    for arch in _architectures(30, seed=5):
        calls = trace(arch, 1)
        assert count_macs(arch) == sum(call_macs(c) for c in calls) > 0
        assert count_macs(arch, batch_size=4) == 4 * count_macs(arch)


def test_layer_costs_add_up_to_the_totals() -> None:
    for arch in _architectures(30, seed=9):
        stages = layer_costs(arch, batch_size=2)
        assert [s["name"] for s in stages] == (
            ["embed"] + [f"layers[{i}]" for i in range(len(arch["layers"]))] + ["head"]
        )
        assert sum(s["params"] for s in stages) == count_params(arch)
        assert sum(s["macs"] for s in stages) == count_macs(arch, batch_size=2)
        assert [c for s in stages for c in s["calls"]] == trace(arch, 2)
        assert all(s["peak_bytes"] >= 4 and s["out_bytes"] >= 4 for s in stages)


def test_layer_costs_output_sizes() -> None:
    arch = random_arch(random.Random(3))
    arch |= {"task": "lm", "causal": True, "input": {"type": "tokens", "vocab": 11, "seq_len": 5}}
    arch.pop("num_classes", None)
    arch.pop("pool", None)
    for layer in arch["layers"]:
        layer["mixer"] = {"type": "conv", "kernel": 3}
    stages = layer_costs(arch, batch_size=2)
    assert stages[0]["out_bytes"] == 4 * 2 * 5 * arch["layers"][0]["width"]
    assert stages[-1]["out_bytes"] == 4 * 2 * 5 * 11
