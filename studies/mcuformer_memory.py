"""Does fitting 320 KB force a trade of patch size against rank? A cost-model-only analysis.

Samples MCUFormer's T space with its MCU dimensions at 240 px (``studies/spaces.py``) and prints,
for every (patch size, rank ratio), the share of architectures whose peak SRAM fits the
STM32F746's 320 KB, under our int8 operator schedule (weights stream from flash, tokens are
overwritten in place) and under MCUFormer's released proxy formula, plus the median flash.

    python studies/mcuformer_memory.py [--samples 3000]
"""

import argparse
import statistics
from collections import defaultdict

from spaces import mcuformer

from evaluators import MCUMemoryModel

MODELS = {
    "schedule": MCUMemoryModel("stm32f746"),
    "mcuformer proxy": MCUMemoryModel("stm32f746", proxy="mcuformer"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    space = mcuformer()
    fits: dict[tuple[int, float], dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    flash: dict[tuple[int, float], list[float]] = defaultdict(list)
    for seed in range(args.samples):
        arch = space.sample(seed=seed).to_dict()
        key = (arch["input"]["patch"], arch["rank_ratio"])
        for name, model in MODELS.items():
            result = model(arch)
            fits[key][name].append(result["sram_kb"] <= 320)
        # Flash is the weights plus code under either SRAM model.
        flash[key].append(result["flash_kb"])
    print(f"{args.samples} architectures of MCUFormer's T space at 240 px; share with peak SRAM "
          "<= 320 KB")
    print(f"{'patch':>5} {'tokens':>6} {'rho':>5} " + " ".join(f"{n:>16}" for n in MODELS)
          + f" {'median flash MB':>16}")
    for patch, rho in sorted(fits, key=lambda k: (-k[0], k[1])):
        shares = [sum(v) / len(v) for v in (fits[(patch, rho)][n] for n in MODELS)]
        print(f"{patch:>5} {(240 // patch) ** 2 + 1:>6} {rho:>5.2f} "
              + " ".join(f"{s:>16.0%}" for s in shares)
              + f" {statistics.median(flash[(patch, rho)]) / 1024:>16.2f}")


if __name__ == "__main__":
    main()
