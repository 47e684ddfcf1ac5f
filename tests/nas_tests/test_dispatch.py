"""What a worker task does with a batch: one ``evaluate_many`` call, per-trial fallbacks,
timeouts, pruning and metric checks (``evaluate_batch`` run in this process)."""

from __future__ import annotations

import math
import time

from evaluators import BaseEvaluator
from evaluators import Compose
from evaluators import StaticCostEvaluator
from nas._dispatch import evaluate_batch
from nas._pruners import Cutoffs
from space import Architecture
from space import Space
from space import choice
from space import layer
from space import mixer
from space import tokens
from space import transformer

SPACE = Space({"a": choice(*range(10))})


class Doubler(BaseEvaluator):
    """Prices a list in one call; ``calls`` records the size of each call."""

    metrics = ("double",)

    def __init__(self, slow_a: int | None = None) -> None:
        self.slow_a = slow_a
        self.calls: list[int] = []

    def __call__(self, arch, report=None) -> dict[str, float]:
        self.calls.append(1)
        if arch["a"] == self.slow_a:
            time.sleep(5)
        if arch["a"] == 7:
            raise ValueError("seven")
        return {"double": 2.0 * arch["a"]}

    def evaluate_many(self, archs):
        self.calls.append(len(archs))
        return [{"double": 2.0 * a["a"]} if a["a"] != 7 else self(a) for a in archs]


class SlowBatches(Doubler):
    def evaluate_many(self, archs):
        time.sleep(5)
        return super().evaluate_many(archs)


def jsons(*values: int) -> list[str]:
    return [Architecture({"a": v}).to_json() for v in values]


def test_a_batch_is_priced_in_one_call():
    doubler = Doubler()
    out = evaluate_batch(doubler, jsons(1, 2, 3), None)
    assert doubler.calls == [3]
    assert [r["metrics"] for r in out] == [{"double": 2.0}, {"double": 4.0}, {"double": 6.0}]
    assert all(r["error"] is None and not r["pruned"] and r["values"] == [] for r in out)


def test_a_failing_batch_is_evaluated_trial_by_trial():
    doubler = Doubler()
    out = evaluate_batch(doubler, jsons(1, 7, 3), None)
    assert doubler.calls == [3, 1, 1, 1, 1]
    assert out[0]["metrics"] == {"double": 2.0} and out[2]["metrics"] == {"double": 6.0}
    assert out[1]["metrics"] is None and "ValueError: seven" in out[1]["error"]


def test_a_batch_over_its_limit_times_only_the_slow_trial_out():
    start = time.monotonic()
    # The batch may take 3 x 0.5 s; then each trial runs again under its own 0.5 s.
    out = evaluate_batch(SlowBatches(slow_a=2), jsons(1, 2, 3), 0.5)
    assert [r["error"] for r in out] == [None, "timeout after 0.5 s", None]
    assert out[0]["metrics"] == {"double": 2.0}
    assert time.monotonic() - start < 4.5


def test_reports_are_kept_and_cutoffs_stop_the_trial():
    def curve(arch, report=None):
        for step in (1, 2, 3):
            report("acc", step, arch["a"] * step)
        report("acc", 4, math.nan)
        return {"acc": 1.0}

    cutoffs = Cutoffs("acc", "max", {2: 5})
    good, bad = evaluate_batch(curve, jsons(3, 2), None, cutoffs)
    assert good["metrics"] == {"acc": 1.0} and not good["pruned"]
    # The NaN at step 4 has no cutoff, and no place in the database.
    assert good["values"] == [("acc", 1, 3.0), ("acc", 2, 6.0), ("acc", 3, 9.0)]
    assert bad["pruned"] and bad["metrics"] is None and bad["error"] is None
    assert bad["values"] == [("acc", 1, 2.0), ("acc", 2, 4.0)]


def test_non_finite_metrics_are_trial_errors():
    out = evaluate_batch(lambda arch: {"loss": math.inf, "x": 1}, jsons(1), None)
    assert out[0]["metrics"] is None
    assert out[0]["error"].startswith("evaluate returned loss=inf; metrics must be finite")


def test_compose_prices_lists_like_its_parts_one_by_one():
    sp = Space(transformer([layer(choice(16, 32), mixer("softmax", heads=2), ffn=[32])],
                           input=tokens(50, 8), num_classes=2))
    archs = [sp.sample(seed=i) for i in range(4)]
    composed = Compose(StaticCostEvaluator(), lambda arch: {"width": arch["layers"][0]["width"]})
    assert composed.evaluate_many(archs) == [composed(arch) for arch in archs]
