"""Measure real forward latency and calibrate a device's latency model against it."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

import kernels
import space
from evaluators._errors import NotCalibratedError
from evaluators._kernel_model import KernelLatencyModel
from evaluators._latency import LatencyModel
from evaluators._onnxruntime import PROFILE_DEVICE
from evaluators._onnxruntime import measure_onnxruntime_stats
from evaluators._spaces import calibration_spaces
from evaluators._timing import time_calls


def measure_latency_ms(arch: Any, batch_size: int = 1, *, device: str = "cpu",
                       repeats: int = 15, warmup: int = 3) -> float:
    """Forward milliseconds of ``build(arch)`` on its example input, no grad, by the
    load-robust estimate of ``measure_latencies``."""
    return float(measure_latencies([arch], (batch_size,), device=device, repeats=repeats,
                                   warmup=warmup, rounds=min(5, repeats))[0, 0])


def measure_latencies(archs: Sequence[Any], batch_sizes: Sequence[int] = (1, 8), *,
                      device: str = "cpu", repeats: int = 15, warmup: int = 3, rounds: int = 5,
                      seed: int = 0, progress: Any = None) -> np.ndarray:
    """Forward milliseconds of each architecture at each batch size, shape
    ``(len(archs), len(batch_sizes))``; ``measure_latency_stats`` without the noise."""
    return measure_latency_stats(archs, batch_sizes, device=device, repeats=repeats,
                                 warmup=warmup, rounds=rounds, seed=seed, progress=progress)[0]


def measure_latency_stats(archs: Sequence[Any], batch_sizes: Sequence[int] = (1, 8), *,
                          device: str = "cpu", repeats: int = 15, warmup: int = 3,
                          rounds: int = 5, seed: int = 0,
                          progress: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Forward milliseconds of each architecture at each batch size and their noise, both of
    shape ``(len(archs), len(batch_sizes))``.

    Every model is built first; then ``rounds`` passes visit all (architecture, batch) pairs in
    a fresh random order, each timing ``ceil(repeats / rounds)`` calls. A burst of load from
    another process then slows a little of every candidate instead of all of one. Each call is
    timed by ``kernels.clock_ns`` (thread CPU time at one intra-op thread on the CPU, wall time
    otherwise) and a pair's milliseconds are ``kernels.robust_estimate`` of its calls (their
    minimum), which load barely moves. A pair whose noise exceeds ``kernels.NOISY`` is
    measured again (twice at most, the quietest attempt kept). ``progress(done, total)``
    follows the visits.
    """
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    calls = []
    for arch in archs:
        model = space.build(arch, seed=0).eval().to(device)
        for b in batch_sizes:
            x = model.example_input(b)
            x = tuple(t.to(device) for t in x) if isinstance(x, tuple) else (x.to(device),)
            calls.append(functools.partial(model, *x))
    clock, _ = kernels.clock_ns("cpu" if device == "cpu" else "cuda", torch.get_num_threads())
    with torch.inference_mode():
        ms, noise = time_calls(calls, clock, sync=sync, repeats=repeats, warmup=warmup,
                               rounds=rounds, seed=seed, progress=progress)
    shape = (len(archs), len(batch_sizes))
    return ms.reshape(shape), noise.reshape(shape)


def sample_calibration_archs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct random architectures, alternating between the two calibration spaces."""
    spaces = list(calibration_spaces().values())
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        arch = spaces[len(out) % len(spaces)].sample(rng)
        if arch.id not in seen:
            seen.add(arch.id)
            out.append(arch.to_dict())
    return out


def fit_residual(features: np.ndarray, measured_ms: np.ndarray) -> np.ndarray:
    """Non-negative weights of ``FEATURE_NAMES`` minimising relative error."""
    scale = np.abs(features).max(axis=0)
    scale[scale == 0] = 1.0
    # Imported on use: the Ray workers of a cost-model study load this package for every run,
    # and scipy and SQLAlchemy would add a second to each worker's start.
    from scipy.optimize import nnls

    w, _ = nnls((features / scale) / measured_ms[:, None], np.ones_like(measured_ms))
    return w / scale


def accuracy(pred: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """MAPE (%), share within ±10 % (%), Spearman rank correlation."""
    rel = pred / measured - 1
    from scipy.stats import spearmanr

    rho = spearmanr(pred, measured).statistic if len(pred) > 2 else float("nan")
    return {"mape": float(100 * np.abs(rel).mean()),
            "within_10": float(100 * (np.abs(rel) <= 0.1).mean()),
            "spearman": float(rho)}


def _profiles(db: Any, device: str, target: str | None = None) -> list[dict[str, Any]]:
    """The device's newest record per (op, shape), among records taken with the thread count of
    the newest profile: a re-profile with other threads replaces, never mixes. ``target`` is
    the device being calibrated when its profile is another's."""
    records = db.profiles(device)
    if not records:
        raise NotCalibratedError(
            f"Device {device!r} has no kernel profiles in this database. "
            f"Run: nas profile --device {device} (then nas calibrate --device "
            f"{target or device})"
        )
    threads = records[-1].get("threads")
    latest = {(r["op"], json.dumps(r["shape"], sort_keys=True)): r
              for r in records if r.get("threads") == threads}
    return list(latest.values())


def calibrate(
    device: str = "cpu",
    storage: str = "sqlite:///studies.db",
    *,
    archs: Sequence[Any] | None = None,
    n_archs: int = 24,
    batch_sizes: Sequence[int] = (1, 8),
    repeats: int = 15,
    validation_fraction: float = 0.25,
    seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    """Fit the device's latency model on its stored profiles and measured models; store it.

    ``onnxruntime-cpu`` is fitted on the ``cpu`` profiles and measured in ONNX Runtime.

    Measures ``n_archs`` random architectures of the two calibration spaces (or ``archs``) at
    each batch size, fits the residual weights on all but ``validation_fraction`` of them,
    reports the error on the rest, then refits on all and saves with ``db.save_latency_model``.

    Returns:
        ``{"version", "weights", "validation": {"mape", "within_10", "spearman", "n_fit",
        "n_validation", "noise_median", "noisy", ...}}``: ``noisy`` counts the measured
        models whose noise stayed above ``kernels.NOISY`` after re-measuring.

    Raises:
        NotCalibratedError: the device has no kernel profiles (run ``nas profile``).
    """
    import storage as storage_pkg

    db = storage_pkg.connect(storage)
    threads = torch.get_num_threads()
    try:
        # onnxruntime-cpu prices its calls with the torch CPU profile (evaluators._onnxruntime).
        records = _profiles(db, PROFILE_DEVICE.get(device, device), device)
        model = LatencyModel(KernelLatencyModel.fit(device, records))
        archs = list(archs) if archs is not None else sample_calibration_archs(n_archs, seed)
        # Measure with the intra-op threads the kernels were profiled with.
        torch.set_num_threads(int(records[-1].get("threads") or threads))
        x = np.stack([model.features(arch, b) for arch in archs for b in batch_sizes])
        if device in PROFILE_DEVICE:
            y, noise = measure_onnxruntime_stats(archs, batch_sizes,
                                                 threads=torch.get_num_threads(),
                                                 repeats=repeats, seed=seed, progress=progress)
        else:
            y, noise = measure_latency_stats(archs, batch_sizes, device=device,
                                             repeats=repeats, seed=seed, progress=progress)
        y, noise = y.ravel(), noise.ravel()
        order = np.random.default_rng(seed).permutation(len(archs))
        n_val = int(round(validation_fraction * len(archs)))
        val_archs = set(order[:n_val].tolist())
        per_row_arch = np.repeat(np.arange(len(archs)), len(batch_sizes))
        val = np.isin(per_row_arch, list(val_archs))
        weights = fit_residual(x[~val], y[~val])
        validation = accuracy(x[val] @ weights, y[val]) if val.any() else {}
        validation.update({
            "n_fit": int(len(archs) - n_val), "n_validation": int(n_val),
            "batch_sizes": list(batch_sizes), "kernel_only": accuracy(x[:, 0], y),
            "threads": torch.get_num_threads(),
            "noise_median": float(np.median(noise)),
            "noisy": int((noise > kernels.NOISY).sum()),
        })
        model.weights = tuple(fit_residual(x, y).tolist())
        version = db.save_latency_model(device, model.to_params(), validation)
    finally:
        torch.set_num_threads(threads)
        db.close()
    return {"version": version, "weights": list(model.weights), "validation": validation}
