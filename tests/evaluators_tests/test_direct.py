from __future__ import annotations

from evaluators import Compose
from evaluators import MeasuredLatencyEvaluator
from evaluators import StaticCostEvaluator
from space import Space
from space import build
from space import layer
from space import mixer
from space import tokens
from space import transformer


def _arch(width: int, depth: int):
    spec = transformer([layer(width, mixer("softmax", heads=2), ffn=[2 * width])] * depth,
                       input=tokens(64, 64), num_classes=3)
    return Space(spec).sample(seed=0)


def test_static_costs_match_the_built_model() -> None:
    arch = _arch(32, 2)
    metrics = StaticCostEvaluator(batch_size=4)(arch)
    assert metrics["params"] == sum(p.numel() for p in build(arch).parameters())
    assert metrics["flops"] == 2 * metrics["macs"] > 0
    assert StaticCostEvaluator(batch_size=8)(arch)["macs"] == 2 * metrics["macs"]


def test_measured_latency_orders_a_small_and_a_large_model() -> None:
    measure = MeasuredLatencyEvaluator(batch_size=4, repeats=5)
    small = measure(_arch(16, 1))["latency_ms"]
    large = measure(_arch(256, 4))["latency_ms"]
    # About 500x the MACs; the ordering survives any timing noise on a shared machine.
    assert 0 < small < large


def test_they_compose_with_declared_metrics() -> None:
    both = Compose(StaticCostEvaluator(), MeasuredLatencyEvaluator(repeats=3))
    assert both.metrics == ("params", "macs", "flops", "latency_ms")
    assert set(both(_arch(16, 1))) == set(both.metrics)
