"""nas.Supernet, the public one-shot API: seeded scores, subnets carrying inherited weights,
save/load, and weights that load into the standalone builder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nas
import space as sp
from space import Space
from space import choice
from space import derived
from space import layer
from space import mixer
from space import patches
from space import ref
from space import repeat
from space import transformer


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hetero_space() -> Space:
    """Mixer type (attention or convolution), width, heads, ρ, FFN by a lambda and patch size."""
    heads = choice(1, 2)
    body = layer(
        choice(8, 16),
        choice(mixer(choice("softmax", "relu"), heads=heads), mixer("conv", kernel=3)),
        ffn=choice([derived(lambda w: 2 * w, "width")], [16]),
        rank_ratio=choice(None, 0.5),
    )
    return Space(
        transformer(repeat(body, choice(1, 2)), input=patches(8, choice(2, 4), 1), num_classes=10)
    )


def make(seed: int = 0, **recipe) -> nas.Supernet:
    return nas.Supernet(hetero_space(), "digits", seed=seed, scan=24, **recipe).train(steps=12)


@pytest.fixture(scope="module")
def supernet() -> nas.Supernet:
    return make()


ARCHS = [hetero_space().sample(seed) for seed in range(8)]


def test_scores_are_deterministic_under_a_seed(supernet) -> None:
    again = make()
    assert supernet.score(ARCHS) == again.score(ARCHS)
    assert all(torch.equal(v, again.weights[k]) for k, v in supernet.weights.items())
    other = make(seed=1)
    assert any(not torch.equal(v, other.weights[k]) for k, v in supernet.weights.items()
               if k in other.weights and v.shape == other.weights[k].shape)


def test_scores_are_validation_accuracies_that_training_moves(supernet) -> None:
    untrained = nas.Supernet(hetero_space(), "digits", seed=0, scan=24)
    scores = supernet.score(ARCHS)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores != untrained.score(ARCHS)


def test_subnet_output_equals_the_supernet_forward(supernet) -> None:
    x, _ = supernet.task.batch(np.random.default_rng(1), 16)
    for arch in ARCHS:
        model = supernet.subnet(arch).eval()
        assert isinstance(model, torch.nn.Module)
        with torch.no_grad():
            assert torch.allclose(model(x), supernet.forward(arch, x), atol=1e-5)


def test_subnet_weights_load_into_build_with_the_same_logits(supernet) -> None:
    x, _ = supernet.task.batch(np.random.default_rng(2), 16)
    for arch in ARCHS[:4]:
        state = supernet.subnet(arch).state_dict()
        fresh = sp.build(arch, seed=123)
        fresh.load_state_dict(state)
        with torch.no_grad():
            assert torch.allclose(fresh.eval()(x), supernet.forward(arch, x), atol=1e-5)


def test_save_load_round_trip(supernet, tmp_path) -> None:
    path = tmp_path / "supernet.pt"
    supernet.save(path)
    loaded = nas.Supernet.load(path)
    assert loaded.score(ARCHS) == supernet.score(ARCHS)
    assert loaded.recipe == supernet.recipe
    assert loaded.steps_trained == supernet.steps_trained
    assert set(loaded.weights) == set(supernet.weights)
    # The loaded space still samples (its lambda came along by value) and training goes on.
    loaded.train(steps=2)
    assert loaded.steps_trained == supernet.steps_trained + 2


def test_feasible_restricts_the_trained_subnets() -> None:
    def one_layer(arch) -> bool:
        return len(arch["layers"]) == 1

    supernet = nas.Supernet(hetero_space(), "digits", seed=0, scan=24, feasible=one_layer)
    assert len(supernet.largest["layers"]) == len(supernet.smallest["layers"]) == 1
    supernet.train(steps=3)
    # Second layers are never trained: their shared weights keep the initial values.
    assert not any(k.startswith("blocks.1.") for k in supernet.weights)


def test_a_budget_and_known_splits_are_required() -> None:
    with pytest.raises(ValueError, match="budget"):
        nas.Supernet(hetero_space(), "digits", scan=4).train()
    with pytest.raises(ValueError, match="split takes"):
        nas.Supernet(hetero_space(), "digits", split=["heads"])


def test_seconds_budget_stops_on_time() -> None:
    supernet = nas.Supernet(hetero_space(), "digits", seed=0, scan=8)
    supernet.train(seconds=1.0)
    assert supernet.steps_trained >= 1


def test_tensors_grown_after_a_backward_train_on() -> None:
    # Sized from one scanned subnet, the shared tensors grow whenever a later step draws a
    # larger one, after earlier backward passes used them at their old shapes (low-rank
    # factors and per-head layouts whose elementwise maximum no single subnet reaches).
    body = layer(ref("embed"), mixer("softmax", heads=choice(2, 4)), ffn=[16],
                 rank_ratio=ref("rank_ratio"))
    sub = Space(transformer(repeat(body, choice(1, 2)), input=patches(8, choice(2, 4), 1),
                            num_classes=10, embed=choice(16, 32), rank_ratio=choice(0.5, 0.9)))
    supernet = nas.Supernet(sub, "digits", seed=0, scan=1, random_subnets=2)
    before = {k: tuple(v.shape) for k, v in supernet.weights.items()}
    supernet.train(steps=30)
    assert supernet.steps_trained == 30
    grown = [k for k, shape in before.items() if tuple(supernet.weights[k].shape) != shape]
    assert grown
    assert all(np.isfinite(supernet.score([sub.sample(seed) for seed in range(4)])))
