"""Search efficiency of every searcher on FlexiBERT's tabular SST-2 and QNLI benchmarks.

The tables (``../shared/data/flexibert_small``) score only the models an active-learning loop
chose (620 for SST-2, 660 for QNLI) out of the 332,352 in their decision space, so each table is
a finite pool: the FlexiBERT v0 space written in the DSL (2 or 4 layers; per layer width
128/256, softmax ("sdp") or WMA attention with 2 or 4 heads, one FFN layer of 512/1024/2048),
restricted to the evaluated rows with ``nas.searchers.PoolSpace``. Every searcher runs
unchanged on it; what one draws or mutates outside the pool snaps to the nearest member, and
the objective is the table's accuracy (maximised). Searchers ask in batches (4 by default,
like BOSHNAS's 4 concurrent jobs), so asynchronous batch suggestion is part of the test.

For each table, searcher and seed the script records the accuracy of each query and prints the
median number of queries to reach the best model and any top-1 % model (censored runs count as
beyond the budget), and the mean regret (best accuracy minus best found) after 25, 50 and 100
queries.

Run: ``python benchmarks/search_efficiency.py --seeds 20 --jobs 2 --log runs.jsonl`` (the log
lets an interrupted benchmark resume; ``--summarise`` prints the table from it).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import re
import sys
import time
from pathlib import Path

import numpy as np

# This folder holds ``space.py`` (the space benchmark), which would shadow the ``space`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flexibert_small"
TABLES = {
    "sst2": ("dataset_small_sst2.json", "SST-2"),
    "qnli": ("dataset_small_qnli.json", "QNLI"),
}
SEARCHERS = ["random", "evolution", "tpe", "nsga2", "boshnas"]
REGRET_AT = (25, 50, 100)


def flexibert_space():
    """FlexiBERT v0 (2021) space: the one the tables' models come from."""
    from space import Space
    from space import choice
    from space import layer
    from space import mixer
    from space import repeat
    from space import tokens
    from space import transformer

    attention = choice(mixer("softmax", heads=choice(2, 4)), mixer("wma", heads=choice(2, 4)))
    body = layer(width=choice(128, 256), mixer=attention, ffn=[choice(512, 1024, 2048)])
    return Space(transformer(repeat(body, choice(2, 4)), input=tokens(30522, 128), num_classes=2))


def _row_chooser(row):
    def chooser(path, decision):
        if path == "layers.depth":
            return (2, 4).index(row["l"])
        j, rest = re.fullmatch(r"layers\[(\d+)\]\.(.*)", path).groups()
        j = int(j)
        if rest == "width":
            return (128, 256).index(row["h"][j])
        if rest == "mixer":
            return ("sdp", "wma").index(row["s"][j])
        if rest.endswith(".heads"):
            return (2, 4).index(row["a"][j])
        if rest == "ffn[0]":
            return (512, 1024, 2048).index(row["f"][j])
        raise KeyError(path)

    return chooser


def load_table(name):
    """``(space, {arch: accuracy})`` of the evaluated rows of one table."""
    from nas.searchers import PoolSpace

    file, task = TABLES[name]
    data = json.loads((DATA / file).read_text())
    space = flexibert_space()
    scores = {}
    for row, acc in zip(data["model_dicts"], data["accuracies"], strict=True):
        if acc and acc.get(task) is not None:
            scores[space.draw(_row_chooser(row))] = float(acc[task])
    return PoolSpace(space, list(scores)), scores


def run_one(task):
    """Accuracies of a searcher's queries, in order, up to the budget."""
    table, name, seed, budget, batch = task
    import torch

    from nas.searchers import make_searcher

    torch.set_num_threads(1)
    pool, scores = load_table(table)
    searcher = make_searcher(name, space=pool, objectives={"accuracy": "max"}, seed=seed)
    found = []
    start = time.perf_counter()
    while len(found) < budget:
        archs = searcher.ask(min(batch, budget - len(found)))
        if not archs:
            break
        for arch in archs:
            searcher.tell(arch, {"accuracy": scores[arch]})
            found.append(scores[arch])
    return table, name, seed, found, time.perf_counter() - start


def _first(found, threshold):
    for i, acc in enumerate(found):
        if acc >= threshold:
            return i + 1
    return math.inf


def summarise(table, scores, runs, budget):
    values = sorted(scores.values(), reverse=True)
    best, top = values[0], values[max(1, math.ceil(0.01 * len(values))) - 1]
    rows = []
    for name in SEARCHERS:
        mine = [r for r in runs if r[0] == table and r[1] == name]
        if not mine:
            continue
        q_best = np.median([_first(r[3], best) for r in mine])
        q_top = np.median([_first(r[3], top) for r in mine])
        regrets = [
            np.mean([best - max(r[3][:k]) for r in mine]) if budget >= k else math.nan
            for k in REGRET_AT
        ]
        seconds = np.mean([r[4] for r in mine])
        rows.append((name, q_best, q_top, *regrets, seconds, len(mine)))
    return best, top, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--searchers", nargs="+", default=SEARCHERS, choices=SEARCHERS)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument(
        "--log", type=Path, help="append each finished run here (JSON lines) and resume from it"
    )
    parser.add_argument("--summarise", action="store_true", help="only print the log's table")
    args = parser.parse_args()

    runs = []
    if args.log and args.log.exists():
        runs = [tuple(json.loads(line)) for line in args.log.read_text().splitlines() if line]
    done = {(r[0], r[1], r[2]) for r in runs}
    # Seed-major order, so an interrupted run still holds whole seeds for every searcher.
    tasks = [
        (t, s, seed, args.budget, args.batch)
        for seed in range(args.seeds)
        for t in args.tables
        for s in args.searchers
        if (t, s, seed) not in done
    ]
    if tasks and not args.summarise:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as workers:
            for run in workers.imap_unordered(run_one, tasks):
                runs.append(run)
                if args.log:
                    with args.log.open("a") as f:
                        f.write(json.dumps(run) + "\n")

    fmt = lambda q: f">{args.budget}" if math.isinf(q) else f"{q:.0f}"  # noqa: E731
    for table in args.tables:
        _, scores = load_table(table)
        mine = [r for r in runs if r[0] == table and r[1] in args.searchers]
        seeds = min((sum(r[1] == s for r in mine) for s in args.searchers), default=0)
        best, top, rows = summarise(table, scores, mine, args.budget)
        print(
            f"\n{TABLES[table][1]}: {len(scores)} evaluated models, best {best:.4f}, "
            f"top 1 % >= {top:.4f}; {seeds} seeds, batches of {args.batch}, "
            f"budget {args.budget} queries"
        )
        head = ["searcher", "q->best", "q->top1%"] + [f"regret@{k}" for k in REGRET_AT]
        print(" | ".join(f"{h:>10}" for h in head + ["s/run", "runs"]))
        for name, q_best, q_top, *rest in rows:
            regrets, seconds, count = rest[:3], rest[3], rest[4]
            cells = [name, fmt(q_best), fmt(q_top)] + [f"{r:.4f}" for r in regrets]
            print(" | ".join(f"{c:>10}" for c in cells + [f"{seconds:.1f}", str(count)]))


if __name__ == "__main__":
    main()
