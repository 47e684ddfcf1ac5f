"""Runner overhead and throughput, printed as a table.

1. 40 trials that each sleep 5 s on 2 workers (ideal 100 s): ``nas.run`` against plain Ray Tune
   (a ``Tuner`` running the same function, 2 trials at once), both timed from before Ray starts
   to the last result. Target for ``nas.run``: at most 1.10 x ideal.
2. A hardware-only study (MCU memory and size cost models on the FlexiBERT space, no training):
   architectures per second into the database on 2 workers. Target: at least 1,000 per second.

Run: ``python benchmarks/runner.py`` (about 4 minutes). Timings include Ray start-up, so they
depend on how busy the machine is; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

# Sibling scripts (benchmarks/storage.py, benchmarks/space.py) would shadow the packages of the
# same names; the repository root gives `studies`.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE.parent)]

import ray  # noqa: E402

import nas  # noqa: E402
import storage  # noqa: E402
from evaluators import CostEvaluator  # noqa: E402
from space import Space  # noqa: E402
from space import choice  # noqa: E402
from studies.spaces import flexibert  # noqa: E402

SLEEP_S = 5.0
TRIALS = 40
WORKERS = 2


def sleep_trial(arch) -> dict[str, float]:
    time.sleep(SLEEP_S)
    return {"loss": float(arch["x"])}


def time_nas(folder: Path) -> tuple[float, str]:
    """Wall time of ``nas.run``, and where its overhead went (from the trials' timestamps)."""
    study = nas.Study(name="sleep", space=Space({"x": choice(*range(1000))}),
                      evaluate=sleep_trial, objectives={"loss": "min"}, searcher="random",
                      trials=TRIALS)
    url = f"sqlite:///{folder / 'sleep.db'}"
    start = time.perf_counter()
    result = nas.run(study, storage=url, workers=WORKERS, quiet=True, log_dir=folder)
    wall = time.perf_counter() - start
    assert result.complete == TRIALS, result
    trials = storage.connect(url).trials("sleep")
    started = [datetime.fromisoformat(t.started.rstrip("Z")) for t in trials]
    finished = [datetime.fromisoformat(t.finished.rstrip("Z")) for t in trials]
    loop = (max(finished) - min(started)).total_seconds()
    first = (finished[0] - started[0]).total_seconds() - SLEEP_S
    steady = (loop - first - TRIALS * SLEEP_S / WORKERS) / (TRIALS - WORKERS) * 1e3
    note = (f"nas.run: {wall - loop:.1f} s before the first trial (Ray start, study, searcher), "
            f"{first:.1f} s for the first worker to start (imports torch), then "
            f"{steady:.0f} ms per trial of dispatch overhead")
    return wall, note


def time_tune(folder: Path) -> float:
    from ray import tune

    def trainable(config: dict) -> dict[str, float]:
        time.sleep(SLEEP_S)
        return {"loss": float(config["x"])}

    start = time.perf_counter()
    ray.init(num_cpus=WORKERS, include_dashboard=False, logging_level="WARNING")
    try:
        tuner = tune.Tuner(
            trainable,
            param_space={"x": tune.randint(0, 1000)},
            tune_config=tune.TuneConfig(num_samples=TRIALS, max_concurrent_trials=WORKERS,
                                        metric="loss", mode="min"),
            run_config=tune.RunConfig(storage_path=str(folder / "tune"), name="sleep",
                                      verbose=0),
        )
        results = tuner.fit()
        assert len(results) == TRIALS and not results.errors, results.errors
        return time.perf_counter() - start
    finally:
        ray.shutdown()


def time_hardware_only(folder: Path, trials: int) -> tuple[float, int, str]:
    """Wall time of ``nas.run`` and trials stored, and how fast they were written once the
    workers were up (from the trials' timestamps)."""
    study = nas.Study(name="mcu", space=flexibert(), evaluate=CostEvaluator("stm32f746"),
                      objectives={"sram_kb": "min", "params": "max"}, searcher="random",
                      trials=trials)
    url = f"sqlite:///{folder / 'mcu.db'}"
    start = time.perf_counter()
    nas.run(study, storage=url, workers=WORKERS, quiet=True, log_dir=folder)
    seconds = time.perf_counter() - start
    stored = storage.connect(url).trials("mcu", "COMPLETE")
    written = sorted(datetime.fromisoformat(t.finished.rstrip("Z")) for t in stored)
    span = (written[-1] - written[0]).total_seconds()
    # A batch is written in one transaction with one timestamp: count from the second write.
    later = sum(w > written[0] for w in written)
    note = (f"{later / span:,.0f} archs/s from the first write to the last ({span:.1f} s); "
            f"the other {seconds - span:.1f} s are Ray start-up, the workers importing torch "
            "and Ray shutdown")
    return seconds, len(stored), note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-tune", action="store_true", help="only time nas.run")
    parser.add_argument("--hardware-trials", type=int, default=20000)
    args = parser.parse_args()
    ideal = TRIALS * SLEEP_S / WORKERS
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wall, note = time_nas(folder)
        rows = [("nas.run (plain Ray tasks)", wall)]
        # Before Tune: its processes still wind down for a while after its shutdown.
        seconds, stored, steady = time_hardware_only(folder, args.hardware_trials)
        if not args.skip_tune:
            rows.append(("Ray Tune Tuner", time_tune(folder)))
    print(f"\n{TRIALS} trials x {SLEEP_S:g} s on {WORKERS} workers, ideal {ideal:.0f} s "
          "(wall time includes Ray start-up)")
    print(f"{'runner':<28}{'wall s':>9}{'overhead':>10}{'target':>9}")
    for name, wall in rows:
        target = "<= 1.10" if name.startswith("nas") else ""
        print(f"{name:<28}{wall:>9.1f}{wall / ideal:>9.3f}x{target:>9}")
    print(note)
    print(f"\nhardware-only study (FlexiBERT space, stm32f746 cost models, random searcher): "
          f"{stored} architectures in {seconds:.1f} s = {stored / seconds:,.0f} archs/s into "
          "the database (target >= 1,000; includes Ray start-up)")
    print(steady)


if __name__ == "__main__":
    main()
