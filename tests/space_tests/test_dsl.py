from __future__ import annotations

import json

import pytest

from space import Architecture
from space import Space
from space import SpaceError
from space import choice
from space import derived
from space import integer
from space import real
from space import ref
from space import repeat
from tests.space_tests._specs import automl_space
from tests.space_tests._specs import contract_space


def test_contract_example() -> None:
    sp = contract_space()
    arch = sp.sample(seed=0)
    assert sp.contains(arch)
    assert arch["e0"] in ("conv3x3", "skip", "none")
    assert arch.to_dict() == {"e0": arch["e0"], "lr": arch["lr"]}
    assert Architecture.from_json(arch.to_json()) == arch
    assert sp.size() == 6
    assert {sp.sample(seed=s) for s in range(200)} == {
        Architecture({"e0": e, "lr": lr})
        for e in ("conv3x3", "skip", "none") for lr in (1e-3, 1e-2)
    }


def test_architecture_is_frozen_and_canonical() -> None:
    a = Architecture({"b": [1, 2], "a": {"y": 1.5, "x": None}})
    b = Architecture({"a": {"x": None, "y": 1.5}, "b": (1, 2)})
    assert a == b and hash(a) == hash(b) and a.id == b.id
    assert a.to_json() == '{"a":{"x":null,"y":1.5},"b":[1,2]}'
    a["b"].append(3)
    a.to_dict()["a"]["x"] = 5
    assert a.to_json() == b.to_json()
    assert Architecture({"x": 1}) != Architecture({"x": 1.0})
    with pytest.raises(SpaceError, match="JSON values"):
        Architecture({"x": object()})


def test_conditional_choice_counts_each_option_subspace() -> None:
    sp = Space({"op": choice({"type": "conv", "k": choice(3, 5, 7)}, {"type": "skip"}), "n": 4})
    assert sp.size() == 4
    archs = {sp.sample(seed=s) for s in range(300)}
    assert len(archs) == 4
    conv = Architecture({"op": {"type": "conv", "k": 5}, "n": 4})
    assert sp.decisions(conv) == {"op": 0, "op<conv>.k": 1}
    assert not sp.contains({"op": {"type": "skip", "k": 3}, "n": 4})


def test_repeat_heterogeneous_and_shared_sizes() -> None:
    body = {"w": choice(1, 2, 3), "act": choice("relu", "gelu")}
    hetero = Space({"layers": repeat(body, depth=choice(1, 2))})
    shared = Space({"layers": repeat(body, depth=choice(1, 2), shared=True)})
    # 6 options per layer: depth 1 gives 6, depth 2 gives 6**2 (own draw) or 6 (one draw).
    assert hetero.size() == 6 + 36
    assert shared.size() == 6 + 6
    for seed in range(50):
        layers = shared.sample(seed=seed)["layers"]
        assert all(item == layers[0] for item in layers)
    assert any(len(set(json.dumps(x) for x in hetero.sample(seed=s)["layers"])) > 1
               for s in range(50))


def test_ranges() -> None:
    sp = Space({"n": integer(8, 64, step=8), "k": integer(1, 1024, log=True)})
    assert sp.size() == 8 * 1024
    for seed in range(100):
        arch = sp.sample(seed=seed)
        assert arch["n"] % 8 == 0 and 8 <= arch["n"] <= 64
        assert 1 <= arch["k"] <= 1024
    # Log-uniform sampling puts about half the draws below sqrt(1024) = 32.
    small = sum(sp.sample(seed=s)["k"] <= 32 for s in range(400))
    assert 140 < small < 260
    cont = Space({"lr": real(1e-4, 1e-1, log=True)})
    assert all(1e-4 <= cont.sample(seed=s)["lr"] <= 1e-1 for s in range(50))
    with pytest.raises(SpaceError, match="size\\(\\) is defined only for discrete"):
        cont.size()


def test_ref_and_derived_tie_values() -> None:
    sp = Space({"width": choice(64, 128),
                "layers": repeat({"w": ref("width"), "heads": choice(2, 4),
                                  "head_dim": derived(lambda w, h: w // h, "w", "heads")},
                                 depth=2)})
    assert sp.size() == 2 * 4
    arch = sp.sample(seed=3)
    assert all(x["w"] == arch["width"] and x["head_dim"] == x["w"] // x["heads"]
               for x in arch["layers"])
    bad = arch.to_dict()
    bad["layers"][0]["w"] = 64 if arch["width"] == 128 else 128
    assert not sp.contains(bad)
    # One slot for the width and one per layer for heads; the constant depth takes none.
    assert len(sp.encode(arch)) == sp.encoding_size == 1 + 2


def test_draw_hands_every_decision_to_the_chooser() -> None:
    sp = automl_space()
    seen = []

    def choose(key, decision):
        seen.append(key)
        return decision.low if hasattr(decision, "low") else len(decision.options) - 1

    arch = sp.draw(choose)
    assert seen == ["optimizer", "optimizer<1>.beta2", "lr", "batch", "blocks.depth",
                    "blocks[0].kind", "blocks[0].size", "blocks[1].kind", "blocks[1].size",
                    "blocks[2].kind", "blocks[2].size"]
    assert arch["optimizer"] == {"name": "adam", "beta2": 0.999}
    assert sp.contains(arch)


def test_mutate_changes_exactly_one_decision_on_fixed_structure() -> None:
    sp = Space({f"x{i}": choice(0, 1, 2) for i in range(6)})
    arch = sp.sample(seed=0)
    for seed in range(30):
        child = sp.mutate(arch, seed=seed)
        assert sp.contains(child)
        assert sum(child[k] != arch[k] for k in arch) == 1


def test_neighbors_are_one_decision_away() -> None:
    sp = Space({"a": choice(1, 2, 3), "b": integer(0, 10), "c": choice("x", "y")})
    arch = Architecture({"a": 2, "b": 0, "c": "x"})
    assert sp.neighbors(arch) == [
        Architecture({"a": 1, "b": 0, "c": "x"}),
        Architecture({"a": 3, "b": 0, "c": "x"}),
        Architecture({"a": 2, "b": 1, "c": "x"}),
        Architecture({"a": 2, "b": 0, "c": "y"}),
    ]


def test_space_hash_follows_the_spec() -> None:
    assert contract_space().hash == contract_space().hash
    other = Space({"e0": choice("conv3x3", "skip"), "lr": choice(1e-3, 1e-2)})
    assert other.hash != contract_space().hash


def test_architecture_outside_the_space_is_refused() -> None:
    sp = contract_space()
    with pytest.raises(SpaceError, match="not in this space"):
        sp.encode({"e0": "conv5x5", "lr": 1e-3})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"a": choice()}, "a: choice\\(\\) needs at least one option"),
        ({"a": {"b": choice(1, set())}}, "a.b<1>: a spec holds only"),
        ({"a": repeat(1, depth=choice(0, 2))}, "a.depth: a repeat depth must be a positive"),
        ({"a": integer(5, 1)}, "a: integer\\(\\) needs low <= high"),
        ({"a": real(0.0, 1.0, log=True)}, "a: real\\(\\) needs low <= high and low > 0"),
        ({"a": float("nan")}, "a: values must be finite"),
    ],
)
def test_invalid_specs_name_the_path(spec, message) -> None:
    with pytest.raises(SpaceError, match=message):
        Space(spec)


def test_space_error_is_a_value_error() -> None:
    assert issubclass(SpaceError, ValueError)
    with pytest.raises(SpaceError, match="built from a dict"):
        Space([choice(1, 2)])


def test_conditional_names_spaces_whose_decisions_come_and_go():
    assert not Space({"a": choice(1, 2, 3), "b": choice(4, 5)}).conditional
    assert Space({"a": choice({"x": choice(1, 2)}, 3)}).conditional
    assert Space({"l": repeat({"w": choice(1, 2)}, choice(1, 2))}).conditional
    assert not Space({"l": repeat({"w": choice(1, 2)}, 2)}).conditional
    assert not Space({"l": repeat({"w": choice(1, 2)}, choice(1, 2), shared=True)}).conditional
