from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluators import AssociativeRecallTask
from evaluators import Compose
from evaluators import CostEvaluator
from evaluators import EvaluatorError
from evaluators import ListOpsTask
from evaluators import StdlibLMTask
from evaluators import TrainEvaluator
from evaluators import train
from evaluators._tasks import listops_tokens
from evaluators._tasks import listops_value

from ._archs import layer


def _arch(width: int = 64, depth: int = 2) -> dict:
    lay = layer(width, {"type": "softmax", "heads": 4, "head_dim": width // 4}, [2 * width])
    # Trained with adapt=True: the task replaces input, task and head; only the layers matter.
    return {"family": "transformer", "task": "classify", "causal": False,
            "input": {"type": "tokens", "vocab": 2, "seq_len": 2}, "num_classes": 2,
            "pool": "mean", "layers": [lay] * depth}


def test_digits_vit_beats_chance_and_reports() -> None:
    seen: list[tuple[str, int, float]] = []
    arch = _arch()
    arch["input"] = {"type": "image", "image_size": 8, "channels": 1, "patch": 4}
    out = TrainEvaluator("digits", steps=100, lr=3e-3, batch_size=64, adapt=True)(
        arch, report=lambda *r: seen.append(r))
    assert out["accuracy"] > 0.6  # chance 0.10
    assert set(out) >= {"accuracy", "loss", "train_s"}
    assert [s[:2] for s in seen] == [("accuracy", 25), ("accuracy", 50), ("accuracy", 75)]


def test_listops_rules() -> None:
    # MAX 3 (MIN 7 2) (SM 9 4) (MED 1 5 8)
    tree = (1, [3, (0, [7, 2]), (3, [9, 4]), (2, [1, 5, 8])])
    assert listops_value(tree) == 5
    assert listops_tokens((3, [9, 4])) == [14, 10, 5, 15]
    task = ListOpsTask(max_len=512, n_validation=20)
    x, y = task.validation()[0]
    assert x.shape == (20, 512) and int(y.max()) <= 9
    with pytest.raises(EvaluatorError, match="512"):
        ListOpsTask(max_len=1000)


def test_listops_small_beats_the_majority_class() -> None:
    task = ListOpsTask.small()
    majority = np.bincount(task.validation()[0][1].numpy()).max() / 256
    out = train(_arch(), task, steps=120, lr=3e-3, batch_size=32, adapt=True)
    assert out.metrics["accuracy"] > majority + 0.15


def test_associative_recall_learns_the_pairs() -> None:
    task = AssociativeRecallTask(pairs=4, keys=16, values=16, n_validation=256)
    x, y = task.validation()[0]
    assert (y[:, :8] == -100).all() and (y[:, 8:] >= 16).all()
    out = train(_arch(), task, steps=120, lr=3e-3, batch_size=64, adapt=True)
    assert out.metrics["accuracy"] > 0.3  # chance 1/16


def test_stdlib_lm_beats_unigram() -> None:
    task = StdlibLMTask(seq_len=32, n_validation=64, max_bytes=500_000)
    out = train(_arch(32), task, steps=80, lr=3e-3, batch_size=32, adapt=True)
    assert out.metrics["perplexity"] < 0.8 * task.unigram_perplexity()


def test_seeded_runs_repeat_and_warm_start_copies_matching_tensors() -> None:
    task = AssociativeRecallTask(pairs=2, keys=8, values=8, n_validation=32)
    a = train(_arch(32), task, steps=5, seed=3, adapt=True)
    b = train(_arch(32), task, steps=5, seed=3, adapt=True)
    assert a.metrics["loss"] == b.metrics["loss"]
    deeper = train(_arch(32, depth=3), task, steps=1, init=a.state_dict, adapt=True)
    assert 0.4 < deeper.metrics["warm_start_fraction"] < 1.0
    same = train(_arch(32), task, steps=0, init=a.state_dict, adapt=True)
    assert same.metrics["warm_start_fraction"] == 1.0
    assert all(torch.equal(v, a.state_dict[k]) for k, v in same.state_dict.items())


def test_time_budget_and_compose() -> None:
    ev = Compose(TrainEvaluator("mqar", steps=None, seconds=0.5,
                                task_options={"pairs": 2, "keys": 8, "values": 8,
                                              "n_validation": 16}, adapt=True),
                 CostEvaluator("stm32f746"))
    out = ev(_arch(32))
    assert out["train_s"] < 5 and "sram_kb" in out and "perplexity" in out
    assert ev.metrics[:4] == ("accuracy", "loss", "perplexity", "train_s")
    with pytest.raises(EvaluatorError, match="budget"):
        train(_arch(32), "digits", adapt=True)
