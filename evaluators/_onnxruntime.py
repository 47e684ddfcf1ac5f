"""The ``onnxruntime-cpu`` device: models exported to ONNX and run by ONNX Runtime on the CPU.

Its latency model prices the kernel-call trace with the torch CPU profile (``nas profile
--device cpu``): ONNX Runtime runs the same matrix products and element-wise work, with less
dispatch per call and some ops fused, which is what the residual weights (fitted on whole
models measured in ONNX Runtime) absorb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

import kernels
from evaluators._export import build_model
from evaluators._export import onnx_bytes
from evaluators._export import onnx_session
from evaluators._timing import time_calls

ORT_DEVICE = "onnxruntime-cpu"
#: The device whose kernel profiles each latency device's model is built from.
PROFILE_DEVICE = {ORT_DEVICE: "cpu"}


def measure_onnxruntime_stats(archs: Sequence[Any], batch_sizes: Sequence[int] = (1, 8), *,
                              threads: int = 1, repeats: int = 15, warmup: int = 3,
                              rounds: int = 5, seed: int = 0,
                              progress: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of one ONNX Runtime ``run`` of each architecture at each batch size, and
    their noise, both of shape ``(len(archs), len(batch_sizes))``.

    Each model is exported once (seed-0 weights, batch axis dynamic) and run in one session
    on ``threads`` intra-op threads, timed as ``measure_latency_stats`` times torch (thread
    CPU time at one thread, interleaved rounds, the minimum).
    """
    calls = []
    for arch in archs:
        model = build_model(arch)
        session = onnx_session(onnx_bytes(model, model.example_input(1)), threads)
        for b in batch_sizes:
            feed = {"input": model.example_input(b).numpy()}
            calls.append(lambda s=session, f=feed: s.run(None, f))
    clock, _ = kernels.clock_ns("cpu", threads)
    ms, noise = time_calls(calls, clock, repeats=repeats, warmup=warmup, rounds=rounds,
                           seed=seed, progress=progress)
    shape = (len(archs), len(batch_sizes))
    return ms.reshape(shape), noise.reshape(shape)


def measure_onnxruntime_ms(arch: Any, batch_size: int = 1, *, threads: int = 1,
                           repeats: int = 15) -> float:
    """One architecture's ONNX Runtime milliseconds (``measure_onnxruntime_stats``)."""
    before = torch.get_num_threads()
    try:
        return float(measure_onnxruntime_stats([arch], (batch_size,), threads=threads,
                                               repeats=repeats, rounds=min(5, repeats))[0][0, 0])
    finally:
        torch.set_num_threads(before)
