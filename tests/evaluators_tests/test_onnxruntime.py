"""The ``onnxruntime-cpu`` device: measured in ONNX Runtime, priced from the cpu profile."""

from __future__ import annotations

import pytest

import evaluators
import storage
from evaluators._onnxruntime import measure_onnxruntime_stats
from space import Constraint

from ._archs import MIXERS
from ._archs import layer
from ._archs import text
from .test_latency import ARCHS
from .test_latency import _records

pytest.importorskip("onnxruntime")
DEVICE = "onnxruntime-cpu"


def test_measured_in_onnx_runtime_bigger_models_take_longer() -> None:
    small = text([layer(32, MIXERS["softmax"])], seq_len=16)
    big = text([layer(256, MIXERS["softmax"]) for _ in range(4)], seq_len=128)
    ms, noise = measure_onnxruntime_stats([small, big], (1, 8), repeats=6, rounds=3)
    assert ms.shape == noise.shape == (2, 2) and (ms > 0).all() and (noise >= 0).all()
    assert ms[1, 1] > 5 * ms[0, 1]
    assert evaluators.measure_onnxruntime_ms(small) > 0


def test_calibrated_on_the_cpu_profile_and_used_by_predict_and_constraints(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ort.db'}"
    with pytest.raises(evaluators.NotCalibratedError,
                       match="nas profile --device cpu, then nas calibrate --device "
                       "onnxruntime-cpu"):
        evaluators.predict(ARCHS[0], device=DEVICE, storage=url)
    with storage.connect(url) as db:
        db.add_profiles(_records(ARCHS))
    result = evaluators.calibrate(DEVICE, url, archs=ARCHS, batch_sizes=(1,), repeats=2)
    assert result["version"] == 1
    with storage.connect(url) as db:
        assert db.latency_model(DEVICE) is not None and db.latency_model("cpu") is None
    out = evaluators.predict(ARCHS, device=DEVICE, storage=url)
    assert [set(o) for o in out] == [{"latency_ms", "params", "flops"}] * 3
    assert all(o["latency_ms"] > 0 for o in out)
    assert evaluators.device_metrics(DEVICE) == ("latency_ms", "params", "flops")
    # A constraint on the device is judged from the same prediction.
    from nas._feasible import feasibility_check

    bound = sorted(o["latency_ms"] for o in out)[1]
    keep = feasibility_check([Constraint("latency_ms", "<=", bound, device=DEVICE)], url)
    assert [keep(a) for a in ARCHS] == [o["latency_ms"] <= bound for o in out]
