"""Speed of the ``space`` package: sampling architectures, building and running models.

Run ``python benchmarks/space.py`` (or ``python -m benchmarks.space``); prints one row per
measurement with its target.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, this file's folder leads sys.path and its name would shadow the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import torch  # noqa: E402

from space import MIXERS  # noqa: E402
from space import build  # noqa: E402

sys.path.insert(0, str(_HERE.parent / "studies"))
import spaces as published  # noqa: E402

#: (row name, function returning seconds, target seconds)
Row = tuple[str, Callable[[], float], float]

WIDTH, DEPTH, BATCH, SEQ = 256, 4, 8, 128
HEADS, HEAD_DIM = 4, 64
#: FlexiBERT-Mini's feed-forward widths.
FFN_WIDTHS = (512, 1024)
MIXER_PARAMS: dict[str, dict[str, Any]] = {
    "window": {"window": 16},
    "linear": {"feature_map": "elu"},
    "lowrank": {"rank": 32},
    "conv": {"kernel": 9},
    "dynconv": {"kernel": 9},
    "pool": {"pool_size": 3},
    "ssm": {"state": 16, "selective": True},
    "shsa": {"qk_dim": 16, "partial": 0.25},
    "heads": {
        "heads": [
            {"type": "softmax", "head_dim": 64},
            {"type": "dct", "head_dim": 64},
            {"type": "conv", "head_dim": 64, "kernel": 9},
            {"type": "relu", "head_dim": 64},
        ]
    },
}


def random_model_arch(seed: int) -> dict[str, Any]:
    """A 4-layer, width-256 classifier of 128 tokens (BERT vocabulary), a random mixer a layer."""
    rng = random.Random(seed)
    layers = []
    for _ in range(DEPTH):
        kind = rng.choice(sorted(MIXERS))
        mixer = {"type": kind, **MIXER_PARAMS.get(kind, {})}
        if MIXERS[kind].attention_like:
            mixer |= {"heads": HEADS, "head_dim": HEAD_DIM}
        layers.append(
            {
                "width": WIDTH,
                "mixer": mixer,
                "ffn": [rng.choice(FFN_WIDTHS)],
                "activation": rng.choice(["gelu", "relu", "quad", "swiglu"]),
                "norm": rng.choice(["layernorm", "rmsnorm"]),
                "rank_ratio": None,
            }
        )
    return {
        "family": "transformer",
        "task": "classify",
        "causal": False,
        "input": {"type": "tokens", "vocab": 30522, "seq_len": SEQ},
        "num_classes": 2,
        "pool": "cls",
        "layers": layers,
    }


def time_build_and_forward(models: int = 5) -> float:
    """Median seconds to build a random model and run one forward pass on 8×128 tokens."""
    times = []
    for seed in range(models):
        arch = random_model_arch(seed)
        start = time.perf_counter()
        model = build(arch)
        with torch.no_grad():
            model(model.example_input(BATCH))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_sampling(count: int = 10_000, repeats: int = 3) -> float:
    """Median seconds to sample ``count`` architectures from FlexiBERT's space."""
    sp = published.flexibert()
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        for seed in range(r * count, (r + 1) * count):
            sp.sample(seed=seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


ROWS: list[Row] = [
    ("sample 10,000 FlexiBERT-space architectures", time_sampling, 2.0),
    (
        f"build + forward, random {DEPTH}-layer width-{WIDTH} model, {BATCH}x{SEQ} tokens",
        time_build_and_forward,
        1.0,
    ),
]


def main(argv: list[str] | None = None) -> None:
    """Print each row's time against its target."""
    parser = argparse.ArgumentParser(description=__doc__)
    # One intra-op thread by default: on a shared two-core machine a second thread competing
    # with other processes slows matrix products down instead of speeding them up.
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    print(f"{'measurement':<72} {'seconds':>8} {'target':>7}  ok")
    for name, measure, target in ROWS:
        seconds = measure()
        print(f"{name:<72} {seconds:>8.3f} {target:>7.1f}  {'yes' if seconds < target else 'NO'}")


if __name__ == "__main__":
    main()
