"""Evaluators that cannot contradict each other: one name per meaning, no silent overwrite,
no training on another input than the space declares."""

from __future__ import annotations

import pytest

import nas
from evaluators import DEVICES
from evaluators import METRIC_UNITS
from evaluators import Compose
from evaluators import CostEvaluator
from evaluators import EvaluatorError
from evaluators import MeasuredLatencyEvaluator
from evaluators import StaticCostEvaluator
from evaluators import TrainEvaluator
from evaluators import device_metrics
from evaluators import predict
from evaluators import train
from space import Space
from space import layer
from space import mixer
from space import patches
from space import tokens
from space import transformer

from ._archs import vit


def _space(inp, **head) -> Space:
    return Space(transformer([layer(16, mixer("softmax", heads=2), ffn=[32])], input=inp,
                             **(head or {"num_classes": 10})))


def test_latency_ms_means_measured_or_calibrated_latency_only() -> None:
    for device in DEVICES:
        names = device_metrics(device)
        assert set(names) <= set(METRIC_UNITS)
        assert ("latency_ms" in names) == (device in ("cpu", "cuda", "onnxruntime-cpu")), device
        assert ("mcu_latency_ms" in names) == device.startswith("stm32"), device
    board = CostEvaluator("stm32f746")(vit())
    secure = CostEvaluator("mpc-lan")(vit())
    assert "latency_ms" not in board and board["mcu_latency_ms"] > 0
    assert "latency_ms" not in secure and secure["mpc_ms"] > 0
    # `predict` keeps the contract's `latency_ms` on every device: there it is the device's own.
    assert predict(vit(), device="stm32f746")["latency_ms"] == board["mcu_latency_ms"]
    assert predict(vit(), device="mpc-lan")["latency_ms"] == secure["mpc_ms"]
    # The measured latency and a board's costs now compose without overwriting each other.
    assert "latency_ms" in Compose(MeasuredLatencyEvaluator(), CostEvaluator("stm32f746")).metrics


def test_compose_refuses_two_makers_of_one_metric_unless_told() -> None:
    with pytest.raises(EvaluatorError, match=r"both produce 'latency_ms'.*prefer=\{'latency_ms'"):
        Compose(MeasuredLatencyEvaluator(), CostEvaluator("cpu"))
    with pytest.raises(EvaluatorError, match="position of one of the 2 evaluators"):
        Compose(StaticCostEvaluator(), CostEvaluator("mpc-lan"), prefer={"params": 2})
    with pytest.raises(EvaluatorError, match="makes \\['params', 'macs', 'flops'\\]"):
        Compose(StaticCostEvaluator(), CostEvaluator("cpu"), prefer={"latency_ms": 0})
    kept = Compose(StaticCostEvaluator(batch_size=2), CostEvaluator("mpc-lan"),
                   prefer={"params": 1, "flops": 0})
    out = kept(vit())
    assert out["flops"] == StaticCostEvaluator(batch_size=2)(vit())["flops"]
    assert kept.evaluate_many([vit(), vit()]) == [out, out]


def test_compose_of_plain_callables_refuses_a_clash_at_the_first_trial() -> None:
    clash = Compose(lambda arch: {"loss": 1.0}, lambda arch: {"loss": 2.0})
    with pytest.raises(EvaluatorError, match="both produce 'loss'"):
        clash(vit())
    assert Compose(lambda arch: {"loss": 1.0}, lambda arch: {"loss": 2.0},
                   prefer={"loss": 1})(vit()) == {"loss": 2.0}


def test_a_task_refuses_a_space_built_for_another_input() -> None:
    big = _space(patches(32, 4, 3), num_classes=100)
    with pytest.raises(nas.UserError) as caught:
        nas.Study(name="mismatch", space=big, objectives={"accuracy": "max"},
                  evaluate=Compose(TrainEvaluator("digits"), CostEvaluator("stm32f746")))
    message = str(caught.value)
    # Both sides are named, with the constructor that fixes it.
    assert "image 8×8×1 (patch 4), 10 classes" in message
    assert "image 32×32×3 (patch 4), 100 classes" in message
    assert "patches(8, 4, 1), num_classes=10" in message and "adapt=True" in message
    with pytest.raises(EvaluatorError, match="language modelling"):
        train(_space(tokens(16, 64), task="lm").sample(seed=0), "listops", steps=1,
              task_options={"max_len": 64})
    # Adapting is explicit, and a matching space needs nothing.
    nas.Study(name="adapted", space=big, objectives={"accuracy": "max"},
              evaluate=TrainEvaluator("digits", adapt=True))
    nas.Study(name="matching", space=_space(patches(8, 4, 1)), objectives={"accuracy": "max"},
              evaluate=TrainEvaluator("digits"))
