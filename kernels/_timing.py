"""Timing that holds on a busy machine: which clock, and which estimate of repeated samples.

Other processes only ever add time to a sample (they deschedule us, evict our caches), so the
typical sample drifts with the load while the fastest ones stay put. At one intra-op thread the
thread's own CPU time (``time.thread_time_ns``) does not count the time spent descheduled at
all; with more threads the op's workers are other threads, so wall time it is. Either way the
estimate is the minimum of interleaved samples (on a machine shared with other jobs even the
10th percentile moved by 40 % between runs while the minimum stayed within a few percent), and
its noise is how far the lower quartile sits above it: few samples near the minimum mean the
minimum itself is a lucky or a slowed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Sequence

import numpy as np

#: The quantile of the samples that ``robust_estimate`` reports. Work on a CPU has no lucky
#: samples (nothing makes it faster than undisturbed), so the minimum is the estimate.
ESTIMATE_QUANTILE = 0.0
#: A measurement whose lower quartile sits more than this far above its estimate is
#: re-measured, and flagged ``noisy`` if it stays so.
NOISY = 0.25
#: How often a noisy measurement is taken again before it is flagged.
REMEASURE = 2


def clock_ns(device: str, threads: int) -> tuple[Callable[[], int], str]:
    """The clock to time one call with, and its name for the records.

    Thread CPU time at one thread on the CPU; wall time otherwise (an op on several threads,
    or on a GPU, spends its time outside the calling thread).
    """
    if device == "cpu" and threads == 1:
        return time.thread_time_ns, "thread-cpu"
    return time.perf_counter_ns, "wall"


def robust_estimate(samples: Sequence[float]) -> tuple[float, float]:
    """``(estimate, noise)``: the ``ESTIMATE_QUANTILE`` of the samples, and (lower quartile −
    estimate) / estimate."""
    low, quartile = np.quantile(np.asarray(samples, dtype=float), [ESTIMATE_QUANTILE, 0.25])
    return float(low), float((quartile - low) / low) if low > 0 else 0.0


def clock_overhead_ns(clock: Callable[[], int], reads: int = 2000) -> int:
    """The fewest nanoseconds between two back-to-back reads of ``clock``: what timing a
    single call adds to it (about 0.25 µs for thread CPU time here, 5-10 % of a small op)."""
    best = None
    for _ in range(reads):
        start = clock()
        gap = clock() - start
        best = gap if best is None or gap < best else best
    return int(best or 0)
