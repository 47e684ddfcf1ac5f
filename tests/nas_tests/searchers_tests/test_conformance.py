"""The searcher contract, run against every registered searcher."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import nas
from nas.searchers import PoolSpace
from nas.searchers import make_searcher
from nas.searchers import searcher_names
from space import Space
from space import choice
from space import repeat
from tests.nas_tests.searchers_tests._drive import drive as shared_drive

ROOT = Path(__file__).resolve().parents[3]
# Searchers that cannot run on these small non-transformer spaces, with the reason; each has its
# own contract tests on a space it supports, and test_excluded_searchers_refuse_the_space keeps
# the exclusion honest.
EXCLUDED = {
    "oneshot": "builds a weight-sharing supernet, so it needs a transformer space; the same "
    "contract is tested on a small ViT space in test_oneshot.py",
}
NAMES = [name for name in searcher_names() if name not in EXCLUDED]
# Small enough that BOSHNAS's surrogates take over within a test.
OPTIONS = {
    "boshnas": {"n_init": 4},
    "tpe": {"n_startup_trials": 4},
    "nsga2": {"population_size": 4},
    "gp": {"n_startup_trials": 4},
}


def small_space() -> Space:
    """40 architectures: 1 or 2 layers of (width, activation), and a learning rate."""
    body = {"width": choice(8, 16), "act": choice("relu", "gelu")}
    return Space({"layers": repeat(body, choice(1, 2)), "lr": choice(0.1, 0.01)})


def score(arch) -> float:
    return sum(
        layer["width"] * (1 + (layer["act"] == "gelu")) for layer in arch["layers"]
    ) / 64 + (arch["lr"] == 0.01)


def feasible(arch) -> bool:
    return not (len(arch["layers"]) == 1 and arch["lr"] == 0.1)


def build(name: str, seed: int = 0, space=None, **kwargs):
    return make_searcher(
        name,
        space=space or small_space(),
        objectives={"accuracy": "max"},
        seed=seed,
        **{**OPTIONS.get(name, {}), **kwargs},
    )


def drive(searcher, rounds: int, n: int = 3) -> list[str]:
    return shared_drive(searcher, rounds, score, n)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_asks(name: str) -> None:
    assert drive(build(name, seed=3), 4) == drive(build(name, seed=3), 4)


def restore(name: str, original, **kwargs):
    """What a resumed run does: the saved state, then every told result from the trials."""
    restored = build(name, **kwargs)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    restored.warm_start((r.arch, r.metrics) for r in original.history)
    return restored


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip_gives_the_same_next_asks(name: str) -> None:
    original = build(name, seed=1, feasible=feasible)
    drive(original, 4)
    restored = restore(name, original, seed=1, feasible=feasible)
    assert restored.pending == original.pending
    assert [r.arch for r in restored.history] == [r.arch for r in original.history]
    for _ in range(3):
        batch = original.ask(3)
        assert [a.id for a in restored.ask(3)] == [a.id for a in batch]
        for arch in batch:
            original.tell(arch, {"accuracy": score(arch)})
            restored.tell(arch, {"accuracy": score(arch)})


def wide_space() -> Space:
    """About 10^9 architectures, so 1,000 told results never exhaust it."""
    body = {"width": choice(*range(8, 72, 8)), "act": choice("relu", "gelu", "silu")}
    return Space({"layers": repeat(body, choice(4, 5, 6)), "lr": choice(0.1, 0.01, 0.001)})


def checkpoint_size(name: str, told: int) -> int:
    space = wide_space()
    searcher = build(name, space=space)
    # The study's results reach the searcher as a resume does; a few asks then exercise the
    # searcher's model (surrogates, kernels, population) on all of them.
    searcher.warm_start((space.sample(10_000 + i), {"accuracy": float(i % 97)})
                        for i in range(told))
    for arch in searcher.ask(2):
        searcher.tell(arch, {"accuracy": score(arch)})
    searcher.ask(2)
    return len(json.dumps(searcher.state_dict()))


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_does_not_grow_with_the_study(name: str) -> None:
    small, large = checkpoint_size(name, 10), checkpoint_size(name, 1000)
    assert large <= max(1.5 * small, small + 4096), (small, large)


@pytest.mark.parametrize("name", NAMES)
def test_ask_gives_n_distinct_feasible_new_architectures(name: str) -> None:
    searcher = build(name, feasible=feasible)
    space, seen = searcher.space, set()
    for _ in range(5):
        batch = searcher.ask(4)
        assert len(batch) == 4
        assert len(set(batch)) == 4
        assert all(space.contains(a) and feasible(a) for a in batch)
        assert not seen & set(batch)
        seen |= set(batch)
        for arch in batch[:2]:
            searcher.tell(arch, {"accuracy": score(arch)})


@pytest.mark.parametrize("name", NAMES)
def test_exhausts_the_feasible_space_without_violating_constraints(name: str) -> None:
    searcher = build(name, feasible=feasible)
    everything = []
    for _ in range(30):
        batch = searcher.ask(5)
        if not batch:
            break
        assert all(feasible(a) for a in batch)
        everything += batch
        for arch in batch:
            searcher.tell(arch, {"accuracy": score(arch)})
    assert len(everything) == len(set(everything)) == 36
    assert searcher.ask(2) == []


@pytest.mark.parametrize("name", NAMES)
def test_failures_and_nan_are_tolerated(name: str) -> None:
    searcher = build(name)
    failed = set()
    for i in range(6):
        for j, arch in enumerate(searcher.ask(3)):
            if j == 0:
                searcher.tell_failure(arch, "CUDA out of memory")
            elif j == 1 and i % 2:
                searcher.tell(arch, {"accuracy": math.nan})
            elif j == 1:
                searcher.tell(arch, {"loss": 1.0})
            else:
                searcher.tell(arch, {"accuracy": score(arch)})
                continue
            failed.add(arch)
    assert not failed & set(searcher.ask(3))
    assert sum(not r.ok for r in searcher.history) == 12


@pytest.mark.parametrize("name", NAMES)
def test_two_objectives_and_warm_start(name: str) -> None:
    space = small_space()
    searcher = make_searcher(
        name,
        space=space,
        objectives={"accuracy": "max", "latency_ms": "min"},
        seed=0,
        **OPTIONS.get(name, {}),
    )
    records = [(space.sample(i), None) for i in range(2)]
    records += [
        {"arch": a.to_dict(), "metrics": {"accuracy": score(a), "latency_ms": score(a) ** 2}}
        for a in (space.sample(10 + i) for i in range(4))
    ]
    searcher.warm_start(records)
    for _ in range(4):
        for arch in searcher.ask(3):
            searcher.tell(arch, {"accuracy": score(arch), "latency_ms": len(arch["layers"])})
    assert len(searcher.history) >= 12


@pytest.mark.parametrize("name", NAMES)
def test_pool_space_keeps_to_its_members(name: str) -> None:
    space = small_space()
    members = [space.sample(i) for i in range(40)][:12]
    pool = PoolSpace(space, members)
    searcher = build(name, space=pool)
    got = []
    while batch := searcher.ask(4):
        got += batch
        for arch in batch:
            searcher.tell(arch, {"accuracy": score(arch)})
    assert sorted(a.id for a in got) == sorted({a.id for a in members})


def test_gp_fits_once_per_proposal_even_when_it_keeps_proposing_told_architectures() -> None:
    # Each sampler draw is a Gaussian-process fit and acquisition search; retrying draws that land
    # on told architectures made one ask cost tens of CPU seconds once the GP had converged.
    searcher = build("gp", feasible=feasible)
    sampler = searcher.study.sampler
    fits = []
    fit = sampler.sample_relative
    sampler.sample_relative = lambda *args: fits.append(1) or fit(*args)
    asked = 0
    for _ in range(8):
        batch = searcher.ask(4)
        asked += 4
        for arch in batch:
            searcher.tell(arch, {"accuracy": score(arch)})
    assert searcher.study.sampler is sampler, "the sampler is kept for the whole run"
    # One draw per proposal (retrying up to eight made 89 draws here).
    assert 0 < len(fits) <= asked


def test_the_study_between_asks_is_the_one_a_restore_rebuilds() -> None:
    # Draws an ask tells at once (told or infeasible architectures) and pending trials leave the
    # live study when the ask ends, so it holds the told results in told order, as a rebuild does.
    original = build("tpe", seed=2, feasible=feasible)
    drive(original, 5)
    restored = restore("tpe", original, seed=2, feasible=feasible)
    live, rebuilt = original.study.trials, restored.study.trials
    assert len(live) == len(original.history)
    assert [(t.number, t.state, t.values, t.params, t.system_attrs) for t in live] == [
        (t.number, t.state, t.values, t.params, t.system_attrs) for t in rebuilt]


@pytest.mark.parametrize("name", sorted(EXCLUDED))
def test_excluded_searchers_refuse_the_space(name: str) -> None:
    with pytest.raises(ValueError, match="Use another searcher"):
        build(name)


def test_unknown_searcher_lists_the_names() -> None:
    with pytest.raises(ValueError, match=r"Unknown searcher 'tpee'\. Must be one of \["):
        make_searcher("tpee", space=small_space(), objectives={"accuracy": "max"})
    assert nas.make_searcher is make_searcher


def test_boshnas_asks_the_same_in_another_process() -> None:
    code = (
        "import json; from tests.nas_tests.searchers_tests.test_conformance import build, drive;"
        "print(json.dumps(drive(build('boshnas', seed=5), 3)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == drive(build("boshnas", seed=5), 3)


def test_boshnas_weight_transfer_hook_finds_the_nearest_trained_neighbour() -> None:
    searcher = build("boshnas")
    drive(searcher, 3)
    told = [r.arch for r in searcher.history]
    neighbour, overlap = searcher.warm_start_from(told[0], min_overlap=0.0)
    assert neighbour in told[1:] and 0.0 <= overlap <= 1.0
    assert searcher.warm_start_from(told[0], min_overlap=1.01) == (None, overlap)


def test_registering_a_searcher_and_overwriting_warns() -> None:
    from nas import BaseSearcher
    from nas import register_searcher

    with pytest.raises(TypeError):
        BaseSearcher(space=small_space(), objectives={"accuracy": "max"})

    @register_searcher("first-only")
    class FirstOnly(BaseSearcher):
        def _suggest(self, n):
            return self._random_fill(n, self._rng(), [])

    with pytest.warns(UserWarning, match="replacing it"):
        register_searcher("first-only")(type("Other", (FirstOnly,), {}))
    searcher = make_searcher("first-only", space=small_space(), objectives={"accuracy": "max"})
    assert len(searcher.ask(3)) == 3
    with pytest.raises(ValueError, match="belongs to searcher 'first-only'"):
        build("random").load_state_dict(searcher.state_dict())
