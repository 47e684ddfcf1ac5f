"""The Optuna wrappers' own contract beyond the shared one: what they hand the sampler."""

from __future__ import annotations

import pytest

from space import Constraint
from tests.nas_tests.searchers_tests.test_conformance import build
from tests.nas_tests.searchers_tests.test_conformance import feasible
from tests.nas_tests.searchers_tests.test_conformance import score


def _run(searcher, rounds: int = 5):
    for _ in range(rounds):
        for arch in searcher.ask(2):
            searcher.tell(arch, {"accuracy": score(arch), "sram_kb": 10.0})
    return searcher.study.trials


@pytest.mark.parametrize("name", ["tpe", "nsga2", "gp"])
def test_violations_reach_the_sampler_only_when_the_search_is_constrained(name) -> None:
    # GPSampler fits one more Gaussian process per ask for any constraint it is given.
    plain = _run(build(name))
    assert plain and all(not t.constraints for t in plain if t.state.is_finished())
    by_metric = _run(build(name, constraints=[Constraint("sram_kb", "<=", 5)]))
    # sram_kb 10 against a limit of 5: a violation of 5.
    assert all(t.constraints == {"violation": 5.0} for t in by_metric if t.state.is_finished())
    by_model = _run(build(name, feasible=feasible))
    assert by_model and all("violation" in t.constraints for t in by_model
                            if t.state.is_finished())
