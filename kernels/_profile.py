"""``kernels.profile``: time every primitive of the kernel-call trace on one device."""

from __future__ import annotations

import datetime
import importlib.metadata
import math
import platform
import time
from collections.abc import Callable
from collections.abc import Sequence

import numpy as np
import torch

from kernels._errors import KernelError
from kernels._errors import KernelUnavailableError
from kernels._profile_ops import OPS
from kernels._profile_ops import Op
from kernels._profile_ops import grid as grid_shapes

DEVICES = ("cpu", "cuda")
#: The ops ``profile`` measures: the kernel-call trace vocabulary of docs/interfaces.md §2.
PROFILE_OPS = tuple(OPS)
GRIDS = ("quick", "full")
# One intra-op thread on the CPU unless asked: with two on a two-core host, each parallel op
# waits for its descheduled sibling whenever anything else runs, and a 76 µs linear was timed at
# 4–8 ms (scheduler ticks). One thread stays within a few percent under the same load.
CPU_THREADS = 1
# (warm-up calls, minimum samples, maximum samples, minimum total seconds) per grid. One sample
# times enough back-to-back calls to last ≥ _MIN_SAMPLE_S, so timer overhead stays under 1%.
_REPEATS = {"quick": (2, 9, 100, 0.05), "full": (3, 15, 200, 0.1)}
_MIN_SAMPLE_S = 2e-4
# Slow shapes stop at this many seconds once they have _FEW_SAMPLES: their spread is small and
# the quick grid must finish in minutes.
_MAX_TOTAL_S = {"quick": 0.3, "full": 1.0}
_FEW_SAMPLES = 5
_SLOW_CALL_S = 0.02


def profile(
    device: str = "cpu",
    ops: Sequence[str] | None = None,
    grid: str = "quick",
    *,
    dtype: torch.dtype | None = None,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Measure each primitive of docs/interfaces.md §2 over a grid of shapes.

    Args:
        device: ``cpu`` (the torch ops of the reference path) or ``cuda`` (Triton kernels and
            cuBLAS GEMMs).
        ops: op names to measure (default: all of ``OPS``).
        grid: ``quick`` (a few hundred shapes, minutes on 2 cores) or ``full`` (denser axes).
        dtype: default float32 on CPU, bfloat16 on CUDA.
        threads: torch intra-op threads while measuring (default ``CPU_THREADS`` on the CPU,
            the current setting on CUDA); every record carries it, and ``evaluators.calibrate``
            measures whole models with the same number.
        progress: called as ``progress(done, total)`` after each record.

    Returns:
        One record per (op, shape), as in docs/interfaces.md §3: ``median_ms`` per call and
        ``spread`` = interquartile range / median.

    Raises:
        KernelError: unknown device, op or grid.
        KernelUnavailableError: ``cuda`` without a CUDA GPU.
    """
    names = _check(device, ops, grid)
    if threads is not None and threads < 1:
        raise KernelError(f"threads must be a positive integer; got {threads}.")
    dtype = dtype or (torch.bfloat16 if device == "cuda" else torch.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or (CPU_THREADS if device == "cpu" else before))
    try:
        return _profile_shapes(device, names, grid, dtype, progress)
    finally:
        torch.set_num_threads(before)


def _profile_shapes(device: str, names: list[str], grid: str, dtype: torch.dtype,
                    progress: Callable[[int, int], None] | None) -> list[dict]:
    shapes = [(op, shape) for op in names for shape in grid_shapes(op, grid)]
    meta = _metadata(device)
    records = []
    with torch.inference_mode():
        for i, (op, shape) in enumerate(shapes):
            fn = OPS[op](shape, device, dtype)
            times = _measure(fn, device, *_REPEATS[grid], _MAX_TOTAL_S[grid])
            q1, median, q3 = np.percentile(times, [25, 50, 75])
            records.append(
                {
                    "device": device,
                    "op": op,
                    "shape": dict(shape),
                    "dtype": str(dtype).removeprefix("torch."),
                    "median_ms": float(median) * 1e3,
                    "spread": float((q3 - q1) / median) if median > 0 else 0.0,
                    "repeats": len(times),
                    "threads": torch.get_num_threads(),
                    **meta,
                    "measured_at": _now(),
                }
            )
            del fn
            if progress is not None:
                progress(i + 1, len(shapes))
    return records


def _check(device: str, ops: Sequence[str] | None, grid_name: str) -> list[str]:
    if device not in DEVICES:
        raise KernelError(f"Unknown profile device {device!r}. Must be one of {list(DEVICES)}.")
    if device == "cuda" and not torch.cuda.is_available():
        raise KernelUnavailableError(
            "device 'cuda' needs a CUDA GPU, but torch.cuda.is_available() is False on this "
            "host. Profile with device 'cpu', or run on a machine with a GPU."
        )
    if grid_name not in GRIDS:
        raise KernelError(f"Unknown profile grid {grid_name!r}. Must be one of {list(GRIDS)}.")
    names = list(OPS) if ops is None else list(ops)
    unknown = [op for op in names if op not in OPS]
    if unknown:
        raise KernelError(f"Unknown profile op(s) {unknown}. Must be among {sorted(OPS)}.")
    return names


def _measure(
    fn: Op,
    device: str,
    warmup: int,
    min_samples: int,
    max_samples: int,
    min_total_s: float,
    max_total_s: float,
) -> list[float]:
    """Seconds per call, one entry per sample; the first calls warm caches and allocators."""
    sync = torch.cuda.synchronize if device == "cuda" else _no_sync
    single = 0.0
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        sync()
        single = time.perf_counter() - t0
        # A slow CPU call dwarfs first-call overheads, so one warm-up is enough. On CUDA the
        # first call compiles and autotunes the Triton kernels: it never counts as warm.
        if single > _SLOW_CALL_S and (i > 0 or device == "cpu"):
            break
    inner = max(1, math.ceil(_MIN_SAMPLE_S / max(single, 1e-9)))
    times: list[float] = []
    total = 0.0
    while len(times) < min_samples or (total < min_total_s and len(times) < max_samples):
        if len(times) >= _FEW_SAMPLES and total > max_total_s:
            break
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        dt = time.perf_counter() - t0
        times.append(dt / inner)
        total += dt
    return times


def _no_sync() -> None:
    return None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version(package: str) -> str | None:
    # Read from package metadata: importing Triton just for its version costs seconds.
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _metadata(device: str) -> dict:
    return {
        "software": {
            "torch": torch.__version__,
            "triton": _version("triton"),
            "python": platform.python_version(),
        },
        "hardware": {
            "cpu": _cpu_model(),
            "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        },
    }
