"""Speed of the study database: ``best`` and ``pareto`` over 10,000 completed trials.

Run ``python benchmarks/storage.py`` (PostgreSQL from ``$HETNAS_BENCH_PG``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; ``--sqlite-only`` skips it). Inserts
10,000 COMPLETE trials with 5 metrics each into a fresh database per backend, then times each
query ``--repeats`` times and prints the median wall time, the spread (IQR / median) and this
process's median CPU time against the target. PostgreSQL gets ``VACUUM ANALYZE`` after the
insert: the statistics and visibility map autovacuum would have made a minute later. The load
average is printed too: on a shared machine, wall time above CPU time is waiting for a core.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

# Run as a script, this file's folder leads sys.path and this file would shadow the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy import text  # noqa: E402

import storage  # noqa: E402

TRIALS = 10_000
NAN = float("nan")
BATCH = 1_000
OBJECTIVES = {"accuracy": "max", "latency_ms": "min", "params": "min"}
CONSTRAINTS = [{"metric": "latency_ms", "op": "<=", "bound": 40.0}]
#: (row name, query, target seconds)
QUERIES: list[tuple[str, Callable[[storage.Database], object], float]] = [
    ("best k=1", lambda db: db.best("bench", 1), 0.050),
    (
        "best k=10 where",
        lambda db: db.best("bench", 10, where="latency_ms < 5 and params <= 1e6"),
        0.050,
    ),
    ("pareto 3 objectives", lambda db: db.pareto("bench"), 0.500),
]


def fill(db: storage.Database, seed: int = 0) -> float:
    """Insert the trials; returns the seconds it took."""
    rng = np.random.default_rng(seed)
    db.create_study("bench", objectives=OBJECTIVES, constraints=CONSTRAINTS)
    start = time.perf_counter()
    for first in range(0, TRIALS, BATCH):
        rows = []
        for i in range(first, first + BATCH):
            params = float(rng.integers(10_000, 10_000_000))
            latency = params / 2e5 * rng.uniform(0.5, 1.5)
            rows.append(
                (
                    f"arch{i:06d}",
                    f'{{"family":"transformer","width":{i}}}',
                    {
                        "accuracy": float(1 - np.exp(-params / 2e6) * rng.uniform(0.8, 1.0)),
                        "latency_ms": latency,
                        "params": params,
                        "flops": 2 * params * 128,
                        "loss": float(rng.uniform(0.1, 3.0)),
                    },
                )
            )
        db.add_results("bench", rows, searcher="random")
    return time.perf_counter() - start


def measure(url: str, repeats: int) -> list[tuple[str, float, float, float, float]]:
    """Rows of (measurement, median wall s, spread, median CPU s, target s)."""
    rows = []
    with storage.connect(url) as db:
        seconds = fill(db)
        rows.append((f"insert {TRIALS} trials x 5 metrics", seconds, 0.0, NAN, NAN))
        if url.startswith("postgresql"):
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("VACUUM ANALYZE"))
            engine.dispose()
        for name, query, target in QUERIES:
            query(db)  # warm the connection pool and the study cache
            wall, cpu = [], []
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                query(db)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            median = statistics.median(wall)
            q1, _, q3 = statistics.quantiles(wall, n=4)
            rows.append((name, median, (q3 - q1) / median, statistics.median(cpu), target))
    return rows


def _pg_database() -> tuple[str, Callable[[], None]]:
    import psycopg

    admin = os.environ.get(
        "HETNAS_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    dsn = admin.replace("postgresql+psycopg://", "postgresql://")
    name = f"hetnas_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{admin.rsplit('/', 1)[0]}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        results += [("sqlite", *row) for row in measure(url, args.repeats)]
    if not args.sqlite_only:
        url, drop = _pg_database()
        try:
            results += [("postgresql", *row) for row in measure(url, args.repeats)]
        finally:
            drop()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{TRIALS} COMPLETE trials x 5 metrics; {args.repeats} repeats; load average {load} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"{'backend':<11} {'measurement':<34} {'median':>10} {'spread':>7} {'cpu':>9} "
        f"{'target':>9}  ok"
    )
    for backend, name, seconds, spread, cpu, target in results:
        ok = "" if math.isnan(target) else ("yes" if seconds < target else "NO")
        shown = "" if math.isnan(target) else f"{target * 1e3:7.0f}ms"
        used = "" if math.isnan(cpu) else f"{cpu * 1e3:7.1f}ms"
        print(
            f"{backend:<11} {name:<34} {seconds * 1e3:8.1f}ms {spread:7.2f} {used:>9} "
            f"{shown:>9}  {ok}"
        )


if __name__ == "__main__":
    main()
