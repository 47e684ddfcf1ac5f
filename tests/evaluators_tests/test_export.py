"""Weights files and model export: ONNX (run by ONNX Runtime), TorchScript, weights files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

import evaluators
import space
from tests.evaluators_tests._archs import MIXERS
from tests.evaluators_tests._archs import layer
from tests.evaluators_tests._archs import text
from tests.evaluators_tests._archs import vit

pytest.importorskip("onnxruntime")


def _random_arch(mixer: str, seed: int) -> dict:
    """A two-layer model with ``mixer`` first, random widths, causal or not, text or image."""
    rng = np.random.default_rng(seed)
    width = int(rng.choice([32, 64]))
    second = MIXERS[str(rng.choice(["softmax", "conv", "linear"]))]
    if mixer in ("softmax", "relu", "scale") and rng.random() < 0.5:
        return vit(width, depth=2, mixer=MIXERS[mixer])
    arch = text([layer(width, MIXERS[mixer], [int(rng.choice([64, 128]))]),
                 layer(width, second)], seq_len=int(rng.choice([16, 32])))
    arch["causal"] = bool(rng.random() < 0.5) and mixer not in ("dft", "dct")
    return arch


@pytest.mark.parametrize("mixer", sorted(MIXERS))
def test_onnx_and_torchscript_match_the_module(mixer: str, tmp_path: Path) -> None:
    arch = _random_arch(mixer, seed=len(mixer))
    model = space.build(arch, seed=3).eval()
    state = model.state_dict()
    onnx_file = tmp_path / "m.onnx"
    result = evaluators.export_model(arch, onnx_file, "onnx", state_dict=state, batch_size=2)
    assert result["max_rel_error"] <= evaluators._export.TOLERANCE
    # The batch axis is dynamic: another batch size runs and matches too.
    x = model.example_input(3)
    with torch.no_grad():
        reference = model(x).numpy()
    got = evaluators.onnx_run(onnx_file, x.numpy())
    assert np.abs(got - reference).max() <= 1e-4 * np.abs(reference).max()
    script = evaluators.export_model(arch, tmp_path / "m.ts", "torchscript", state_dict=state)
    assert script["max_rel_error"] <= evaluators._export.TOLERANCE


def test_weights_files_round_trip_and_refuse_changes(tmp_path: Path) -> None:
    arch = vit(32, depth=1)
    model = space.build(arch, seed=5)
    saved = evaluators.save_weights(arch, model.state_dict(), tmp_path)
    path = Path(saved["path"])
    assert path.parent == tmp_path / "weights" and path.name.endswith(evaluators.WEIGHTS_SUFFIX)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == saved["sha256"]
    # Equal weights: the same file, not a second one.
    assert evaluators.save_weights(arch, model.state_dict(), tmp_path) == saved
    back, state = evaluators.load_weights(path, saved["sha256"])
    assert back == arch
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(evaluators.EvaluatorError, match="changed since it was recorded"):
        evaluators.load_weights(path, saved["sha256"])
    with pytest.raises(evaluators.EvaluatorError, match="Unknown export format 'tflite'"):
        evaluators.export_model(arch, tmp_path / "m", "tflite")


def test_train_evaluator_keeps_the_trained_weights(tmp_path: Path) -> None:
    arch = vit(32, depth=1, patch=4, image=8)
    arch["input"]["channels"] = 1
    plain = evaluators.TrainEvaluator("digits", steps=3)(arch)
    assert evaluators._base.artifacts_of(plain) == []
    kept = evaluators.TrainEvaluator("digits", steps=3, keep_weights=True,
                                     artifact_root=str(tmp_path))(arch)
    assert dict(kept) == pytest.approx({**plain, "train_s": kept["train_s"]})
    [file] = kept.artifacts
    back, state = evaluators.load_weights(file["path"], file["sha256"])
    trained = evaluators.train(arch, "digits", steps=3)
    assert all(torch.equal(state[k], v) for k, v in trained.state_dict.items())
    # Compose carries the files through.
    both = evaluators.Compose(evaluators.TrainEvaluator("digits", steps=3, keep_weights=True,
                                                        artifact_root=str(tmp_path)),
                              evaluators.StaticCostEvaluator())(arch)
    assert both.artifacts == [file] and "params" in both
