"""Measure real forward latency and calibrate a device's latency model against it."""

from __future__ import annotations

import statistics
import time
from collections import Counter
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
    model = space.build(arch, seed=0).eval().to(device)
    x = model.example_input(batch_size)
    x = tuple(t.to(device) for t in x) if isinstance(x, tuple) else x.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            sync()
            start = time.perf_counter()
            model(*x) if isinstance(x, tuple) else model(x)
            sync()
            if i >= warmup:
                times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


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
    records = db.profiles(device)
    if not records:
        raise NotCalibratedError(
            f"Device {device!r} has no kernel profiles in this database. "
            f"Run: nas profile --device {device} (then nas calibrate --device {device})"
        )
    return records


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
        profiled = Counter(r.get("threads") for r in records).most_common(1)[0][0]
        torch.set_num_threads(int(profiled or threads))
        rows, measured = [], []
        for i, arch in enumerate(archs):
            for b in batch_sizes:
                rows.append(model.features(arch, b))
                measured.append(measure_latency_ms(arch, b, device=device, repeats=repeats))
            if progress is not None:
                progress(i + 1, len(archs))
        x, y = np.stack(rows), np.array(measured)
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
