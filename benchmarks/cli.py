"""Start-up time of ``nas`` commands, as a ratio to ``python -c "import sqlalchemy"``.

Every command that only reads the study database should cost about what loading SQLAlchemy
costs, since it needs SQLAlchemy and little else (target: ``nas --help`` and ``nas studies``
within 3x). The baseline is measured in the same run: each round runs every command once, in
a shuffled order, so a burst of load from other jobs spreads over all of them; the table shows
the median over rounds, the spread (interquartile range / median) and the ratio of medians.

    python benchmarks/cli.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]
BASELINE = "import sqlalchemy"


def _fill(url: str) -> int:
    # benchmarks/storage.py would shadow the package: import it from the repository root.
    sys.path.insert(0, str(ROOT))
    import storage

    with storage.connect(url) as db:
        db.create_study("bench", objectives={"accuracy": "max", "latency_ms": "min"},
                        constraints=[{"metric": "latency_ms", "op": "<=", "bound": 5.0}])
        ids = db.add_results("bench", [
            (f"a{i}", {"family": "toy", "width": i}, {"accuracy": i / 200, "latency_ms": i / 40})
            for i in range(200)])
    return ids[0]


def _commands(url: str, trial: int, folder: Path) -> dict[str, list[str]]:
    storage = ["--storage", url]
    return {
        BASELINE: [sys.executable, "-c", BASELINE],
        "nas --help": [*NAS, "--help"],
        "nas studies": [*NAS, "studies", *storage],
        "nas trials bench": [*NAS, "trials", "bench", *storage],
        "nas best bench": [*NAS, "best", "bench", "--where", "latency_ms < 3", *storage],
        "nas pareto bench": [*NAS, "pareto", "bench", *storage],
        "nas export TRIAL": [*NAS, "export", str(trial), "-o", str(folder / "a.json"),
                             "--force", *storage],
        "nas run x.py --trails 5 (usage error)": [*NAS, "run", "x.py", "--trails", "5"],
    }


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 2):
        raise SystemExit(f"{command} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'studies.db'}"
        commands = _commands(url, _fill(url), folder)
        for command in commands.values():
            _time(command, env)  # warm the page cache and .pyc files
        times: dict[str, list[float]] = {name: [] for name in commands}
        rng = random.Random(0)
        for _ in range(args.rounds):
            order = list(commands)
            rng.shuffle(order)
            for name in order:
                times[name].append(_time(commands[name], env))
    base = statistics.median(times[BASELINE])
    load = os.getloadavg()
    print(f"{args.rounds} interleaved rounds, load average {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f} (1 / 5 / 15 min), {os.cpu_count()} CPUs\n")
    print(f"| command | median s | spread (IQR/median) | ratio to `{BASELINE}` |")
    print("|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        q1, _, q3 = statistics.quantiles(values, n=4)
        print(f"| `{name}` | {median:.3f} | {(q3 - q1) / median:.2f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
