"""From what length is linear attention faster than softmax attention on this CPU?

Measures batch-1 forward latency of the efficient-attention study's largest model (4 layers of
width 128, 4 heads, FFN 256) with every layer softmax, linear with the elu+1 feature map, or
linear with ReLU, at lengths from 128 to 2048 bytes, on one thread. Each repeat times all
models in interleaved rounds (``evaluators.measure_latencies``); the table gives the median
over repeats and the spread (max - min) / median.

    python studies/attention_crossover.py [--seqs 128,256,512,1024,2048] [--repeats 3]
"""

import argparse
import statistics

import torch
from efficient_attention import lm

from evaluators import measure_latencies
from space import Space
from space import mixer

KINDS = {
    "softmax": mixer("softmax", heads=4),
    "linear-elu": mixer("linear", heads=4, feature_map="elu"),
    "linear-relu": mixer("linear", heads=4, feature_map="relu"),
}


def largest(attention, seq_len):
    """The space's largest model with every layer's mixer fixed to ``attention``."""
    space = Space(lm(attention, seq_len))
    return space.draw(lambda key, decision: len(decision.options) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqs", default="128,256,512,1024,2048")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seqs = [int(s) for s in args.seqs.split(",")]
    archs = [largest(m, n) for n in seqs for m in KINDS.values()]
    runs = [measure_latencies(archs, (1,), seed=r)[:, 0] for r in range(args.repeats)]
    print(f"batch-1 forward ms, median of {args.repeats} interleaved repeats (spread)")
    print(f"{'bytes':>6} " + " ".join(f"{k:>20}" for k in KINDS) + f" {'best linear/softmax':>20}")
    for i, n in enumerate(seqs):
        cells, medians = [], []
        for j in range(len(KINDS)):
            values = [run[i * len(KINDS) + j] for run in runs]
            median = statistics.median(values)
            medians.append(median)
            cells.append(f"{median:8.2f} ({(max(values) - min(values)) / median:4.0%})")
        print(f"{n:>6} " + " ".join(f"{c:>20}" for c in cells)
              + f" {min(medians[1:]) / medians[0]:>20.2f}")


if __name__ == "__main__":
    main()
