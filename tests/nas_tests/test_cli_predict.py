from __future__ import annotations

import json

import pytest

import storage
from nas._cli import main
from tests.evaluators_tests._archs import text
from tests.evaluators_tests._archs import vit
from tests.evaluators_tests.test_latency import _records


@pytest.fixture
def arch_file(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(vit(32, 2, 4, 16)))
    return path


@pytest.mark.parametrize("device", ["mpc-lan", "mpc-wan", "stm32f746"])
def test_predict_analytic_devices_as_json(device, arch_file, tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["predict", str(arch_file), "--device", device, "--storage", url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"params", "flops"} <= set(out)
    # The device's own latency, under its specific name and the contract's `latency_ms`.
    assert out["latency_ms"] == out.get("mcu_latency_ms", out.get("mpc_ms"))
    assert ("mpc_ms" in out) == device.startswith("mpc")
    assert ("sram_kb" in out) == ("mcu_latency_ms" in out) == device.startswith("stm32")


def test_predict_reads_export_files_and_lists(tmp_path, capsys) -> None:
    path = tmp_path / "trials.json"
    path.write_text(json.dumps([{"trial": 1, "arch": text()}, text(seq_len=32)]))
    assert main(["predict", str(path), "--device", "mpc-lan"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("[0] params=")


def test_predict_cpu_without_a_model_is_a_user_error(arch_file, tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["predict", str(arch_file), "--device", "cpu", "--storage", url]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "nas profile --device cpu" in err and "nas calibrate" in err


def test_bad_inputs_are_user_errors(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["predict", str(bad), "--device", "mpc-lan"]) == 1
    assert main(["predict", str(tmp_path / "missing.json"), "--device", "mpc-lan"]) == 1
    assert main(["predict", str(bad), "--device", "tpu"]) == 1
    assert main(["calibrate", "--device", "stm32f746"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 4


def test_calibrate_then_predict_cpu(arch_file, tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'cal.db'}"
    with storage.connect(url) as db:
        db.add_profiles(_records([vit(32, 2, 4, 16), text()]))
    assert main(["calibrate", "--device", "cpu", "--storage", url, "--archs", "3",
                 "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == 1 and result["validation"]["n_fit"] == 2
    assert main(["predict", str(arch_file), "--device", "cpu", "--storage", url]) == 0
    assert "latency_ms=" in capsys.readouterr().out
