"""``kernels.attention``: argument validation, backend choice, and the torch path."""

from __future__ import annotations

import pytest
import torch

import kernels
from kernels import KernelError
from kernels import KernelUnavailableError
from kernels import naive_linear_attention
from kernels import naive_score_attention
from kernels import naive_softmax_attention
from kernels import naive_window_attention
from kernels.score.naive import scale_attention_reassociated

NAIVE = {
    "softmax": lambda q, k, v, c: naive_softmax_attention(q, k, v, c),
    "window": lambda q, k, v, c: naive_window_attention(q, k, v, 4, c),
    "linear": lambda q, k, v, c: naive_linear_attention(q, k, v, c),
    "relu": lambda q, k, v, c: naive_score_attention(q, k, v, "relu", c),
    "quad": lambda q, k, v, c: naive_score_attention(q, k, v, "quad", c),
    "scale": lambda q, k, v, c: naive_score_attention(q, k, v, "scale", c),
}


def _qkv(n: int = 37, d: int = 16, dtype: torch.dtype = torch.float64):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, n, d, generator=g, dtype=dtype) for _ in range(3)]


@pytest.fixture
def no_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


@pytest.mark.usefixtures("no_interpreter")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("kind", kernels.ATTENTION_KINDS)
def test_torch_path_matches_naive(kind: str, causal: bool) -> None:
    q, k, v = (t.requires_grad_() for t in _qkv())
    window = 4 if kind == "window" else None
    assert kernels.attention_backend(q, kind) == "torch"
    out = kernels.attention(q, k, v, kind, causal, window)
    ref = NAIVE[kind](q, k, v, causal)
    torch.testing.assert_close(out, ref)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    ref_grads = torch.autograd.grad(ref.sum(), (q, k, v))
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)


@pytest.mark.usefixtures("no_interpreter")
def test_causal_scale_divides_by_the_sequence_length() -> None:
    q, k, v = _qkv(n=5)
    s = (q @ k.transpose(-1, -2)) / 4.0
    expected = (s.tril() / 5) @ v
    torch.testing.assert_close(kernels.attention(q, k, v, "scale", causal=True), expected)
    full = (s / 5) @ v
    torch.testing.assert_close(scale_attention_reassociated(q, k, v), full)


def test_relu_feature_map_and_fully_negative_rows_stay_finite() -> None:
    q, k, v = _qkv()
    out = kernels.attention(-q.abs(), k, v, "linear", feature_map="relu")
    assert torch.isfinite(out).all()
    torch.testing.assert_close(
        kernels.attention(q, k, v, "linear", feature_map="relu"),
        naive_linear_attention(q, k, v, False, "relu"),
    )


def test_cpu_without_interpreter_takes_torch(no_interpreter: None) -> None:
    q, k, v = (t.float().requires_grad_() for t in _qkv())
    out = kernels.attention(q, k, v)
    assert kernels.attention_backend(q) == "torch"
    assert "AttentionFunction" not in type(out.grad_fn).__name__


def test_interpreter_takes_triton(device: str) -> None:
    q, k, v = (t.float().to(device).requires_grad_() for t in _qkv(n=20))
    assert kernels.attention_backend(q, "relu") == "triton"
    out = kernels.attention(q, k, v, "relu")
    assert type(out.grad_fn).__name__ == "ScoreAttentionFunctionBackward"


def test_unsupported_head_dim_falls_back_to_torch(device: str) -> None:
    q, k, v = (t.float().to(device) for t in _qkv(d=24))
    assert kernels.attention_backend(q) == "torch"
    out = kernels.attention(q, k, v)
    torch.testing.assert_close(out.cpu(), naive_softmax_attention(q, k, v).cpu())
    with pytest.raises(KernelUnavailableError, match="head_dim 24"):
        kernels.attention(q, k, v, backend="triton")


@pytest.mark.skipif(torch.cuda.is_available(), reason="bfloat16 runs Triton on a GPU")
def test_interpreter_sends_bfloat16_to_torch(device: str) -> None:
    q, k, v = (t.to(torch.bfloat16) for t in _qkv(n=20))
    assert kernels.attention_backend(q) == "torch"
    out = kernels.attention(q, k, v, causal=True)
    ref = naive_softmax_attention(q.double(), k.double(), v.double(), True)
    assert ((out.double() - ref).norm() / ref.norm()).item() < 2e-2


def test_forcing_triton_on_cpu_without_interpreter_is_refused(no_interpreter: None) -> None:
    q, k, v = (t.float() for t in _qkv())
    with pytest.raises(KernelUnavailableError, match="TRITON_INTERPRET=1"):
        kernels.attention(q, k, v, backend="triton")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "sofmax"}, r"Unknown attention kind 'sofmax'. Must be one of \['softmax'"),
        ({"kind": "window"}, "kind='window' needs window"),
        ({"kind": "window", "window": -1}, "kind='window' needs window"),
        ({"kind": "softmax", "window": 4}, "window applies to kind='window' only"),
        ({"kind": "linear", "feature_map": "tanh"}, "Unknown feature_map 'tanh'"),
        ({"backend": "cuda"}, "Unknown backend 'cuda'"),
    ],
)
def test_invalid_arguments_raise(kwargs: dict, message: str) -> None:
    q, k, v = _qkv()
    with pytest.raises(KernelError, match=message):
        kernels.attention(q, k, v, **kwargs)


def test_mismatched_shapes_raise() -> None:
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="same shape"):
        kernels.attention(q, k[:, :, :5], v)
    with pytest.raises(ValueError, match="4-D tensor"):
        kernels.attention(q[0], k[0], v[0])
    with pytest.raises(ValueError, match="one dtype and device"):
        kernels.attention(q, k.float(), v)
