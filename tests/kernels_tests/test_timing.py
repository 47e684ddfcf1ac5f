"""The load-robust clock and estimator the profiler and calibration time with."""

from __future__ import annotations

import time

import numpy as np

import kernels
from kernels import _profile


def test_the_estimate_ignores_samples_that_load_slowed() -> None:
    quiet = [1.0, 1.01, 0.99, 1.02, 1.0, 1.01, 1.0, 0.99, 1.0, 1.01]
    estimate, noise = kernels.robust_estimate(quiet + [3.0, 4.0, 2.5])
    assert estimate == 0.99 and noise < 0.05
    # Most samples slowed: the median moves, the estimate does not, and the noise says so.
    estimate, noise = kernels.robust_estimate([1.0, 2.3, 1.9, 2.0, 2.2, 2.5, 3.0, 2.1, 2.4, 2.0])
    assert estimate == 1.0 and noise > kernels.NOISY


def test_one_thread_counts_cpu_time_not_time_descheduled() -> None:
    clock, name = kernels.clock_ns("cpu", 1)
    assert name == "thread-cpu"
    start = clock()
    time.sleep(0.05)
    assert clock() - start < 5e6  # a sleeping thread burns no CPU time
    for device, threads in (("cpu", 2), ("cuda", 1)):
        clock, name = kernels.clock_ns(device, threads)
        assert name == "wall"
        start = clock()
        time.sleep(0.02)
        assert clock() - start >= 2e7


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_noisy_shape_is_measured_again_then_flagged() -> None:
    rng = np.random.default_rng(0)
    steady = _profile._Case(lambda: _spin(2e-4), "cpu")
    # Each call takes 0.2-2 ms of CPU: noise that no quiet attempt removes.
    erratic = _profile._Case(lambda: _spin(float(rng.uniform(2e-4, 2e-3))), "cpu")
    cases = [steady, erratic]
    for case in cases:
        case.warm(1)
    clock, _ = kernels.clock_ns("cpu", 1)
    _profile._interleave(cases, clock, np.random.default_rng(0), (9, 30, 0.01, 0.2))
    assert steady.attempts == 1 and steady.best[1] <= kernels.NOISY
    assert abs(steady.best[0] - 2e-4) < 1e-4
    assert erratic.attempts == _profile.REMEASURE + 1 and erratic.best[1] > kernels.NOISY
