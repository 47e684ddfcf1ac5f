"""The primitives of the kernel-call trace (docs/interfaces.md §2) as timed closures, and grids.

Each factory takes the shape keys of its op, allocates inputs once, and returns a closure that
runs exactly the torch ops the model builder runs for that call (Triton kernels on CUDA).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from kernels._attention import ATTENTION_KINDS
from kernels._attention import attention

Op = Callable[[], object]
Shape = dict[str, int | str | bool | None]


def _randn(device: str, dtype: torch.dtype, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, device=device, dtype=dtype)


def _linear(s, dev, dt) -> Op:
    x, w = _randn(dev, dt, s["m"], s["k"]), _randn(dev, dt, s["n"], s["k"])
    b = _randn(dev, dt, s["n"])
    return lambda: F.linear(x, w, b)


def _matmul(s, dev, dt) -> Op:
    a, b = _randn(dev, dt, s["b"], s["m"], s["k"]), _randn(dev, dt, s["b"], s["k"], s["n"])
    return lambda: torch.bmm(a, b)


def _embedding(s, dev, dt) -> Op:
    # The table size barely matters (one gather per token); 1000 rows keep it in cache like
    # the small vocabularies of the search spaces.
    table = _randn(dev, dt, 1000, s["width"])
    idx = torch.randint(0, 1000, (s["tokens"],), device=dev)
    return lambda: F.embedding(idx, table)


def _softmax(s, dev, dt) -> Op:
    x = _randn(dev, dt, s["rows"], s["cols"])
    return lambda: torch.softmax(x, dim=-1)


def _layernorm(s, dev, dt) -> Op:
    x = _randn(dev, dt, s["rows"], s["cols"])
    g, b = _randn(dev, dt, s["cols"]), _randn(dev, dt, s["cols"])
    return lambda: F.layer_norm(x, (s["cols"],), g, b)


def _rmsnorm(s, dev, dt) -> Op:
    x, g = _randn(dev, dt, s["rows"], s["cols"]), _randn(dev, dt, s["cols"])
    return lambda: F.rms_norm(x, (s["cols"],), g)


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]):
    def make(s, dev, dt) -> Op:
        x = _randn(dev, dt, s["numel"])
        return lambda: fn(x)

    return make


def _binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    def make(s, dev, dt) -> Op:
        x, y = _randn(dev, dt, s["numel"]), _randn(dev, dt, s["numel"])
        return lambda: fn(x, y)

    return make


def _quad(x: torch.Tensor) -> torch.Tensor:
    # MPCFormer's polynomial GELU replacement: 0.125x² + 0.5x + 0.25.
    return 0.125 * x * x + 0.5 * x + 0.25


def _fft(s, dev, dt) -> Op:
    # cuFFT has no bfloat16 (and half only for powers of two); autocast runs FFTs in float32.
    x = _randn(dev, torch.float32 if dt != torch.float64 else dt, s["b"], s["seq"], s["width"])
    return lambda: torch.fft.fft2(x).real


def _dct_matrix(n: int, dev: str, dt: torch.dtype) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64)
    c = torch.cos(math.pi * (i[None, :] + 0.5) * i[:, None] / n) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c.to(device=dev, dtype=dt)


def _dct(s, dev, dt) -> Op:
    # 2-D DCT-II as two matrix products, C_L·X·C_dᵀ (torch has no DCT).
    x = _randn(dev, dt, s["b"], s["seq"], s["width"])
    cl, cd = _dct_matrix(s["seq"], dev, dt), _dct_matrix(s["width"], dev, dt)
    return lambda: cl @ x @ cd.T


def _conv1d(s, dev, dt) -> Op:
    # Depthwise, causal (left) padding: the conv mixer's call.
    c, kk = s["channels"], s["kernel"]
    x, w = _randn(dev, dt, s["b"], c, s["seq"]), _randn(dev, dt, c, 1, kk)
    return lambda: F.conv1d(F.pad(x, (kk - 1, 0)), w, groups=c)


def _pool(s, dev, dt) -> Op:
    kk = s["kernel"]
    x = _randn(dev, dt, s["b"], s["width"], s["seq"])
    return lambda: F.avg_pool1d(x, kk, stride=1, padding=kk // 2, count_include_pad=False)


def _cumsum(s, dev, dt) -> Op:
    x = _randn(dev, dt, s["b"], s["seq"], s["width"])
    return lambda: torch.cumsum(x, dim=1)


def _scan(s, dev, dt) -> Op:
    # The SSM mixer's scan with its discretisation, as space's selective SSM runs it:
    # decay = exp(Δ·A), drive = Δ·u·B, h_t = decay_t ⊙ h_{t−1} + drive_t step by step over
    # (b, width, state), then y = Σ_n h ⊙ C.
    b, n, w, st = s["b"], s["seq"], s["width"], s["state"]
    delta, u = torch.rand(b, n, w, device=dev, dtype=dt), _randn(dev, dt, b, n, w)
    a_log = torch.rand(w, st, device=dev, dtype=dt)
    bmat, cmat = _randn(dev, dt, b, n, 1, st), _randn(dev, dt, b, n, 1, st)

    def run() -> torch.Tensor:
        decay = torch.exp(delta.unsqueeze(-1) * -torch.exp(a_log))
        drive = (delta * u).unsqueeze(-1) * bmat
        h = torch.zeros_like(drive[:, 0])
        states = []
        for t in range(n):
            h = decay[:, t] * h + drive[:, t]
            states.append(h)
        return (torch.stack(states, dim=1) * cmat).sum(-1)

    return run


def _attention(s, dev, dt) -> Op:
    q, k, v = (_randn(dev, dt, s["b"], s["h"], s["s"], s["d"]) for _ in range(3))
    window = s["window"] if s["kind"] == "window" else None
    return lambda: attention(q, k, v, s["kind"], bool(s["causal"]), window)


OPS: dict[str, Callable[[Shape, str, torch.dtype], Op]] = {
    "linear": _linear,
    "matmul": _matmul,
    "embedding": _embedding,
    "softmax": _softmax,
    "layernorm": _layernorm,
    "rmsnorm": _rmsnorm,
    "gelu": _unary(F.gelu),
    "relu": _unary(torch.relu),
    "quad": _unary(_quad),
    "silu": _unary(F.silu),
    "mul": _binary(torch.mul),
    "add": _binary(torch.add),
    "fft": _fft,
    "dct": _dct,
    "conv1d": _conv1d,
    "pool": _pool,
    "cumsum": _cumsum,
    "scan": _scan,
    "attention": _attention,
}

# Axes per op and grid. Rows = batch·seq spans 16..4096 (batch 1–8, seq 16–512); widths 32–512
# and FFN widths up to 4·512; every axis has ≥ 3 points so a per-op model can be fitted.
_ROWS = {"quick": (16, 128, 1024, 4096), "full": (1, 16, 64, 256, 1024, 2048, 4096)}
_WIDTH = {"quick": (32, 128, 512), "full": (32, 64, 128, 256, 512)}
_OUT = {"quick": (32, 128, 512, 2048), "full": (32, 64, 128, 256, 512, 1024, 2048)}
_NUMEL = {"quick": (4096, 65536, 524288, 2097152), "full": tuple(4**i for i in range(5, 12))}
_B = {"quick": (1, 8), "full": (1, 4, 8)}
_SEQ = {"quick": (32, 128, 512), "full": (16, 32, 64, 128, 256, 512)}
_HEADS = {"quick": (4,), "full": (2, 8)}
_HEAD_DIM = {"quick": (16, 64), "full": (16, 32, 64)}
_WINDOWS = {"quick": (16,), "full": (8, 32)}


def _product(**axes) -> Iterator[Shape]:
    keys = list(axes)
    for values in itertools.product(*axes.values()):
        yield dict(zip(keys, values, strict=True))


def grid(op: str, name: str) -> list[Shape]:
    """The shapes ``op`` is measured at in grid ``name`` (``quick`` or ``full``)."""
    rows, width = _ROWS[name], _WIDTH[name]
    if op == "linear":
        return list(_product(m=rows, k=width, n=_OUT[name]))
    if op == "matmul":
        if name == "quick":
            return list(_product(b=(4, 32), m=(32, 128, 512), k=(16, 64), n=(32, 128, 512)))
        return list(
            _product(b=(4, 16, 64), m=(16, 64, 256, 512), k=(16, 32, 64), n=(16, 64, 256, 512))
        )
    if op == "embedding":
        return list(_product(tokens=rows, width=width))
    if op in ("softmax", "layernorm", "rmsnorm"):
        return list(_product(rows=rows, cols=width if op != "softmax" else _SEQ[name]))
    if op in ("gelu", "relu", "quad", "silu", "mul", "add"):
        return list(_product(numel=_NUMEL[name]))
    if op in ("fft", "dct", "cumsum"):
        return list(_product(b=_B[name], seq=_SEQ[name], width=width))
    if op == "conv1d":
        return list(_product(b=_B[name], channels=width, seq=_SEQ[name], kernel=(3, 7)))
    if op == "pool":
        return list(_product(b=_B[name], seq=_SEQ[name], width=width, kernel=(3,)))
    if op == "scan":
        return list(_product(b=_B[name], seq=_SEQ[name], width=(64, 256), state=(16,)))
    if op == "attention":
        shapes = []
        for kind in ATTENTION_KINDS:
            # Other kinds carry window None, as space.trace emits them.
            windows = _WINDOWS[name] if kind == "window" else (None,)
            shapes += _product(
                kind=(kind,), b=_B[name], h=_HEADS[name], s=_SEQ[name], d=_HEAD_DIM[name],
                causal=(False, True), window=windows,
            )
        return shapes
    raise KeyError(op)
