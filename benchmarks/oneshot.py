"""One-shot search on digits: does the supernet rank subnets like standalone training, and cheaply?

Runs the ``oneshot`` searcher on a small ViT space (elastic depth, width, heads and FFN; with
``--rich`` also a mixer type and low-rank ratio per layer and the patch size), then trains
``--subnets`` random subnets standalone with the training evaluator's recipe and prints

* Kendall τ between their inherited-weight and standalone validation accuracies (target ≥ 0.5);
* the cost of the whole one-shot search (supernet training + evolution) against training
  standalone (a) the candidates the search scored (estimated from the measured mean standalone
  time) and (b) the ``--subnets`` actually trained (target ≤ 1/5).

Usage: ``python benchmarks/oneshot.py [--rich] [--steps 400] [--supernet-steps 800]
[--subnets 12]`` (about 4 minutes on one idle core).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

# Run as a script, this file's folder leads sys.path and benchmarks/space.py would shadow the
# package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from evaluators._train import train  # noqa: E402
from nas.searchers import make_searcher  # noqa: E402
from space import Space  # noqa: E402
from space import choice  # noqa: E402
from space import layer  # noqa: E402
from space import mixer  # noqa: E402
from space import patches  # noqa: E402
from space import repeat  # noqa: E402
from space import transformer  # noqa: E402


def bench_space(rich: bool) -> Space:
    """Depth 1-3 of (width, heads, FFN width) at patch 4; ``rich`` adds a softmax/ReLU attention
    choice and ρ per layer and patch 2 or 4 (four mixer weight sets per layer to share)."""
    body = layer(
        choice(16, 32, 48),
        mixer(choice("softmax", "relu") if rich else "softmax", heads=choice(1, 2, 4)),
        ffn=choice([32], [64], [96]),
        rank_ratio=choice(None, 0.5) if rich else None,
    )
    patch = choice(2, 4) if rich else 4
    return Space(
        transformer(repeat(body, choice(1, 2, 3)), input=patches(8, patch, 1), num_classes=10)
    )


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall τ-b (ties in either list count as neither concordant nor discordant)."""
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    pairs = concordant + discordant
    denom = np.sqrt((pairs + ties_x) * (pairs + ties_y))
    return float((concordant - discordant) / denom) if denom else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="standalone training steps")
    parser.add_argument("--supernet-steps", type=int, default=800)
    parser.add_argument("--subnets", type=int, default=12)
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-3, help="supernet learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rich", action="store_true", help="the richer space (see bench_space)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    space = bench_space(args.rich)
    searcher = make_searcher(
        "oneshot",
        space=space,
        objectives={"accuracy": "max"},
        seed=args.seed,
        supernet_steps=args.supernet_steps,
        population=args.population,
        generations=args.generations,
        lr=args.lr,
    )
    start = time.perf_counter()
    searcher.build_supernet()
    supernet_s = time.perf_counter() - start
    top = searcher.ask(3)
    search_s = time.perf_counter() - start
    scored = len(searcher.scores)
    print(
        f"one-shot search: supernet {supernet_s:.1f} s ({args.supernet_steps} sandwich steps), "
        f"evolution {search_s - supernet_s:.1f} s over {scored} candidates, "
        f"total {search_s:.1f} s"
    )
    print("top 3:", [f"{searcher.scores[a]['accuracy']:.3f}" for a in top])

    rng = np.random.default_rng([args.seed, 99])
    subnets: list = []
    while len(subnets) < args.subnets:
        arch = space.sample(rng)
        if arch not in subnets:
            subnets.append(arch)
    inherited, standalone, train_s = [], [], []
    supernet = searcher.supernet
    for i, arch in enumerate(subnets):
        inherited.append(supernet.evaluate(arch)["accuracy"])
        t = time.perf_counter()
        standalone.append(
            train(arch, "digits", steps=args.steps, seed=args.seed).metrics["accuracy"]
        )
        train_s.append(time.perf_counter() - t)
        layers = arch["layers"]
        print(
            f"  subnet {i:2d}: depth {len(layers)} widths {[x['width'] for x in layers]} "
            f"patch {arch['input']['patch']}: inherited {inherited[-1]:.3f} "
            f"standalone {standalone[-1]:.3f} ({train_s[-1]:.1f} s)"
        )
    tau = kendall_tau(inherited, standalone)
    mean_s = float(np.mean(train_s))
    print(
        f"Kendall tau (inherited vs standalone, {len(subnets)} subnets): {tau:.3f} "
        f"(target >= 0.5) {'PASS' if tau >= 0.5 else 'FAIL'}"
    )
    ratio_scored = search_s / (scored * mean_s)
    ratio_trained = search_s / sum(train_s)
    print(
        f"cost vs standalone training of the {scored} scored candidates "
        f"(~{scored * mean_s:.0f} s at {mean_s:.1f} s each): {ratio_scored:.3f} "
        f"(target <= 0.2) {'PASS' if ratio_scored <= 0.2 else 'FAIL'}"
    )
    print(
        f"cost vs standalone training of the {len(subnets)} subnets trained here "
        f"({sum(train_s):.0f} s): {ratio_trained:.3f} "
        f"{'PASS' if ratio_trained <= 0.2 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
