"""Trained weights kept by a study, and `nas export --format pt|onnx|torchscript`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import ray
import torch

import evaluators
import nas
import storage
from nas._cli import main
from space import Space
from space import build
from space import choice
from space import layer
from space import mixer
from space import patches
from space import repeat
from space import transformer

pytest.importorskip("onnxruntime")

SPACE = Space(transformer(repeat(layer(choice(16, 32), mixer("softmax", heads=2), ffn=[32]),
                                 depth=1), input=patches(8, 4, 1), num_classes=10))


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A finished study whose trials kept their weights."""
    tmp = tmp_path_factory.mktemp("kept")
    url = f"sqlite:///{tmp / 'studies.db'}"
    study = nas.Study(
        name="kept", space=SPACE, searcher="random", trials=2,
        evaluate=evaluators.TrainEvaluator("digits", steps=5, keep_weights=True,
                                           artifact_root=str(tmp / "files")),
        objectives={"accuracy": "max"},
    )
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        result = nas.run(study, storage=url, workers=1, quiet=True, log_dir=tmp)
    finally:
        ray.shutdown()
    assert result.complete == 2
    return url, tmp


def test_a_study_records_each_trials_weights(kept: tuple[str, Path]) -> None:
    url, tmp = kept
    with storage.connect(url) as db:
        for trial in db.trials("kept"):
            [file] = db.artifacts(trial.id)
            assert Path(file["path"]).parent == tmp / "files" / "weights"
            arch, _ = evaluators.load_weights(file["path"], file["sha256"])
            assert arch == trial.arch


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "pt"])
def test_export_writes_the_trained_model(fmt: str, kept: tuple[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = kept
    with storage.connect(url) as db:
        trial = db.trials("kept")[0]
        [file] = db.artifacts(trial.id)
    target = tmp_path / f"model.{fmt}"
    assert main(["export", str(trial.id), "--format", fmt, "--weights", "-o", str(target),
                 "--storage", url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == str(target) and report["weights"] is True
    arch, state = evaluators.load_weights(file["path"])
    model = evaluators._export.build_model(arch, state)
    x = model.example_input(2)
    with torch.no_grad():
        reference = model(x).numpy()
    if fmt == "onnx":
        got = evaluators.onnx_run(target, x.numpy())
    elif fmt == "torchscript":
        with torch.no_grad():
            got = torch.jit.load(str(target))(x).numpy()
    else:
        back, back_state = evaluators.load_weights(target)
        with torch.no_grad():
            got = evaluators._export.build_model(back, back_state)(x).numpy()
    assert np.abs(got - reference).max() <= 1e-4 * np.abs(reference).max()
    # The trained weights, not a fresh initialisation.
    with torch.no_grad():
        fresh = evaluators._export.build_model(arch)(x).numpy()
    assert np.abs(fresh - reference).max() > 1e-3


def test_export_mistakes_are_one_line(kept: tuple[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = kept
    with storage.connect(url) as db:
        db.create_study("bare", objectives={"accuracy": "max"})
        [tid] = db.add_trials("bare", [("x", SPACE.sample(0).to_dict())])
        first = db.trials("kept")[0].id
    # With json, the kept weights go beside the architecture as a state dict build() loads.
    assert main(["export", str(first), "--weights", "-o", str(tmp_path / "a.json"),
                 "--storage", url]) == 0
    capsys.readouterr()
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    with storage.connect(url) as db:
        arch = db.trial(first).arch
    build(arch).load_state_dict(state)
    code = main(["export", str(tid), "--format", "onnx", "--weights", "-o",
                 str(tmp_path / "a.onnx"), "--storage", url])
    err = capsys.readouterr().err
    assert code == 1 and f"trial {tid} kept no weights" in err and err.count("\n") == 1
    # Without --weights: the untrained model.
    assert main(["export", str(tid), "--format", "onnx", "-o", str(tmp_path / "a.onnx"),
                 "--storage", url]) == 0
    assert "untrained (seed 0) model as onnx" in capsys.readouterr().out
