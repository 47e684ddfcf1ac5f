"""Measure real forward latency and calibrate a device's latency model against it."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import nnls
from scipy.stats import spearmanr

import space
import storage as storage_pkg
from evaluators._errors import NotCalibratedError
from evaluators._kernel_model import KernelLatencyModel
from evaluators._latency import LatencyModel
from evaluators._spaces import calibration_spaces


def measure_latency_ms(arch: Any, batch_size: int = 1, *, device: str = "cpu",
                       repeats: int = 15, warmup: int = 3) -> float:
    """Median wall-clock milliseconds of ``build(arch)`` on its example input, no grad."""
    return float(measure_latencies([arch], (batch_size,), device=device, repeats=repeats,
                                   warmup=warmup, rounds=1)[0, 0])


def measure_latencies(archs: Sequence[Any], batch_sizes: Sequence[int] = (1, 8), *,
                      device: str = "cpu", repeats: int = 15, warmup: int = 3, rounds: int = 5,
                      seed: int = 0, progress: Any = None) -> np.ndarray:
    """Median forward milliseconds of each architecture at each batch size, shape
    ``(len(archs), len(batch_sizes))``.

    Every model is built first; then ``rounds`` passes visit all (architecture, batch) pairs in
    a fresh random order, each timing ``ceil(repeats / rounds)`` calls. A burst of load from
    another process then slows a little of every candidate instead of all of one, so the
    medians stay comparable across a run. ``progress(done, total)`` follows the visits.
    """
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    cases = []
    for arch in archs:
        model = space.build(arch, seed=0).eval().to(device)
        for b in batch_sizes:
            x = model.example_input(b)
            x = tuple(t.to(device) for t in x) if isinstance(x, tuple) else (x.to(device),)
            cases.append((model, x))
    per_round = -(-repeats // rounds)
    times: list[list[float]] = [[] for _ in cases]
    order = np.random.default_rng(seed)
    with torch.inference_mode():
        for model, x in cases:
            for _ in range(warmup):
                model(*x)
        for r in range(rounds):
            for j, i in enumerate(order.permutation(len(cases))):
                model, x = cases[i]
                for _ in range(per_round):
                    sync()
                    start = time.perf_counter()
                    model(*x)
                    sync()
                    times[i].append(1e3 * (time.perf_counter() - start))
                if progress is not None:
                    progress(r * len(cases) + j + 1, rounds * len(cases))
    return np.array([statistics.median(t) for t in times]).reshape(len(archs), len(batch_sizes))


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
    w, _ = nnls((features / scale) / measured_ms[:, None], np.ones_like(measured_ms))
    return w / scale


def accuracy(pred: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """MAPE (%), share within ±10 % (%), Spearman rank correlation."""
    rel = pred / measured - 1
    rho = spearmanr(pred, measured).statistic if len(pred) > 2 else float("nan")
    return {"mape": float(100 * np.abs(rel).mean()),
            "within_10": float(100 * (np.abs(rel) <= 0.1).mean()),
            "spearman": float(rho)}


def _profiles(db: Any, device: str) -> list[dict[str, Any]]:
    """The device's newest record per (op, shape), among records taken with the thread count of
    the newest profile: a re-profile with other threads replaces, never mixes."""
    records = db.profiles(device)
    if not records:
        raise NotCalibratedError(
            f"Device {device!r} has no kernel profiles in this database. "
            f"Run: nas profile --device {device} (then nas calibrate --device {device})"
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

    Measures ``n_archs`` random architectures of the two calibration spaces (or ``archs``) at
    each batch size, fits the residual weights on all but ``validation_fraction`` of them,
    reports the error on the rest, then refits on all and saves with ``db.save_latency_model``.

    Returns:
        ``{"version", "weights", "validation": {"mape", "within_10", "spearman", "n_fit",
        "n_validation", ...}}``.

    Raises:
        NotCalibratedError: the device has no kernel profiles (run ``nas profile``).
    """
    db = storage_pkg.connect(storage)
    threads = torch.get_num_threads()
    try:
        records = _profiles(db, device)
        model = LatencyModel(KernelLatencyModel.fit(device, records))
        archs = list(archs) if archs is not None else sample_calibration_archs(n_archs, seed)
        # Measure with the intra-op threads the kernels were profiled with.
        torch.set_num_threads(int(records[-1].get("threads") or threads))
        x = np.stack([model.features(arch, b) for arch in archs for b in batch_sizes])
        y = measure_latencies(archs, batch_sizes, device=device, repeats=repeats, seed=seed,
                              progress=progress).ravel()
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
        })
        model.weights = tuple(fit_residual(x, y).tolist())
        version = db.save_latency_model(device, model.to_params(), validation)
    finally:
        torch.set_num_threads(threads)
        db.close()
    return {"version": version, "weights": list(model.weights), "validation": validation}
