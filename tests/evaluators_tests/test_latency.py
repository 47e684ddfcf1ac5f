from __future__ import annotations

import numpy as np
import pytest

import evaluators
import space
import storage
from evaluators import KernelLatencyModel
from evaluators import LatencyModel
from evaluators import NotCalibratedError
from evaluators._kernel_model import FEATURES

from ._archs import MIXERS
from ._archs import layer
from ._archs import text
from ._archs import vit


def _truth(op: str, shape: dict) -> float:
    """A device whose kernels cost 5 µs plus 0.1 ns per unit of their first work feature."""
    return 0.005 + 1e-7 * FEATURES[op](shape)[0]


def _records(archs: list[dict], batches=(1, 8)) -> list[dict]:
    seen, out = set(), []
    for arch in archs:
        for b in batches:
            for op, shape in space.trace(arch, b):
                key = (op, tuple(sorted(shape.items())))
                if key not in seen:
                    seen.add(key)
                    out.append({"device": "cpu", "op": op, "shape": shape, "dtype": "float32",
                                "median_ms": _truth(op, shape), "spread": 0.01, "repeats": 5})
    return out


ARCHS = [text([layer(32, MIXERS[m]) for m in ("softmax", "linear", "dct", "conv")]),
         text([layer(64, MIXERS["window"]), layer(64, MIXERS["heads"])], seq_len=32),
         vit(32, 2, 4, 16)]


def test_kernel_model_reproduces_measured_shapes_and_extrapolates() -> None:
    records = _records(ARCHS)
    model = KernelLatencyModel.fit("cpu", records)
    for r in records:
        assert model.call_ms(r["op"], r["shape"]) == pytest.approx(r["median_ms"], rel=0.02)
    far = {"m": 4096, "k": 1024, "n": 1024}
    assert model.call_ms("linear", far) == pytest.approx(_truth("linear", far), rel=0.1)


def test_unprofiled_ops_fall_back_to_a_stand_in() -> None:
    model = KernelLatencyModel.fit("cpu", _records(ARCHS[:1]))
    assert model.call_ms("scan", {"b": 1, "seq": 16, "width": 32, "state": 8}) > 0


def test_no_profiles_names_the_command() -> None:
    with pytest.raises(evaluators.EvaluatorError, match="nas profile --device cpu"):
        KernelLatencyModel.fit("cpu", [])


def test_latency_model_sums_calls_and_round_trips() -> None:
    model = LatencyModel(KernelLatencyModel.fit("cpu", _records(ARCHS)))
    arch = ARCHS[0]
    expected = sum(_truth(op, s) for op, s in space.trace(arch, 1))
    assert model.predict([arch])[0] == pytest.approx(expected, rel=0.02)
    assert sum(model.kernel_breakdown(arch).values()) == pytest.approx(expected, rel=0.02)
    model.weights = (1.1, 0.01, 0.2, 0.3, 0.05, 0.5)
    again = LatencyModel.from_params("cpu", model.to_params())
    np.testing.assert_allclose(again.predict(ARCHS, 8), model.predict(ARCHS, 8))
    # A model stored before the weights-read and GMACs terms loads with them off.
    old = {**model.to_params(), "features": ["kernel_ms", "calls", "melements", "constant"],
           "weights": [1.1, 0.01, 0.2, 0.3]}
    model.weights = (1.1, 0.01, 0.2, 0.3, 0.0, 0.0)
    np.testing.assert_allclose(LatencyModel.from_params("cpu", old).predict(ARCHS, 8),
                               model.predict(ARCHS, 8))
    cols = model.predict_all(ARCHS)
    assert list(cols["params"]) == [space.count_params(a) for a in ARCHS]
    assert list(cols["flops"]) == [2 * space.count_macs(a) for a in ARCHS]


def test_predict_reads_the_calibrated_model(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'lat.db'}"
    with pytest.raises(NotCalibratedError, match="nas profile --device cpu.*nas calibrate"):
        evaluators.predict(ARCHS[0], device="cpu", storage=url)
    with storage.connect(url) as db:
        db.add_profiles(_records(ARCHS))
    with pytest.raises(NotCalibratedError, match="nas calibrate --device cpu"):
        evaluators.predict(ARCHS[0], device="cpu", storage=url)
    result = evaluators.calibrate("cpu", url, archs=ARCHS, batch_sizes=(1,), repeats=2,
                                  validation_fraction=0.34)
    assert result["version"] == 1 and result["validation"]["n_fit"] == 2
    one = evaluators.predict(ARCHS[0], device="cpu", storage=url)
    many = evaluators.predict(ARCHS, device="cpu", storage=url, batch_size=8)
    assert set(one) == {"latency_ms", "params", "flops"} and one["latency_ms"] > 0
    assert len(many) == 3 and many[0]["params"] == one["params"]
    with storage.connect(url) as db:
        stored = db.latency_model("cpu")
    assert stored["validation"]["n_validation"] == 1


@pytest.mark.parametrize("device", ["stm32f427", "stm32f746", "stm32h743", "mpc-lan", "mpc-wan"])
def test_analytic_devices_need_no_database(device: str, tmp_path) -> None:
    out = evaluators.predict(vit(32, 2, 4, 16), device=device,
                             storage=f"sqlite:///{tmp_path / 'never.db'}")
    assert set(out) == {*evaluators.device_metrics(device), "latency_ms"}
    assert out["params"] == space.count_params(vit(32, 2, 4, 16))
    assert not (tmp_path / "never.db").exists()


def test_unknown_device_lists_the_devices() -> None:
    with pytest.raises(evaluators.EvaluatorError, match="stm32f746"):
        evaluators.predict(ARCHS[0], device="tpu")


def test_calibration_reads_only_the_newest_profile(tmp_path) -> None:
    import torch

    url = f"sqlite:///{tmp_path / 'lat.db'}"
    old = [{**r, "median_ms": 10 * r["median_ms"], "threads": 2} for r in _records(ARCHS)]
    new = [{**r, "threads": 1} for r in _records(ARCHS)]
    with storage.connect(url) as db:
        db.add_profiles(old)
        db.add_profiles(new)
    threads = torch.get_num_threads()
    result = evaluators.calibrate("cpu", url, archs=ARCHS, batch_sizes=(1,), repeats=2)
    assert result["validation"]["threads"] == 1
    assert torch.get_num_threads() == threads
    kernels = evaluators.load_latency_model("cpu", url).kernels
    for r in new:
        assert kernels.call_ms(r["op"], r["shape"]) == pytest.approx(r["median_ms"], rel=0.02)


def test_measure_latencies_is_one_median_per_architecture_and_batch() -> None:
    small = text([layer(32, MIXERS["softmax"])], seq_len=16)
    big = text([layer(256, MIXERS["softmax"]) for _ in range(4)], seq_len=128)
    ms = evaluators.measure_latencies([small, big], (1, 8), repeats=6, rounds=3)
    assert ms.shape == (2, 2) and (ms > 0).all()
    # 4 layers at 8× the width and sequence: far more work than any timing noise can hide.
    assert ms[1, 1] > 5 * ms[0, 1]


@pytest.mark.parametrize("device", ["stm32f746", "mpc-lan", "cpu"])
def test_cost_evaluator_prices_a_list_as_it_prices_each(device: str, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'lat.db'}"
    if device == "cpu":
        with storage.connect(url) as db:
            db.add_profiles(_records(ARCHS))
        evaluators.calibrate("cpu", url, archs=ARCHS, batch_sizes=(1,), repeats=2)
    cost = evaluators.CostEvaluator(device, storage=url)
    many = cost.evaluate_many(ARCHS)
    # A matrix product over the list may round the last bit differently from one row.
    assert many == [pytest.approx(cost(a), rel=1e-12) for a in ARCHS]
    assert [m["params"] for m in many] == [space.count_params(a) for a in ARCHS]
