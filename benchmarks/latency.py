"""Latency model accuracy: HAT's measured latencies, then this CPU end to end.

HAT part: for each CSV in ../shared/data/hat_latency, fit on a random 20 % of the rows and predict
the other 80 % (3 seeds), beside the baselines of hardware-costs.md §3.3, and say how much of each
file was measured in drifted sessions that no architecture-only model can match.

CPU part (skip with --hat-only): needs kernel profiles in the database (`nas profile --device
cpu`). Calibrates on --calibration random architectures of the two calibration spaces, then
measures --archs fresh ones (median of repeats, batch 1 and 8) and compares with the prediction.
Also times vectorised prediction. Run on a quiet machine:

    nas profile --device cpu --quick --storage sqlite:///bench.db
    python benchmarks/latency.py --storage sqlite:///bench.db

--under-load runs the CPU check (profile and calibration included, each in a fresh database)
quiet, beside 2 CPU-burning processes and beside one training job, and prints MAPE, % within
±10 % and Spearman per condition, the quickstart space's sub-millisecond models in their own
rows:

    python benchmarks/latency.py --under-load --archs 30

--onnxruntime checks the onnxruntime-cpu device the same way (cpu profile, calibration and
held-out models measured in ONNX Runtime):

    python benchmarks/latency.py --onnxruntime --archs 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path

# Run as a script, this file's folder leads sys.path, and benchmarks/space.py, storage.py and
# kernels.py would shadow the packages.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy import sparse  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

HAT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hat_latency"
# hardware-costs.md §3.3: % within ±10 % for baselines A, B, C, D, E.
BASELINES = {
    "wmt14ende_gpu_titanxp": (27.6, 31.8, 85.9, 83.5, 64.0),
    "wmt14enfr_gpu_titanxp": (27.7, 30.2, 99.2, 99.2, 94.8),
    "wmt19ende_gpu_titanxp": (28.0, 28.5, 87.1, 85.2, 65.3),
    "iwslt14deen_gpu_titanxp": (36.1, 40.2, 78.8, 75.8, 54.0),
    "wmt14ende_cpu_xeon": (41.8, 45.7, 89.4, 89.1, 78.6),
    "wmt14enfr_cpu_xeon": (40.4, 43.6, 96.2, 95.5, 83.8),
    "wmt14ende_cpu_raspberrypi": (81.0, 88.4, 94.0, 92.8, 73.3),
    "wmt14enfr_cpu_raspberrypi": (99.5, 99.9, 100.0, 100.0, 100.0),
}
# Target vocabularies from each config's preprocessing script (hardware-costs.md §3.3).
VOCAB = {"wmt14ende": 32768, "wmt14enfr": 40000, "wmt19ende": 40000, "iwslt14deen": 10000}
BEAM = 5
QKV = 512  # HAT fixes the attention q/k/v dimension


def hat_features(d: pd.DataFrame, task: str) -> np.ndarray:
    """Structural features of HAT's encoder-decoder, from its averaged columns.

    Encoder MACs; per decoder step × beam: projection and FFN MACs, then the output layer;
    encoder key/value projections per attended encoder layer; decoder layer-steps (one kernel
    launch batch each, which dominates on the GPU) and the same weighted by attended span, heads,
    embedding and FFN width, since small kernels slow down with size far less than their MACs
    grow; a constant.
    """
    n = 23 if task.startswith("iwslt") else 30
    steps = n * BEAM
    de, le, fe = d.encoder_embed_dim, d.encoder_layer_num, d.encoder_ffn_embed_dim_avg
    dd, ld, fd = d.decoder_embed_dim, d.decoder_layer_num, d.decoder_ffn_embed_dim_avg
    span = d.decoder_arbitrary_ende_attn_avg
    layer_steps = ld * n
    cols = [
        le * n * (4 * QKV * de + 2 * de * fe) + le * 2 * n * n * QKV,
        ld * steps * (4 * QKV * dd + 2 * dd * fd + 2 * QKV * dd),
        steps * dd * VOCAB[task],
        ld * span * n * 2 * QKV * de,
        layer_steps,
        layer_steps * span,
        layer_steps * d.decoder_self_attention_heads_avg,
        layer_steps * d.decoder_ende_attention_heads_avg,
        layer_steps * dd / 640,
        layer_steps * fd / 2048,
        np.ones(len(d)),
    ]
    return np.stack([np.asarray(c, dtype=float) for c in cols], axis=1)


def _relative(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows divided by their target (so x·w - 1 is the relative error) and the column scale that
    keeps the solvers well conditioned; fitted weights are divided by the scale."""
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1
    return (x / scale) / y[:, None], scale


def fit_relative(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares on relative error."""
    a, scale = _relative(x, y)
    w, *_ = np.linalg.lstsq(a, np.ones_like(y), rcond=None)
    return w / scale


def fit_huber(x: np.ndarray, y: np.ndarray, delta: float = 0.02) -> np.ndarray:
    """Huber loss on relative error: rows measured in a slow session stop pulling the fit once
    they are more than ``delta`` off."""
    a, scale = _relative(x, y)
    start, *_ = np.linalg.lstsq(a, np.ones_like(y), rcond=None)
    return least_squares(lambda w: a @ w - 1, start, loss="huber", f_scale=delta).x / scale


def fit_band(x: np.ndarray, y: np.ndarray, eps: float, inside: float = 0.1) -> np.ndarray:
    """Minimise Σ inside·|r| + max(0, |r| - eps) over relative errors r, as a linear program.

    The score counts predictions within ±10 %, so a row costs little while |r| <= eps and a lot
    beyond; the small slope inside keeps predictions centred rather than at the band's edge.
    CPU noise is skewed towards slow (interference only ever adds time), which moves the level
    that keeps most rows in the band above the median that a symmetric loss finds.
    """
    a, scale = _relative(x, y)
    n, p = a.shape
    a = sparse.csr_matrix(a)
    eye = sparse.identity(n, format="csr")
    zero = sparse.csr_matrix((n, n))
    # Variables: w, g >= |r|, h >= |r| - eps (h >= 0 through its bounds); r = a·w - 1.
    constraints = sparse.vstack([
        sparse.hstack([a, -eye, zero]),
        sparse.hstack([-a, -eye, zero]),
        sparse.hstack([a, zero, -eye]),
        sparse.hstack([-a, zero, -eye]),
    ])
    limits = np.r_[np.ones(n), -np.ones(n), np.full(n, 1 + eps), np.full(n, eps - 1)]
    cost = np.r_[np.zeros(p), np.full(n, inside), np.ones(n)]
    result = linprog(cost, A_ub=constraints, b_ub=limits,
                     bounds=[(None, None)] * p + [(0, None)] * (2 * n), method="highs")
    if not result.success:
        raise RuntimeError(f"band fit failed: {result.message}")
    return result.x[:p] / scale


HAT_FITS = {
    "least squares": fit_relative,
    "Huber 2%": fit_huber,
    "band 4%": partial(fit_band, eps=0.04),
    "band 6%": partial(fit_band, eps=0.06),
    "band 8%": partial(fit_band, eps=0.08),
}


def _score(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    rel = pred / y - 1
    return 100 * float((np.abs(rel) <= 0.1).mean()), 100 * float(np.abs(rel).mean())


def select_fit(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> str:
    """The loss in HAT_FITS with the most out-of-fold predictions within ±10 % (then the lowest
    MAPE), by cross-validation inside the rows given: call it with the training rows only."""
    parts = np.array_split(np.random.default_rng(seed).permutation(len(y)), folds)
    best: tuple[tuple[float, float], str] | None = None
    for name, fit in HAT_FITS.items():
        held_out = np.empty(len(y))
        for part in parts:
            keep = np.ones(len(y), dtype=bool)
            keep[part] = False
            held_out[part] = x[part] @ fit(x[keep], y[keep])
        within, mape = _score(held_out, y)
        key = (round(within, 1), -mape)
        if best is None or key > best[0]:
            best = (key, name)
    assert best is not None
    return best[1]


def drift_diagnostic(x: np.ndarray, y: np.ndarray,
                     half_window: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Diagnostic only, from all rows and their order; no predictor here uses it.

    HAT's CSVs hold blocks of rows measured ~20 % slower (e.g. IWSLT rows 50-350, WMT'19 rows
    550-750): the device's state drifted during collection. A row's session factor is the median
    ratio of measured to fitted latency over its neighbours in collection order, relative to the
    file's usual ratio.

    Returns:
        (drifted, reachable): rows whose session factor alone puts a drift-free prediction off by
        more than 10 %; rows a perfect drift-free architecture model gets within ±10 % (all
        others, plus drifted rows whose own ratio to the drift-free fit is within the band).
    """
    log_ratio = np.log(y / (x @ fit_huber(x, y)))
    log_ratio -= np.median(log_ratio)
    local = np.array([np.median(log_ratio[max(0, i - half_window):i + half_window + 1])
                      for i in range(len(y))])
    drifted = np.abs(np.exp(-local) - 1) > 0.1
    return drifted, ~drifted | (np.abs(np.exp(-log_ratio) - 1) <= 0.1)


def hat_benchmark(seeds: int = 3) -> None:
    print("HAT latency datasets: fit on 20 % of the rows, predict the other 80 % "
          f"(mean of {seeds} seeds)")
    print(f"{'file':<26} {'A':>5} {'B':>5} {'C':>5} {'D':>5} {'E':>5} | {'ours':>5} {'MAPE':>4}"
          f"  {'loss (seeds)':<16} | {'drift':>5} {'ceiling':>7}")
    short = []
    for path in sorted(HAT_DIR.glob("*.csv")):
        name = path.stem.removesuffix("_all")
        d = pd.read_csv(path)
        y = (d.latency_mean_encoder + d.latency_mean_decoder).to_numpy()
        x = hat_features(d, name.split("_")[0])
        drifted, reachable = drift_diagnostic(x, y)
        scores, chosen, drift_share, ceiling = [], [], [], []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(y))
            n_fit = len(y) // 5
            tr, te = order[:n_fit], order[n_fit:]
            loss = select_fit(x[tr], y[tr], seed=seed)
            chosen.append(loss)
            scores.append(_score(x[te] @ HAT_FITS[loss](x[tr], y[tr]), y[te]))
            drift_share.append(100 * drifted[te].mean())
            ceiling.append(100 * reachable[te].mean())
        a, b, c, dd, e = BASELINES[name]
        p = np.mean(scores, axis=0)
        top = max(set(chosen), key=chosen.count)
        picked = f"{top} ×{chosen.count(top)}"
        print(f"{name:<26} {a:5.1f} {b:5.1f} {c:5.1f} {dd:5.1f} {e:5.1f} | {p[0]:5.1f} {p[1]:4.1f}"
              f"  {picked:<16} | {np.mean(drift_share):5.1f} {np.mean(ceiling):7.1f}")
        if p[0] < 90:
            short.append((name, p[0], np.mean(ceiling)))
    print(textwrap.fill(
        "A-E: hardware-costs.md §3.3 (80/20 splits there; 20/80 here). ours: % within ±10 % and "
        "MAPE of the structural model (hat_features) from the architecture alone, its loss chosen "
        "per file by 5-fold cross-validation inside the 20 % (most common choice shown). drift: % "
        "of test rows in a block measured more than 10 % off the file's usual speed; ceiling: % "
        "of test rows a perfect drift-free architecture model gets within ±10 % (repeat noise "
        "aside). Both come from "
        "all rows and their order (drift_diagnostic); no predictor uses them.", width=99))
    for name, ours, top in short:
        cause = "its drifted rows cap it" if top < 90 else "the model falls short"
        print(f"{name}: {ours:.1f} % < 90 %, ceiling {top:.1f} %: {cause}.")


def cpu_benchmark(storage_url: str, n_archs: int, n_calibration: int, repeats: int,
                  seed: int) -> None:
    import evaluators
    from evaluators._calibrate import accuracy

    print("\nCPU end to end: calibrating on "
          f"{n_calibration} measured architectures ...", flush=True)
    result = evaluators.calibrate("cpu", storage_url, n_archs=n_calibration, repeats=repeats,
                                  seed=seed)
    v = result["validation"]
    print(f"stored model v{result['version']}: residual weights {np.round(result['weights'], 4)}"
          f"; held-out during calibration: MAPE {v.get('mape', float('nan')):.1f}%")
    print(f"number of measured architectures used for calibration: {n_calibration} "
          f"(× batch sizes {v['batch_sizes']}); intra-op threads {v['threads']} (as profiled)")
    model = evaluators.load_latency_model("cpu", storage_url)
    torch.set_num_threads(int(v["threads"]))
    seen = {json.dumps(a, sort_keys=True)
            for a in evaluators.sample_calibration_archs(n_calibration, seed)}
    archs = [a for a in evaluators.sample_calibration_archs(n_archs + n_calibration, seed + 1)
             if json.dumps(a, sort_keys=True) not in seen][:n_archs]
    measured = evaluators.measure_latencies(archs, (1, 8), repeats=repeats, seed=seed + 1)
    rows = []
    for i, arch in enumerate(archs):
        for j, b in enumerate((1, 8)):
            predicted = float(model.predict([arch], b)[0])
            rows.append((i, b, arch["input"]["type"], len(arch["layers"]), measured[i, j],
                         predicted))
    print(f"{'arch':>4} {'batch':>5} {'input':>6} {'depth':>5} {'measured ms':>11} "
          f"{'predicted':>9} {'error':>7}")
    for i, b, kind, depth, m, p in rows:
        print(f"{i:4d} {b:5d} {kind:>6} {depth:5d} {m:11.3f} {p:9.3f} {100 * (p / m - 1):+6.1f}%")
    meas = np.array([r[4] for r in rows])
    pred = np.array([r[5] for r in rows])
    for label, mask in (("all", np.ones(len(rows), bool)),
                        ("batch 1", np.array([r[1] == 1 for r in rows])),
                        ("batch 8", np.array([r[1] == 8 for r in rows]))):
        acc = accuracy(pred[mask], meas[mask])
        print(f"{label:>8}: MAPE {acc['mape']:.1f}% (target ≤ 10), within ±10% "
              f"{acc['within_10']:.0f}% (target ≥ 80), Spearman {acc['spearman']:.3f} "
              "(target ≥ 0.95)")

    spaces = list(evaluators.calibration_spaces().values())
    many = [spaces[i % 2].sample(10_000 + i) for i in range(5000)]
    dicts = [a.to_dict() for a in many]
    for label, batch in (("Architecture objects", many), ("architecture dicts", dicts)):
        start = time.perf_counter()
        model.predict(batch)
        first = time.perf_counter() - start
        start = time.perf_counter()
        model.predict(batch)
        again = time.perf_counter() - start
        print(f"predict on {len(batch)} {label}: {len(batch) / first:,.0f} archs/s "
              f"(cold stage cache), {len(batch) / again:,.0f} archs/s (warm); target ≥ 5,000")


CONDITIONS = ("quiet", "2 burners", "training job")
_TRAINER = """
import torch, evaluators, space
from evaluators._spaces import vision_space
arch = vision_space().sample(0)
while True:
    evaluators.train(arch, "digits", steps=10**6, adapt=True)
"""


def _start_load(condition: str) -> list[subprocess.Popen]:
    """Processes that compete for the CPU: 2 busy loops (as ../shared/tools/load -n 2), or one
    real training job at torch's default thread count."""
    if condition == "2 burners":
        code = ["-c", "while True: pass"]
        procs = [subprocess.Popen([sys.executable, *code]) for _ in range(2)]
    elif condition == "training job":
        env = {**os.environ, "PYTHONPATH": str(_HERE.parent)}
        procs = [subprocess.Popen([sys.executable, "-c", _TRAINER], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    else:
        procs = []
    time.sleep(2.0 if procs else 0.0)
    return procs


def _stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def _quickstart_archs(n: int, seed: int) -> list[dict]:
    from studies.quickstart import space as quick_space

    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        a = quick_space.sample(rng).to_dict()
        key = json.dumps(a, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _held_out(n_archs: int, n_calibration: int, seed: int) -> list[dict]:
    import evaluators

    seen = {json.dumps(a, sort_keys=True)
            for a in evaluators.sample_calibration_archs(n_calibration, seed)}
    return [a for a in evaluators.sample_calibration_archs(n_archs + n_calibration, seed + 1)
            if json.dumps(a, sort_keys=True) not in seen][:n_archs]


def _one_condition(condition: str, workdir: Path, n_archs: int, n_calibration: int,
                   repeats: int, seed: int) -> dict:
    """Profile, calibrate and measure the held-out models in a fresh database, all under the
    condition's load; returns measured and predicted milliseconds and the load averages."""
    import evaluators
    import kernels
    import storage

    url = f"sqlite:///{workdir / (condition.replace(' ', '_') + '.db')}"
    procs = _start_load(condition)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        records = kernels.profile("cpu", grid="quick")
        storage.connect(url).add_profiles(records)
        cal = evaluators.calibrate("cpu", url, n_archs=n_calibration, repeats=repeats,
                                   seed=seed)
        torch.set_num_threads(1)
        held, quick = _held_out(n_archs, n_calibration, seed), _quickstart_archs(n_archs, seed)
        measured = evaluators.measure_latencies(held, (1, 8), repeats=repeats, seed=seed + 1)
        measured_quick = evaluators.measure_latencies(quick, (1,), repeats=repeats,
                                                      seed=seed + 2)
    finally:
        load_after = os.getloadavg()[0]
        _stop_load(procs)
    model = evaluators.load_latency_model("cpu", url)
    predicted = np.stack([model.predict(held, b) for b in (1, 8)], axis=1)
    return {
        "measured": measured.ravel(), "predicted": predicted.ravel(),
        "measured_quick": measured_quick.ravel(), "predicted_quick": model.predict(quick, 1),
        "load": (load_before, load_after), "minutes": (time.perf_counter() - start) / 60,
        "noisy_profiles": sum(r["noisy"] for r in records), "profiles": len(records),
        "calibration": cal["validation"],
    }


def under_load_benchmark(n_archs: int, n_calibration: int, repeats: int, seed: int,
                         conditions: list[str]) -> None:
    """The CPU check per load condition, each with its own profile and calibration."""

    print(f"\nCPU end to end under load: per condition, `nas profile --quick`, calibration on "
          f"{n_calibration} models, {n_archs} held-out models × batch 1 and 8 and {n_archs} "
          "quickstart models × batch 1, all at one intra-op thread; load average (1 min) at the "
          "start and end of each condition (the machine is shared: 'quiet' has other users' "
          "load too).", flush=True)
    print(textwrap.fill(
        "Targets: under load MAPE ≤ 10 %, ≥ 80 % within ±10 %, Spearman ≥ 0.95; quiet MAPE ≤ "
        "5 %. 'vs quiet': the loaded condition's model against the quiet condition's "
        "measurements of the same models, i.e. whether a model built on a busy machine "
        "predicts the quiet one.", width=99))
    results: dict[str, dict] = {}
    header = (f"{'condition':<14} {'models':<22} {'load avg':>11} {'MAPE %':>7} {'±10 %':>6} "
              f"{'Spearman':>8} {'median ms':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for condition in conditions:
            results[condition] = r = _one_condition(condition, Path(tmp), n_archs,
                                                    n_calibration, repeats, seed)
            print(f"  {condition}: {r['minutes']:.1f} min, {r['noisy_profiles']}/{r['profiles']} "
                  f"profile records flagged noisy, {r['calibration']['noisy']} calibration "
                  f"models noisy", flush=True)
            # Each condition's rows as soon as it is done: a run may take an hour.
            print(header)
            _print_condition(condition, r, results.get("quiet"))


def _print_condition(condition: str, r: dict, quiet: dict | None) -> None:
    from evaluators._calibrate import accuracy

    load = f"{r['load'][0]:.1f}-{r['load'][1]:.1f}"
    rows = [("held-out, b1+b8", r["predicted"], r["measured"]),
            ("quickstart (sub-ms)", r["predicted_quick"], r["measured_quick"])]
    if quiet is not None and condition != "quiet":
        rows += [("held-out vs quiet", r["predicted"], quiet["measured"]),
                 ("quickstart vs quiet", r["predicted_quick"], quiet["measured_quick"])]
    for label, pred, meas in rows:
        acc = accuracy(np.asarray(pred), np.asarray(meas))
        print(f"{condition:<14} {label:<22} {load:>11} {acc['mape']:7.1f} "
              f"{acc['within_10']:6.0f} {acc['spearman']:8.3f} {np.median(meas):9.3f}",
              flush=True)


def onnxruntime_benchmark(n_archs: int, n_calibration: int, repeats: int, seed: int) -> None:
    """The onnxruntime-cpu device: cpu profile, calibration on models run by ONNX Runtime,
    then held-out models measured in ONNX Runtime against the prediction."""
    import evaluators
    import kernels
    import storage
    from evaluators._calibrate import accuracy

    print(f"\nonnxruntime-cpu: `nas profile --device cpu --quick`, calibration on "
          f"{n_calibration} models run by ONNX Runtime (1 intra-op thread), {n_archs} held-out "
          "models × batch 1 and 8", flush=True)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ort.db'}"
        storage.connect(url).add_profiles(kernels.profile("cpu", grid="quick"))
        cal = evaluators.calibrate("onnxruntime-cpu", url, n_archs=n_calibration,
                                   repeats=repeats, seed=seed)
        held = _held_out(n_archs, n_calibration, seed)
        measured, _ = evaluators.measure_onnxruntime_stats(held, (1, 8), repeats=repeats,
                                                           seed=seed + 1)
        torch_ms = evaluators.measure_latencies(held, (1, 8), repeats=repeats, seed=seed + 1)
        rows = [evaluators.predict(held, "onnxruntime-cpu", url, batch_size=b) for b in (1, 8)]
    predicted = np.array([[r["latency_ms"] for r in rows[j]] for j in range(2)]).T
    v = cal["validation"]
    print(f"residual weights {np.round(cal['weights'], 4)}; held-out during calibration MAPE "
          f"{v['mape']:.1f}%; load average {load_before:.1f}-{os.getloadavg()[0]:.1f}")
    for label, j in (("all", slice(None)), ("batch 1", 0), ("batch 8", 1)):
        acc = accuracy(predicted[:, j].ravel(), measured[:, j].ravel())
        print(f"{label:>8}: MAPE {acc['mape']:.1f}% (target ≤ 10), within ±10% "
              f"{acc['within_10']:.0f}%, Spearman {acc['spearman']:.3f}")
    ratio = np.median(measured / torch_ms)
    print(f"ONNX Runtime / torch CPU time, median over these models: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default="sqlite:///studies.db")
    parser.add_argument("--hat-only", action="store_true")
    parser.add_argument("--archs", type=int, default=60, help="measured test architectures")
    parser.add_argument("--calibration", type=int, default=24,
                        help="measured calibration architectures")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--under-load", action="store_true",
                        help="only the CPU check quiet, beside 2 CPU burners and beside a "
                        "training job (each with its own profile and calibration)")
    parser.add_argument("--onnxruntime", action="store_true",
                        help="only the onnxruntime-cpu device's held-out check")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help=f"comma-separated subset of {CONDITIONS} for --under-load")
    args = parser.parse_args()
    if args.onnxruntime:
        onnxruntime_benchmark(args.archs, args.calibration, args.repeats, args.seed)
        return
    if args.under_load:
        conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
        bad = [c for c in conditions if c not in CONDITIONS]
        if bad:
            parser.error(f"unknown condition {bad[0]!r}; choose from {CONDITIONS}")
        under_load_benchmark(args.archs, args.calibration, args.repeats, args.seed, conditions)
        return
    hat_benchmark()
    if not args.hat_only:
        cpu_benchmark(args.storage, args.archs, args.calibration, args.repeats, args.seed)


if __name__ == "__main__":
    main()
