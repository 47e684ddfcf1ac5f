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
from kernels._timing import NOISY
from kernels._timing import REMEASURE
from kernels._timing import clock_ns
from kernels._timing import clock_overhead_ns
from kernels._timing import robust_estimate

DEVICES = ("cpu", "cuda")
#: The ops ``profile`` measures: the kernel-call trace vocabulary of docs/interfaces.md §2.
PROFILE_OPS = tuple(OPS)
GRIDS = ("quick", "full")
# One intra-op thread on the CPU unless asked: with two on a two-core host, each parallel op
# waits for its descheduled sibling whenever anything else runs, and a 76 µs linear was timed at
# 4–8 ms (scheduler ticks). One thread stays within a few percent under the same load.
CPU_THREADS = 1
# (warm-up calls, minimum samples, maximum samples, minimum total seconds) per grid. On CUDA one
# sample times enough back-to-back calls to last ≥ _MIN_SAMPLE_S; on the CPU one call, see
# _Case.warm.
_REPEATS = {"quick": (2, 9, 100, 0.05), "full": (3, 15, 200, 0.1)}
_MIN_SAMPLE_S = 2e-4
# Slow shapes stop at this many seconds once they have _FEW_SAMPLES: their spread is small and
# the quick grid must finish in minutes.
_MAX_TOTAL_S = {"quick": 0.3, "full": 1.0}
_FEW_SAMPLES = 5
_SLOW_CALL_S = 0.02
# Shapes measured side by side in interleaved rounds; their inputs are alive at once. On the
# CPU a chunk mixes ops of similar size, so that between two samples of one call the caches see
# work like that between two calls of a forward pass.
_CHUNK = {"cpu": 64, "cuda": 16}


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

    Shapes are measured sixteen at a time in interleaved rounds, timed by the clock of
    ``kernels.clock_ns`` (thread CPU time at one thread on the CPU) and estimated by
    ``kernels.robust_estimate``, so other processes on the machine barely move the records.

    Returns:
        One record per (op, shape), as in docs/interfaces.md §3: ``median_ms`` is the
        per-call estimate (the minimum of the samples, ``kernels.ESTIMATE_QUANTILE``; the key
        keeps its first name), ``spread`` its noise ((lower quartile − estimate) / estimate),
        ``clock`` the clock it was timed by, and ``noisy`` whether the noise stayed above
        ``kernels.NOISY`` after ``REMEASURE`` fresh attempts (the quietest attempt is kept).

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
    clock, clock_name = clock_ns(device, torch.get_num_threads())
    rng = np.random.default_rng(0)
    order = _by_size(shapes) if device == "cpu" else np.arange(len(shapes))
    size = _CHUNK[device]
    # A CPU sample is one call, short enough for the clock's own cost to show.
    offset = clock_overhead_ns(clock) if device == "cpu" else 0
    records = []
    with torch.inference_mode():
        for first in range(0, len(shapes), size):
            index = order[first:first + size]
            chunk = [shapes[i] for i in index]
            cases = [_Case(OPS[op](shape, device, dtype), device, offset) for op, shape in chunk]
            for case in cases:
                case.warm(_REPEATS[grid][0])
            _interleave(cases, clock, rng, (*_REPEATS[grid][1:], _MAX_TOTAL_S[grid]))
            for i, (op, shape), case in zip(index, chunk, cases, strict=True):
                estimate, noise, repeats = case.best
                records.append((int(i),
                    {
                        "device": device,
                        "op": op,
                        "shape": dict(shape),
                        "dtype": str(dtype).removeprefix("torch."),
                        "median_ms": estimate * 1e3,
                        "spread": noise,
                        "repeats": repeats,
                        "threads": torch.get_num_threads(),
                        "clock": clock_name,
                        "noisy": noise > NOISY,
                        **meta,
                        "measured_at": _now(),
                    }
                ))
                if progress is not None:
                    progress(len(records), len(shapes))
            del cases
    # Records in grid order, whatever order they were measured in.
    return [record for _, record in sorted(records, key=lambda r: r[0])]


def _by_size(shapes: list[tuple[str, dict]]) -> np.ndarray:
    """Shape indices from the smallest to the largest product of their sizes, ops mixed."""
    sizes = [math.prod(v for v in shape.values() if isinstance(v, int) and not isinstance(v, bool))
             for _, shape in shapes]
    return np.argsort(sizes, kind="stable")


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


class _Case:
    """One shape's closure and its samples (seconds per call) in the current attempt."""

    def __init__(self, fn: Op, device: str, clock_offset_ns: int = 0) -> None:
        self.fn = fn
        self.offset = clock_offset_ns
        self.sync = torch.cuda.synchronize if device == "cuda" else _no_sync
        self.device = device
        self.inner = 1
        self.times: list[float] = []
        self.total = 0.0
        self.attempts = 0
        # (estimate s, noise, samples) of the quietest attempt so far.
        self.best = (math.inf, math.inf, 0)

    def warm(self, calls: int) -> None:
        """Run the first calls (caches, allocators; on CUDA, Triton's compile and autotune)
        and size a sample.

        On CUDA a sample lasts at least _MIN_SAMPLE_S, so launch and timer overhead stay under
        1%. On the CPU a sample is one call between other shapes' calls, as an op runs inside a
        model: back-to-back repeats of a small op keep its operands in cache and took half the
        time the same call takes in a forward pass (Σ single calls matched measured models
        within 6% where the looped figures needed a fitted 1.2x and per-call terms).
        """
        single = 0.0
        for i in range(calls):
            t0 = time.perf_counter()
            self.fn()
            self.sync()
            single = time.perf_counter() - t0
            # A slow CPU call dwarfs first-call overheads, so one warm-up is enough. On CUDA the
            # first call compiles and autotunes the Triton kernels: it never counts as warm.
            if single > _SLOW_CALL_S and (i > 0 or self.device == "cpu"):
                break
        if self.device != "cpu":
            self.inner = max(1, math.ceil(_MIN_SAMPLE_S / max(single, 1e-9)))

    def sample(self, clock: Callable[[], int]) -> None:
        t0 = time.perf_counter()
        c0 = clock()
        for _ in range(self.inner):
            self.fn()
        self.sync()
        self.times.append(max(clock() - c0 - self.offset, 1) * 1e-9 / self.inner)
        self.total += time.perf_counter() - t0

    def finished(self, min_samples: int, max_samples: int, min_total_s: float,
                 max_total_s: float) -> bool:
        n = len(self.times)
        if n >= _FEW_SAMPLES and self.total > max_total_s:
            return True
        return n >= min_samples and (self.total >= min_total_s or n >= max_samples)

    def settle(self) -> bool:
        """Keep this attempt if it is the quietest; True if the case needs another."""
        estimate, noise = robust_estimate(self.times)
        if noise < self.best[1]:
            self.best = (estimate, noise, len(self.times))
        self.attempts += 1
        if self.best[1] <= NOISY or self.attempts > REMEASURE:
            return False
        self.times, self.total = [], 0.0
        return True


def _interleave(cases: list[_Case], clock: Callable[[], int], rng: np.random.Generator,
                limits: tuple[int, int, float, float]) -> None:
    """Sample every case in rounds, each round in a fresh random order, until each has enough.

    A burst of load then slows one sample of many shapes rather than every sample of one, and
    the minimum skips it.
    """
    pending = list(cases)
    while pending:
        for i in rng.permutation(len(pending)):
            pending[i].sample(clock)
        pending = [c for c in pending if not c.finished(*limits) or c.settle()]


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
