from __future__ import annotations

import pytest

import space
from evaluators import layer_costs
from evaluators import static_costs

from ._archs import MIXERS
from ._archs import layer
from ._archs import text
from ._archs import vit


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_params_equal_the_built_module(name: str) -> None:
    arch = text([layer(32, MIXERS[name]), layer(48, MIXERS["softmax"], rank_ratio=0.5)])
    built = sum(p.numel() for p in space.build(arch).parameters())
    costs = static_costs(arch)
    assert costs["params"] == built
    assert costs["flops"] == 2 * costs["macs"] > 0


def test_per_stage_costs_add_up() -> None:
    arch = vit(32, 3, 4, 16)
    stages = layer_costs(arch, dtype_bytes=1)
    assert [s["name"] for s in stages] == ["embed", "layers[0]", "layers[1]", "layers[2]", "head"]
    assert sum(s["params"] for s in stages) == static_costs(arch)["params"]
    assert sum(s["macs"] for s in stages) == static_costs(arch)["macs"]
    # 17 tokens (16 patches + class token) of width 32, one byte each.
    assert stages[1]["activation_bytes"] == 17 * 32
    assert all(s["weight_bytes"] == s["params"] for s in stages)


def test_macs_scale_with_batch() -> None:
    arch = text()
    assert static_costs(arch, 4)["macs"] == 4 * static_costs(arch, 1)["macs"]
