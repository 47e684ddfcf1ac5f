"""Whole models timed side by side in interleaved rounds, by the load-robust clock."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np

import kernels

# Fresh attempts at a model measured with too much noise (as the kernel profiler does).
REMEASURE = 2


def time_calls(calls: Sequence[Callable[[], Any]], clock: Callable[[], int], *,
               sync: Callable[[], Any] | None = None, repeats: int = 15, warmup: int = 3,
               rounds: int = 5, seed: int = 0,
               progress: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds and noise of each call, timed by ``clock`` in interleaved rounds (see
    ``measure_latency_stats``)."""
    sync = sync or (lambda: None)
    per_round = -(-repeats // rounds)
    best = np.full(len(calls), np.inf)
    noise = np.full(len(calls), np.inf)
    order = np.random.default_rng(seed)
    pending = list(range(len(calls)))
    done, total = 0, rounds * len(calls)
    for call in calls:
        for _ in range(warmup):
            call()
    for attempt in range(REMEASURE + 1):
        times: dict[int, list[float]] = {i: [] for i in pending}
        for _ in range(rounds):
            for i in order.permutation(pending):
                call = calls[i]
                for _ in range(per_round):
                    sync()
                    start = clock()
                    call()
                    sync()
                    times[i].append(1e-6 * (clock() - start))
                done += 1
                if progress is not None:
                    progress(done, total)
        for i, t in times.items():
            ms, n = kernels.robust_estimate(t)
            if n < noise[i]:
                best[i], noise[i] = ms, n
        pending = [i for i in pending if noise[i] > kernels.NOISY]
        if not pending or attempt == REMEASURE:
            break
        total += rounds * len(pending)
    return best, noise
