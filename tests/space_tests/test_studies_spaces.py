"""The published spaces of ``studies/spaces.py``: their sizes derived from their definitions."""

from __future__ import annotations

from space import Architecture
from tests.space_tests._specs import published

SPACES = published()


def test_flexibert_size_and_members() -> None:
    sp = SPACES.flexibert()
    # Per layer: 6 op/parameter pairs x heads {2, 4} x width {128, 256} x FFN stacks of
    # 1 or 3 layers of one width {512, 1024} = 6*2*2*(2*2) = 96 (boshnas.md §1.3).
    per_layer = 6 * 2 * 2 * (2 * 2)
    assert per_layer == 96
    assert sp.size() == per_layer**2 + per_layer**4 == 84_943_872


def test_flexibert_mini_is_in_the_space() -> None:
    sp = SPACES.flexibert()
    arch = sp.sample(seed=0).to_dict()

    def spec(op, width, n, ffn):
        head = {"type": op, "head_dim": width // n}
        return {"width": width, "mixer": {"type": "heads", "heads": [head] * n}, "ffn": ffn,
                "activation": "gelu", "norm": "layernorm", "rank_ratio": None}

    arch["layers"] = [spec("softmax", 256, 2, [512] * 3), spec("softmax", 256, 2, [512] * 3),
                      spec("dct", 128, 4, [1024]), spec("dct", 128, 4, [1024])]
    mini = Architecture(arch)
    assert sp.contains(mini)
    graph = mini.graph()
    # FlexiBERT's node count 2 + sum(n + nff + 2), plus one projection where 256 meets 128.
    assert graph.number_of_nodes() == 2 + (2 + 3 + 2) * 2 + (4 + 1 + 2) * 2 + 1
    assert all("op" in data for _, data in graph.nodes(data=True))


def test_mpcvit_size() -> None:
    sp = SPACES.mpcvit()
    # 7 layers x 4 heads, each ReLU-softmax or ScaleAttn.
    assert sp.size() == 2 ** (7 * 4)
    arch = sp.sample(seed=1)
    assert len(arch["layers"]) == 7
    assert all(h["head_dim"] == 64 for x in arch["layers"] for h in x["mixer"]["heads"])


def test_mcuformer_size() -> None:
    sp = SPACES.mcuformer()
    # Global: 5 patch sizes x 12 rank ratios x 3 widths; per layer 2 heads x 2 MLP ratios,
    # over depths 12, 13 and 14 (hardware-costs.md §2.2).
    assert sp.size() == 5 * 12 * 3 * sum((2 * 2) ** d for d in (12, 13, 14))
    arch = sp.sample(seed=2)
    widths = {x["width"] for x in arch["layers"]}
    assert widths == {arch["embed"]}
    assert {x["rank_ratio"] for x in arch["layers"]} == {arch["rank_ratio"]}
    assert all(x["ffn"][0] in (int(arch["embed"] * 3.5), arch["embed"] * 4)
               for x in arch["layers"])
