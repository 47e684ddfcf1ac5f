"""The oneshot searcher: supernet slicing and training, and the searcher contract on a
transformer space (the shared conformance suite's spaces are not transformer spaces)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nas.searchers import make_searcher
from nas.searchers._objectives import pareto_ranks
from nas.searchers._oneshot import Supernet
from space import Space
from space import choice
from space import layer
from space import mixer
from space import patches
from space import repeat
from space import transformer
from tests.nas_tests.searchers_tests._drive import drive as shared_drive

OPTIONS = {"supernet_steps": 15, "population": 6, "generations": 1}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def vit_space() -> Space:
    """Depth 1-2 of (width, heads, mixer type, FFN, ρ) and patch 2 or 4: 1,764 subnets."""
    body = layer(
        choice(8, 16),
        mixer(choice("softmax", "relu"), heads=choice(1, 2)),
        ffn=choice([16], [32]),
        rank_ratio=choice(None, 0.5),
    )
    return Space(
        transformer(repeat(body, choice(1, 2)), input=patches(8, choice(2, 4), 1), num_classes=10)
    )


def feasible(arch) -> bool:
    """A stand-in for a cheap hard constraint: no 2-layer model of width 16 first."""
    return not (len(arch["layers"]) == 2 and arch["layers"][0]["width"] == 16)


def build(seed: int = 0, objectives=None, **kwargs):
    return make_searcher(
        "oneshot",
        space=vit_space(),
        objectives=objectives or {"accuracy": "max"},
        seed=seed,
        **{**OPTIONS, **kwargs},
    )


def drive(searcher, rounds: int, n: int = 3) -> list[str]:
    return shared_drive(searcher, rounds, lambda arch: 0.1 * len(arch["layers"]), n)


@pytest.fixture(scope="module")
def trained() -> tuple[Supernet, list]:
    # The one largest subnet as teacher, so the test below can watch it learn.
    supernet = Supernet(vit_space(), "digits", seed=0, scan=32, lr=1e-2, teacher="largest")
    big, small = supernet.largest, supernet.smallest
    before = supernet.evaluate(big)["accuracy"]
    # A high learning rate: these widths learn slowly at the standalone recipe's 1e-3.
    supernet.train(steps=60)
    return supernet, [before, big, small]


def test_a_subnet_equals_a_standalone_model_loaded_with_its_slices(trained) -> None:
    supernet, _ = trained
    space = vit_space()
    x, _ = supernet.task.batch(np.random.default_rng(1), 16)
    for seed in range(6):
        arch = space.sample(seed)
        model = supernet.subnet(arch).eval()
        with torch.no_grad():
            assert torch.allclose(model(x), supernet.forward(arch, x), atol=1e-5)


def test_fewer_heads_inherit_whole_heads(trained) -> None:
    supernet, _ = trained
    arch = vit_space().sample(3)
    a = arch.to_dict()
    a["layers"] = a["layers"][:1]
    a["layers"][0].update(width=8, rank_ratio=None)
    a["layers"][0]["mixer"] = {"type": "softmax", "heads": 1, "head_dim": 8}
    params = supernet.params(a)
    shared = supernet.weights["blocks.0.mixer@softmax.inp.weight"]
    q, k, _ = params["blocks.0.mixer.inp.weight"].detach().chunk(3)
    # The shared tensor is (q/k/v, head, head_dim, width): k of head 0 is not q's next rows.
    assert torch.equal(q, shared[0, 0, :8, :8].detach())
    assert torch.equal(k, shared[1, 0, :8, :8].detach())


def test_sandwich_training_lifts_the_largest_subnet_above_chance(trained) -> None:
    supernet, (before, big, small) = trained
    after = supernet.evaluate(big)["accuracy"]
    assert before < 0.2 < after


def test_subnets_larger_than_the_scan_grow_the_shared_weights() -> None:
    space = vit_space()
    # A scan of 4 samples misses most shapes; training grows the tensors as subnets turn up.
    supernet = Supernet(space, "digits", seed=0, scan=4)
    before = {k: v.detach().clone() for k, v in supernet.weights.items()}
    # Growth in the middle of sandwich training also pads the gradients and Adam's moments.
    supernet.train(steps=8)
    x, _ = supernet.task.batch(np.random.default_rng(0), 4)
    for seed in range(20):
        assert torch.isfinite(supernet.forward(space.sample(seed), x)).all()
    grown = [k for k, v in before.items() if supernet.weights[k].shape != v.shape]
    assert grown
    for key in grown:
        kept = supernet.weights[key][tuple(slice(0, n) for n in before[key].shape)]
        assert kept.shape == before[key].shape


def test_same_seed_same_asks() -> None:
    assert drive(build(seed=3), 3) == drive(build(seed=3), 3)


def test_state_round_trip_continues_without_retraining() -> None:
    original = build(seed=1, feasible=feasible)
    drive(original, 2)
    state = json.loads(json.dumps(original.state_dict()))
    restored = build(seed=1, feasible=feasible)
    restored.load_state_dict(state)
    restored.warm_start((r.arch, r.metrics) for r in original.history)
    assert restored.pending == original.pending
    assert [a.id for a in restored.ask(3)] == [a.id for a in original.ask(3)]
    assert restored.supernet is None
    # Past the ranked list it retrains (seeded) and evolves exactly as the original.
    assert [a.id for a in restored.ask(8)] == [a.id for a in original.ask(8)]


def test_checkpoint_keeps_the_best_and_the_untold_only() -> None:
    # Each exhausted ranked list evolves one more generation; told candidates outside the best
    # would otherwise pile up in the checkpoint with every trial of the study.
    searcher = build()
    sizes = []
    for _ in range(8):
        for arch in searcher.ask(4):
            searcher.tell(arch, {"accuracy": 0.5})
        sizes.append(len(searcher.state_dict()["extra"]["scored"]))
    assert len(searcher.history) == 32
    assert max(sizes) <= OPTIONS["population"] * (2 + OPTIONS["generations"]), sizes


def test_asks_are_distinct_feasible_and_follow_the_ranking() -> None:
    searcher = build(feasible=feasible)
    space, seen = searcher.space, set()
    for _ in range(6):
        batch = searcher.ask(4)
        assert len(batch) == len(set(batch)) == 4
        assert all(space.contains(a) and feasible(a) for a in batch)
        assert not seen & set(batch)
        seen |= set(batch)
        for arch in batch[:2]:
            searcher.tell(arch, {"accuracy": 0.5})
    assert all(feasible(a) for a in searcher.scores)
    ranked = list(searcher.scores)
    first = searcher.scores[ranked[0]]["accuracy"]
    assert first == max(m["accuracy"] for m in searcher.scores.values())


def test_failures_and_nan_are_tolerated() -> None:
    searcher = build()
    failed = set()
    for i in range(4):
        for j, arch in enumerate(searcher.ask(3)):
            if j == 0:
                searcher.tell_failure(arch, "out of memory")
                failed.add(arch)
            elif j == 1 and i % 2:
                searcher.tell(arch, {"accuracy": math.nan})
                failed.add(arch)
            else:
                searcher.tell(arch, {"accuracy": 0.5})
    assert not failed & set(searcher.ask(3))
    assert sum(not r.ok for r in searcher.history) == 6


def test_two_objectives_rank_by_pareto_front() -> None:
    searcher = build(objectives={"accuracy": "max", "params": "min", "latency_ms": "min"})
    searcher.ask(2)
    scores = searcher.scores
    points = np.array([[-m["accuracy"], m["params"]] for m in scores.values()])
    assert list(pareto_ranks(points)) == sorted(pareto_ranks(points))


def test_non_transformer_space_is_refused_with_the_fix() -> None:
    space = Space({"layers": repeat({"width": choice(8, 16)}, choice(1, 2))})
    with pytest.raises(ValueError, match="needs a transformer space.*Use another searcher"):
        make_searcher("oneshot", space=space, objectives={"accuracy": "max"})
