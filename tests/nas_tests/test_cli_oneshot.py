"""A one-shot study end to end: the run keeps its supernet as a study artifact, its trials
record the supernet score beside the retrained accuracy, and `nas export --weights` writes the
inherited weights as a state dict `space.build(arch)` loads."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch

import space as sp
import storage
from evaluators._tasks import make_task
from nas._artifacts import sha256_of
from nas._cli import main
from nas.searchers._oneshot import Supernet

SPEC = """
import nas
from evaluators import TrainEvaluator
from space import Space, choice, derived, layer, mixer, patches, repeat, transformer

space = Space(transformer(
    repeat(layer(choice(8, 16), mixer(choice("softmax", "relu"), heads=choice(1, 2)),
                 ffn=[derived(lambda w: 2 * w, "width")]), choice(1, 2)),
    input=patches(8, choice(2, 4), 1), num_classes=10))
study = nas.Study(name="os", space=space, evaluate=TrainEvaluator("digits", steps=5),
                  objectives={"accuracy": "max"}, searcher="oneshot", trials=2,
                  searcher_options={"supernet_steps": 4, "population": 3, "generations": 0})
"""


@pytest.mark.slow
def test_export_weights_of_a_one_shot_trial_load_into_build(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.py"
    spec.write_text(textwrap.dedent(SPEC))
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["run", str(spec), "--storage", url, "--quiet", "--workers", "1"]) == 0
    with storage.connect(url) as db:
        (kept,) = db.study_artifacts("os", "supernet")
        trial = db.trials("os", "COMPLETE")[0]
    assert sha256_of(kept["path"]) == kept["sha256"]
    assert {"accuracy", "supernet_accuracy", "supernet_loss"} <= set(trial.metrics)

    capsys.readouterr()
    out = tmp_path / "best.json"
    assert main(["export", str(trial.id), "-o", str(out), "--weights", "--storage", url,
                 "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    state = torch.load(written["weights"], weights_only=True)
    arch = json.loads(out.read_text())
    model = sp.build(arch, seed=99)
    model.load_state_dict(state)
    supernet = Supernet.load(kept["path"])
    x, _ = make_task("digits").batch(np.random.default_rng(0), 8)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), supernet.forward(trial.arch, x), atol=1e-5)
    # Inherited weights give the supernet score the trial recorded.
    assert supernet.score([trial.arch])[0] == trial.metrics["supernet_accuracy"]


def test_export_weights_of_a_study_without_a_supernet_is_one_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with storage.connect(url) as db:
        db.create_study("plain", objectives={"accuracy": "max"})
        (tid,) = db.add_trials("plain", [("a1", '{"e": 1}')])
    status = main(["export", str(tid), "-o", str(tmp_path / "a.json"), "--weights",
                   "--storage", url])
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "keeps no supernet checkpoint" in err and "searcher='oneshot'" in err
    assert not (tmp_path / "a.pt").exists()
