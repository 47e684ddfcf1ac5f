"""Re-time a study's measured latencies on an idle machine and redraw its front.

A study whose objective is ``latency_ms`` from ``MeasuredLatencyEvaluator`` times each model
inside its trial, while other trials train beside it, so its values carry the load of the
moment. This times every COMPLETE trial's model again, all of them in interleaved rounds on
one thread (``evaluators.measure_latencies``), and prints both values and both fronts. The
database is only read.

    python studies/remeasure.py STUDY [--storage sqlite:///studies.db] [--repeats 30]
"""

import argparse

import numpy as np
import torch

import storage
from evaluators import measure_latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--storage", default="sqlite:///studies.db")
    parser.add_argument("--metric", default="latency_ms")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with storage.connect(args.storage) as db:
        points = db.pareto_points(args.study)
        trials = {t.id: t for t in db.trials(args.study, "COMPLETE")}
    names, directions = points["objectives"], points["directions"]
    if args.metric not in names:
        parser.error(f"{args.metric!r} is not an objective of {args.study} ({names}); "
                     "pass --metric NAME")
    column = names.index(args.metric)
    ids = points["ids"]
    before = points["values"]
    after = before.copy()
    after[:, column] = measure_latencies([trials[i].arch for i in ids], (1,),
                                         repeats=args.repeats, rounds=5)[:, 0]
    fronts = [storage.non_dominated(v, directions) for v in (before, after)]
    others = [n for n in names if n != args.metric]
    print(f"{'trial':>5} " + " ".join(f"{n:>12}" for n in others)
          + f" {'in trial':>10} {'idle':>10} {'front':>8}")
    order = np.lexsort((after[:, column], ~fronts[1]))
    for k in order:
        mark = {(True, True): "both", (True, False): "was", (False, True): "now"}.get(
            (bool(fronts[0][k]), bool(fronts[1][k])), "")
        print(f"{trials[ids[k]].number:>5} "
              + " ".join(f"{before[k, names.index(n)]:>12.4g}" for n in others)
              + f" {before[k, column]:>10.3f} {after[k, column]:>10.3f} {mark:>8}")
    ratio = after[:, column] / before[:, column]
    print(f"idle / in-trial {args.metric}: median {np.median(ratio):.2f}, "
          f"range {ratio.min():.2f}-{ratio.max():.2f} over {len(ids)} trials")


if __name__ == "__main__":
    main()
