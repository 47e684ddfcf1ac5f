"""Time the Triton attention kernels against torch SDPA and the references on a GPU.

    python benchmarks/kernels.py [--seqs 512,1024,...] [--head-dims 64,128] [--kinds softmax,...]
                                 [--backward]

Batch 4, 16 heads, bfloat16. Prints ms and TFLOP/s per (kernel, seq, head dim) for the Triton
kernel, for SDPA (exact softmax attention with the same causality: the baseline of every kind)
and for the plain-PyTorch reference (up to 4k tokens). FLOPs count the
two GEMMs of quadratic attention, 4·b·h·L²·d forward (halved causal, 4·b·h·L·(2w+1)·d for a
window of w), and 4·b·h·L·d² for linear attention; the backward counts 2.5× the forward
(FlashAttention-2's convention). On a machine without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import partial
from pathlib import Path

# Run as a script, this file's folder leads sys.path and its name would shadow the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BATCH, HEADS = 4, 16
WINDOW = 256
# Beyond this length the references materialise L × L scores that do not fit memory.
REFERENCE_MAX_SEQ = 4096


def _flops(kind: str, causal: bool, n: int, d: int) -> float:
    if kind == "linear":
        return 4.0 * BATCH * HEADS * n * d * d
    if kind == "window":
        span = min(n, (WINDOW + 1) if causal else (2 * WINDOW + 1))
        return 4.0 * BATCH * HEADS * n * span * d
    return 4.0 * BATCH * HEADS * n * n * d * (0.5 if causal else 1.0)


def _time_ms(fn, backward: bool) -> float:
    import triton

    if backward:
        out = fn()
        grad = torch.randn_like(out)
        return triton.testing.do_bench(lambda: out.backward(grad, retain_graph=True))
    return triton.testing.do_bench(fn)


def _cases():
    """(kind, Triton call, reference call), each called as fn(q, k, v, causal)."""
    import kernels
    from kernels.linear.naive import naive_linear_attention
    from kernels.score.naive import naive_score_attention
    from kernels.softmax.naive import naive_softmax_attention
    from kernels.window.naive import naive_window_attention

    refs = {
        "softmax": naive_softmax_attention,
        "window": partial(_window_ref, naive_window_attention),
        "linear": naive_linear_attention,
        "relu": partial(_score_ref, naive_score_attention, "relu"),
        "quad": partial(_score_ref, naive_score_attention, "quad"),
        "scale": partial(_score_ref, naive_score_attention, "scale"),
    }
    for kind, ref in refs.items():
        window = WINDOW if kind == "window" else None
        yield kind, partial(_triton, kernels.attention, kind, window), ref


def _triton(attention, kind, window, q, k, v, causal):
    return attention(q, k, v, kind, causal, window, backend="triton")


def _window_ref(naive, q, k, v, causal):
    return naive(q, k, v, WINDOW, causal)


def _score_ref(naive, kind, q, k, v, causal):
    return naive(q, k, v, kind, causal)


def _row(kind, triton_fn, ref, causal: bool, n: int, d: int, backward: bool) -> str:
    q, k, v = (
        torch.randn(BATCH, HEADS, n, d, device="cuda", dtype=torch.bfloat16,
                    requires_grad=backward)
        for _ in range(3)
    )
    factor = 3.5 if backward else 1.0
    # SDPA (exact softmax, same causality) is the baseline of every kind.
    flops = [_flops(kind, causal, n, d) * factor, _flops("softmax", causal, n, d) * factor,
             _flops(kind, causal, n, d) * factor]
    times = [
        _time_ms(lambda: triton_fn(q, k, v, causal), backward),
        _time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), backward),
        _time_ms(lambda: ref(q, k, v, causal), backward) if n <= REFERENCE_MAX_SEQ else math.nan,
    ]
    return " | ".join(
        f"{ms:>8.3f} {f / ms / 1e9:>8.1f}" if not math.isnan(ms) else f"{'-':>8} {'-':>8}"
        for ms, f in zip(times, flops, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqs", default="512,1024,2048,4096,8192,16384")
    parser.add_argument("--head-dims", default="64,128")
    parser.add_argument("--kinds", default="softmax,window,linear,relu,quad,scale")
    parser.add_argument("--backward", action="store_true", help="time forward + backward")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("benchmarks/kernels.py: no CUDA GPU on this machine; nothing to time.")
        return 0
    seqs = [int(s) for s in args.seqs.split(",")]
    dims = [int(d) for d in args.head_dims.split(",")]
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, batch {BATCH}, "
          f"heads {HEADS}, bfloat16, {'fwd+bwd' if args.backward else 'fwd'}")
    print(f"{'kernel':<8} {'causal':<6} {'d':>4} {'seq':>6} | {'triton ms':>8} {'TFLOP/s':>8} | "
          f"{'sdpa ms':>8} {'TFLOP/s':>8} | {'ref ms':>8} {'TFLOP/s':>8}")
    kinds = args.kinds.split(",")
    for kind, triton_fn, ref in _cases():
        if kind not in kinds:
            continue
        for causal in (False, True):
            for d in dims:
                for n in seqs:
                    cells = _row(kind, triton_fn, ref, causal, n, d, args.backward)
                    print(f"{kind:<8} {str(causal):<6} {d:>4} {n:>6} | {cells}", flush=True)
                    torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
