"""Does the one-shot supernet rank subnets like standalone training, and at what cost?

For each of three spaces, ``--subnets`` subnets (default 30) are sampled uniformly (per-decision
uniform draws, distinct, feasible under the study's constraints where it has them) and trained
standalone with the study trials' recipe (``evaluators.train``, seed 0). Then per supernet variant
(the full recipe and its ablations) one ``nas.Supernet`` is trained (one per seed of
``--supernet-seeds``) and scores them with inherited weights. Printed per row: Kendall τ-b and
Spearman ρ against standalone accuracy with 95% bootstrap intervals (resampling subnets), beside
two baselines on the same subnets: parameter count and synflow (a zero-cost proxy, Tanaka et al.
2020), and, with ``--ceiling``, the standalone accuracy of a second training seed (how well
standalone training ranks itself).

Spaces: ``dense`` (i) width, depth, heads, FFN; ``hetero`` (ii) adds a mixer per layer
(softmax / ReLU / linear attention / convolution), a low-rank ratio and the patch size;
``mcuformer`` (iii) the space and constraints of ``studies/mcuformer.py``.

Cost: CPU seconds (``time.process_time``, not wall time: the machine is shared) of supernet
training plus scoring ``--candidates`` subnets, against training those candidates standalone
(the mean measured standalone CPU time times the count). ``--candidates`` defaults to the
mcuformer study's search size (24 + 6 × 24 scored subnets); the ratio for scoring only the
benchmark's own subnets is printed too.

Standalone results and supernet scores are cached in ``.cache/oneshot/`` (keyed by architecture,
recipe and variant), so a rerun only trains what changed.

Usage: ``OMP_NUM_THREADS=1 nice -n 10 python benchmarks/oneshot.py [--spaces dense hetero
mcuformer] [--subnets 30] [--variants full largest-teacher ...] [--supernet-seeds 0 1 2]
[--ceiling] [--standalone-steps N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Run as a script, this file's folder leads sys.path and benchmarks/space.py would shadow the
# package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import space as sp  # noqa: E402
from evaluators import CostEvaluator  # noqa: E402
from evaluators._tasks import make_task  # noqa: E402
from evaluators._train import train  # noqa: E402
from nas import Supernet  # noqa: E402
from space import Space  # noqa: E402
from space import choice  # noqa: E402
from space import layer  # noqa: E402
from space import mixer  # noqa: E402
from space import patches  # noqa: E402
from space import repeat  # noqa: E402
from space import transformer  # noqa: E402

CACHE = _HERE.parent / ".cache" / "oneshot"
BOOTSTRAP = 2000
# mcuformer study: population 24 then 6 generations of 24 mutations, all scored.
SEARCH_CANDIDATES = 24 + 6 * 24

# Supernet variants: Supernet keyword arguments. "full" is the shipped default recipe (matched
# sandwich on the labels); "largest-teacher" is the recipe until 2026-12-04 (the space's one
# largest subnet as teacher, in-place distillation).
# The recipe a variant leaves as it is, so a cached score is keyed by the recipe it was trained
# with even when Supernet's defaults change.
RECIPE_DEFAULTS = {
    name: p.default for name, p in inspect.signature(Supernet).parameters.items()
    if p.kind is p.KEYWORD_ONLY and name not in ("feasible", "seed")
}
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "largest-teacher": {"teacher": "largest", "distill": True},
    "distill": {"distill": True},
    "no-split": {"split": ()},
    "no-sandwich": {"sandwich": False, "random_subnets": 4},
    "all-subnets": {"feasible": False},
}


def dense_space() -> Space:
    """(i): depth 1-3 of (width, heads, FFN width) at patch 4."""
    body = layer(choice(16, 32, 48), mixer("softmax", heads=choice(1, 2, 4)),
                 ffn=choice([32], [64], [96]))
    return Space(transformer(repeat(body, choice(1, 2, 3)), input=patches(8, 4, 1),
                             num_classes=10))


def hetero_space() -> Space:
    """(ii): (i) plus a mixer per layer (softmax, ReLU or linear attention, depthwise
    convolution), a low-rank ratio per layer and patch 2 or 4."""
    heads = choice(1, 2, 4)
    mixers = choice(
        mixer(choice("softmax", "relu"), heads=heads),
        mixer("linear", heads=heads, feature_map="elu"),
        mixer("conv", kernel=3),
    )
    body = layer(choice(16, 32, 48), mixers, ffn=choice([32], [64], [96]),
                 rank_ratio=choice(None, 0.5))
    return Space(transformer(repeat(body, choice(1, 2, 3)), input=patches(8, choice(2, 4), 1),
                             num_classes=10))


def _mcuformer() -> Any:
    path = _HERE.parent / "studies" / "mcuformer.py"
    spec = importlib.util.spec_from_file_location("_bench_mcuformer", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def mcuformer_feasible(module: Any) -> Any:
    """The study's hard constraints from the board's cost model (no training)."""
    costs = CostEvaluator(module.BOARD)
    bounds = [(c.metric, c.bound) for c in module.study.constraints]

    def feasible(arch: Any) -> bool:
        metrics = costs(arch)
        return all(metrics[name] <= bound for name, bound in bounds)

    return feasible


def setups() -> dict[str, dict[str, Any]]:
    """Per space: the space, feasibility, the standalone recipe and the supernet budget.

    Standalone steps: 300 for (i)/(ii) (a study of 300-step trials), the mcuformer-quick trials'
    150 for (iii) (its full 600-step trials take minutes each for patch 1 on this machine).
    """
    mcu = _mcuformer()
    return {
        "dense": {"space": dense_space(), "feasible": None, "steps": 300,
                  "supernet_steps": 600},
        "hetero": {"space": hetero_space(), "feasible": None, "steps": 300,
                   "supernet_steps": 600},
        "mcuformer": {"space": mcu.space, "feasible": mcuformer_feasible(mcu), "steps": 150,
                      "supernet_steps": 400},
    }


# Rank statistics.

def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks of each row (ties share their mean rank)."""
    out = np.empty(x.shape, dtype=float)
    for i, row in enumerate(x):
        values, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out[i] = (first + (counts - 1) / 2)[inverse]
    return out


def kendall_tau(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall τ-b of each row pair (ties in either list count as neither)."""
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    dx = np.sign(x[:, :, None] - x[:, None, :])
    dy = np.sign(y[:, :, None] - y[:, None, :])
    upper = np.triu(np.ones(x.shape[1], dtype=bool), 1)
    dx, dy = dx[:, upper], dy[:, upper]
    s = (dx * dy).sum(1)
    denom = np.sqrt((dx != 0).sum(1) * (dy != 0).sum(1))
    return np.where(denom > 0, s / np.maximum(denom, 1), 0.0)


def spearman_rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rx, ry = _ranks(np.atleast_2d(x)), _ranks(np.atleast_2d(y))
    rx = rx - rx.mean(1, keepdims=True)
    ry = ry - ry.mean(1, keepdims=True)
    denom = np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
    return np.where(denom > 0, (rx * ry).sum(1) / np.maximum(denom, 1e-12), 0.0)


def correlations(score: list[float], truth: list[float], seed: int = 0) -> dict[str, float]:
    """τ and ρ with 95% percentile-bootstrap intervals over the subnets."""
    x, y = np.asarray(score, float), np.asarray(truth, float)
    idx = np.random.default_rng(seed).integers(0, len(x), (BOOTSTRAP, len(x)))
    out = {}
    for name, stat in (("tau", kendall_tau), ("rho", spearman_rho)):
        out[name] = float(stat(x, y)[0])
        lo, hi = np.percentile(stat(x[idx], y[idx]), [2.5, 97.5])
        out[f"{name}_lo"], out[f"{name}_hi"] = float(lo), float(hi)
    return out


# Baselines.

def synflow(arch: Any, task: Any) -> float:
    """log synflow: Σ|θ ⊙ ∂R/∂θ| with R the summed output of the all-ones input under |θ|, in
    double precision (Tanaka et al. 2020)."""
    model = sp.build(task.adapt(arch.to_dict()), seed=0).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    x, _ = task.batch(np.random.default_rng(0), 1)
    ones = torch.ones_like(x, dtype=torch.float64) if x.is_floating_point() else x
    model(ones).sum().backward()
    total = sum(float((p * p.grad).detach().abs().sum()) for p in model.parameters()
                if p.grad is not None)
    return float(np.log(max(total, 1e-300)))


# Cached measurements.

def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


# --cached-only: print what the cache holds, train nothing.
CACHED_ONLY = False


def _cached(kind: str, key: str, compute: Any) -> dict[str, Any] | None:
    path = CACHE / kind / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    if CACHED_ONLY:
        return None
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return value


def standalone(arch: Any, steps: int, seed: int) -> dict[str, Any] | None:
    recipe = {"task": "digits", "steps": steps, "seed": seed, "lr": 1e-3, "batch_size": 64}

    def compute() -> dict[str, Any]:
        t = time.process_time()
        metrics = train(arch, "digits", steps=steps, seed=seed).metrics
        return {"accuracy": metrics["accuracy"], "cpu_s": time.process_time() - t}

    return _cached("standalone", _key(arch.to_json(), recipe), compute)


def supernet_scores(name: str, setup: dict[str, Any], variant: str, subnets: list[Any],
                    seed: int) -> dict[str, Any] | None:
    options = dict(VARIANTS[variant])
    use_feasible = options.pop("feasible", True)
    feasible = setup["feasible"] if use_feasible else None
    key = _key(name, {**RECIPE_DEFAULTS, **options}, use_feasible, setup["supernet_steps"], seed,
               [a.id for a in subnets], "v5")

    def compute() -> dict[str, Any]:
        t = time.process_time()
        supernet = Supernet(setup["space"], "digits", seed=seed, feasible=feasible, **options)
        supernet.train(steps=setup["supernet_steps"])
        train_cpu = time.process_time() - t
        t = time.process_time()
        scores = supernet.score(subnets)
        return {"scores": scores, "train_cpu_s": train_cpu,
                "score_cpu_s": (time.process_time() - t) / len(subnets)}

    return _cached("supernet", key, compute)


def sample_subnets(setup: dict[str, Any], n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng([seed, 99])
    feasible = setup["feasible"]
    subnets: list[Any] = []
    while len(subnets) < n:
        arch = setup["space"].sample(rng)
        if arch not in subnets and (feasible is None or feasible(arch)):
            subnets.append(arch)
    return subnets


def _fmt(c: dict[str, float]) -> str:
    return (f"{c['tau']:6.3f} [{c['tau_lo']:6.3f}, {c['tau_hi']:6.3f}]  "
            f"{c['rho']:6.3f} [{c['rho_lo']:6.3f}, {c['rho_hi']:6.3f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["dense", "hetero", "mcuformer"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--subnets", type=int, default=30)
    parser.add_argument("--candidates", type=int, default=SEARCH_CANDIDATES)
    parser.add_argument("--supernet-steps", type=int, help="override every space's budget")
    parser.add_argument("--standalone-steps", type=int,
                        help="override every space's standalone training steps (e.g. 600 for "
                        "the full mcuformer study's trials)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--supernet-seeds", type=int, nargs="+",
                        help="train each variant's supernet with each of these seeds (same "
                        "subnets, same standalone runs): how much a ranking depends on the "
                        "supernet's own seed")
    parser.add_argument("--cached-only", action="store_true",
                        help="print only what .cache/oneshot holds; train nothing")
    parser.add_argument("--ceiling", action="store_true",
                        help="also train every subnet with seed 1 (standalone vs itself)")
    args = parser.parse_args()
    global CACHED_ONLY
    CACHED_ONLY = args.cached_only
    torch.set_num_threads(1)
    all_setups = setups()
    task = make_task("digits")
    targets = {"dense": 0.8, "hetero": 0.7, "mcuformer": 0.7}
    for name in args.spaces:
        setup = all_setups[name]
        if args.supernet_steps:
            setup["supernet_steps"] = args.supernet_steps
        if args.standalone_steps:
            setup["steps"] = args.standalone_steps
        subnets = sample_subnets(setup, args.subnets, args.seed)
        runs = [standalone(a, setup["steps"], args.seed) for a in subnets]
        if None in runs:
            print(f"\n## {name}: {runs.count(None)} of {len(subnets)} standalone runs not cached")
            continue
        truth = [r["accuracy"] for r in runs]
        mean_cpu = float(np.mean([r["cpu_s"] for r in runs]))
        print(f"\n## {name}: {len(subnets)} subnets, standalone {setup['steps']} steps "
              f"(accuracy {min(truth):.3f}-{max(truth):.3f}, {mean_cpu:.1f} CPU s each); "
              f"supernet {setup['supernet_steps']} steps; target tau >= {targets[name]}")
        print(f"  {'ranker':<22} {'tau [95% CI]':<24}  {'rho [95% CI]':<24}  cost ratio "
              f"({args.candidates} cand. / {len(subnets)} subnets)")
        params = [float(sp.count_params(task.adapt(a.to_dict()))) for a in subnets]
        rankers: dict[str, list[float]] = {
            "params": params, "synflow": [synflow(a, task) for a in subnets]}
        costs: dict[str, str] = {}
        for variant in args.variants:
            if variant == "all-subnets" and setup["feasible"] is None:
                continue
            for seed in args.supernet_seeds or [args.seed]:
                result = supernet_scores(name, setup, variant, subnets, seed)
                if result is None:
                    continue
                ranker = f"supernet {variant}" + ("" if seed == args.seed else f" (seed {seed})")
                rankers[ranker] = result["scores"]
                ratios = [
                    (result["train_cpu_s"] + n * result["score_cpu_s"]) / (n * mean_cpu)
                    for n in (args.candidates, len(subnets))
                ]
                costs[ranker] = (f"{ratios[0]:.3f} / {ratios[1]:.3f} "
                                 f"(supernet {result['train_cpu_s']:.0f} CPU s)")
        truths = {"seed 0": truth}
        if args.ceiling:
            again: list[float]
            again = [r["accuracy"] for r in
                     (standalone(a, setup["steps"], args.seed + 1) for a in subnets) if r]
            rankers["standalone seed 1"] = again
            truths["mean of seeds 0, 1"] = list((np.array(truth) + np.array(again)) / 2)
        for label, target in truths.items():
            print(f"against standalone accuracy, {label}:")
            base = correlations(params, target, args.seed)
            for ranker, scores in rankers.items():
                if ranker == "standalone seed 1" and label != "seed 0":
                    continue
                c = correlations(scores, target, args.seed)
                verdict = ""
                if ranker == "supernet full":
                    ok = c["tau"] >= targets[name] and c["tau_lo"] > base["tau"]
                    verdict = "PASS" if ok else "FAIL"
                print(f"  {ranker:<22} {_fmt(c)}  {costs.get(ranker, '')} {verdict}".rstrip())

if __name__ == "__main__":
    main()
