"""``nas run SPEC``: spec loading, overrides, user errors and Ctrl-C, through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import pytest

import storage
from nas._cli import main

SPEC = """
import time
import nas
from space import Space, choice

def evaluate(arch):
    time.sleep({sleep})
    return {{"loss": float(arch["a"])}}

study = nas.Study(name="cli", space=Space({{"a": choice(*range(50))}}), evaluate=evaluate,
                  objectives={{"loss": "min"}}, searcher="random", trials=20)
"""


def write_spec(tmp_path, sleep=0.0, extra=""):
    spec = tmp_path / "spec.py"
    spec.write_text(textwrap.dedent(SPEC.format(sleep=sleep)) + extra)
    return spec


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (None, [], "does not exist"),
        ("x = 1\n", [], "has no module-level `study`"),
        ("raise RuntimeError('boom')\n", [], "raised RuntimeError on import: boom"),
        ("study = 3\n", [], "`study` must be a nas.Study; got int"),
        (SPEC.format(sleep=0), ["--quick"], "has no module-level `quick_study`"),
        (SPEC.format(sleep=0), ["--searcher", "tpee"], "Unknown searcher 'tpee'"),
    ],
    ids=["missing", "no-study", "raises", "not-a-study", "no-quick", "bad-searcher"],
)
def test_user_errors_are_one_line_and_exit_1(tmp_path, capsys, text, args, message):
    spec = tmp_path / "spec.py"
    if text is not None:
        spec.write_text(textwrap.dedent(text))
    status = main(["run", str(spec), "--storage", f"sqlite:///{tmp_path / 's.db'}", *args])
    err = capsys.readouterr().err
    assert status == 1
    assert message in err and len(err.strip().splitlines()) == 1


def test_run_with_overrides_and_quick(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    quick = "\nquick_study = study.replace(name='cli-quick', trials=3)\n"
    spec = write_spec(tmp_path, extra=quick)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["run", str(spec), "--storage", url, "--trials", "6", "--quiet"]) == 0
    # --quiet drops the live line only: the summary stays for logs.
    assert "cli: 6 complete" in capsys.readouterr().out
    assert main(["run", str(spec), "--storage", url, "--quick", "--json"]) == 0
    db = storage.connect(url)
    assert len(db.trials("cli", "COMPLETE")) == 6
    assert len(db.trials("cli-quick", "COMPLETE")) == 3
    assert (tmp_path / "runs" / "cli.log").exists()
    assert '"complete": 3' in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_requeues_running_trials_and_resume_finishes(tmp_path, stop):
    spec = write_spec(tmp_path, sleep=2.0)
    url = f"sqlite:///{tmp_path / 's.db'}"
    # A shell's background job inherits SIGINT ignored, and so would this driver when the suite
    # itself runs in the background; restore what a terminal's Ctrl-C meets.
    boot = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from nas._cli import main; sys.exit(main())")
    command = [sys.executable, "-c", boot,
               "run", str(spec), "--storage", url, "--trials", "8", "--quiet"]
    driver = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _running(tmp_path):
            assert time.monotonic() < deadline and driver.poll() is None
            time.sleep(0.2)
        driver.send_signal(stop)
        _, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130 and "interrupted" in err
    # Ray's start-up warnings (token authentication, ...) stay off the user's terminal.
    assert "WARNING" not in err
    trials = storage.connect(url).trials("cli")
    assert "RUNNING" not in {t.state for t in trials}
    requeued = [t for t in trials if t.state == "QUEUED"]
    assert requeued and all(t.error == "interrupted" for t in requeued)

    assert subprocess.run(command + ["--resume"], cwd=tmp_path, timeout=120).returncode == 0
    trials = storage.connect(url).trials("cli")
    assert [t.state for t in trials] == ["COMPLETE"] * 8


def _running(tmp_path) -> bool:
    if not (tmp_path / "s.db").exists():
        return False
    try:
        return bool(storage.connect(f"sqlite:///{tmp_path / 's.db'}").trials("cli", "RUNNING"))
    except storage.StudyNotFound:
        return False


def test_the_front_and_the_best_architecture_are_printed(capsys):
    from nas._cli._run import _print_best
    from space import Space
    from space import layer
    from space import mixer
    from space import tokens
    from space import transformer

    sp = Space(transformer([layer(32, mixer("softmax", heads=2), ffn=[64])],
                           input=tokens(16, 8), num_classes=2))
    study = types.SimpleNamespace(objectives={"accuracy": "max", "latency_ms": "min"})
    arch = sp.sample(seed=0).to_dict()
    common = {"study": "cli", "state": "COMPLETE", "searcher": "random", "worker": None,
              "node": None, "started": None, "finished": None, "error": None, "retries": 0,
              "arch": arch}
    front = [
        storage.TrialRecord(number=3, id=7, arch_id="a", **common,
                            metrics={"accuracy": 0.9, "latency_ms": 2.0}),
        storage.TrialRecord(number=5, id=9, arch_id="b", **common,
                            metrics={"accuracy": 0.8, "latency_ms": 1.0}),
    ]
    _print_best(types.SimpleNamespace(json=False), study, front)
    out = capsys.readouterr().out
    assert "Pareto front" in out
    assert "best by accuracy: trial 3 (id 7" in out
    assert "layer 0: width 32, softmax heads=2, ffn [64], gelu, layernorm" in out


BOOT = "import sys; from nas._cli import main; sys.exit(main())"


@pytest.mark.slow
def test_a_database_folder_deleted_mid_run_is_an_error_not_a_success(tmp_path):
    import shutil

    folder = tmp_path / "db"
    folder.mkdir()
    spec = write_spec(tmp_path, sleep=0.5)
    url = f"sqlite:///{folder / 's.db'}"
    command = [sys.executable, "-c", BOOT, "run", str(spec), "--storage", url, "--trials", "12",
               "--quiet"]
    driver = subprocess.Popen(command, cwd=tmp_path, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not _complete_at_least(folder / "s.db", 2):
            assert time.monotonic() < deadline and driver.poll() is None
            time.sleep(0.1)
        shutil.rmtree(folder)
        out, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 1, (out, err)
    assert "complete," not in out
    assert "was removed during the run" in err and len(err.strip().splitlines()) == 1, err


def _complete_at_least(path, n: int) -> bool:
    if not path.exists():
        return False
    try:
        return len(storage.connect(f"sqlite:///{path}").trials("cli", "COMPLETE")) >= n
    except storage.StudyNotFound:
        return False


@pytest.mark.slow
def test_plain_run_starts_its_own_ray_beside_a_head_on_the_host(tmp_path):
    import shutil
    import socket
    import tempfile
    import uuid

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Its own temp dir, so other Ray users on this host never see this head as "the" cluster.
    temp = tempfile.mkdtemp(prefix=f"rh{uuid.uuid4().hex[:4]}", dir="/tmp")
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}",
         "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={temp}", "--block"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline and head.poll() is None
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.3)
        spec = write_spec(tmp_path)
        url = f"sqlite:///{tmp_path / 's.db'}"
        # RAY_ADDRESS makes a bare ray.init() join the head (which refuses num_cpus).
        env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"}
        done = subprocess.run([sys.executable, "-c", BOOT, "run", str(spec), "--storage", url,
                               "--trials", "4", "--quiet"], cwd=tmp_path, env=env, timeout=180,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "cli: 4 complete" in done.stdout
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


STOPS_SPEC = """
import time
import nas
from space import Space, choice

def evaluate(arch):
    time.sleep(0.004)
    return {"loss": float(arch["a"] * 40 + arch["b"])}

study = nas.Study(name="stops", space=Space({"a": choice(*range(40)), "b": choice(*range(40))}),
                  evaluate=evaluate, objectives={"loss": "min"}, searcher="random", trials=1200)
"""


@pytest.mark.slow
def test_ctrl_c_and_sigterm_at_ten_moments_end_130_and_lose_nothing(tmp_path):
    spec = tmp_path / "stops.py"
    spec.write_text(textwrap.dedent(STOPS_SPEC))
    url = f"sqlite:///{tmp_path / 's.db'}"
    boot = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from nas._cli import main; sys.exit(main())")
    command = [sys.executable, "-c", boot, "run", str(spec), "--storage", url, "--quiet"]
    # From the first imports through Ray's start-up, the first trials, batch writes and the
    # end of a run (later runs resume a study that is nearly or wholly done).
    moments = [0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 8.0, 10.0, 13.0, 17.0]
    codes = []
    for i, at in enumerate(moments):
        driver = subprocess.Popen(command, cwd=tmp_path, start_new_session=True, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(at)
            if driver.poll() is None:
                driver.send_signal(signal.SIGINT if i % 2 == 0 else signal.SIGTERM)
            out, err = driver.communicate(timeout=120)
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
        codes.append(driver.returncode)
        assert driver.returncode in (0, 130), (at, driver.returncode, err)
        if driver.returncode == 130:
            assert err.strip().splitlines() == ["nas run: interrupted"], (at, err)
            assert "complete," not in out
    assert 130 in codes
    done = subprocess.run(command, cwd=tmp_path, timeout=180, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    trials = storage.connect(url).trials("stops")
    assert [t.state for t in trials] == ["COMPLETE"] * 1200
    assert len({t.arch_id for t in trials}) == 1200


def test_a_run_whose_every_trial_failed_exits_3(tmp_path, capsys):
    spec = tmp_path / "spec.py"
    spec.write_text(SPEC.format(sleep=0).replace('return {"loss"', 'raise ValueError("nope")\n'
                                                 '    return {"loss"'))
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["run", str(spec), "--storage", url, "--trials", "3", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "no trial of 'cli' completed (3 failed, 0 pruned)" in err
    assert "nas trials cli" in err and len(err.strip().splitlines()) == 1


IMPOSSIBLE = """
import nas
from evaluators import CostEvaluator
from space import Constraint, Space, choice, head, heads, layer, patches, repeat, transformer

space = Space(transformer(repeat(layer(choice(16, 32), heads(head("softmax"), count=2),
                                       ffn=[32]), depth=1),
                          input=patches(8, 2, 1), num_classes=10))
study = nas.Study(name="tiny-mcu", space=space, evaluate=CostEvaluator("stm32f746"),
                  objectives={"sram_kb": "min"}, searcher="random", trials=4,
                  constraints=[Constraint("params", "<=", 10, device="stm32f746")])
"""


def test_an_impossible_device_constraint_exits_3_naming_it_and_the_closest_value(tmp_path,
                                                                                capsys):
    from space import count_params

    spec = tmp_path / "spec.py"
    spec.write_text(IMPOSSIBLE)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["run", str(spec), "--storage", url, "--quiet"]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no trial of 'tiny-mcu' completed" in err and "params <= 10 on stm32f746" in err
    # The smallest model of the space is the closest one to the bound.
    namespace: dict = {}
    exec(IMPOSSIBLE, namespace)
    smallest = min(count_params(namespace["space"].sample(i)) for i in range(20))
    assert f"closest seen {smallest:.4g}" in err
    assert storage.connect(url).trials("tiny-mcu") == []


def _watched_session(driver_pid: int) -> str | None:
    """The Ray session the driver's watchdog stops, read from the watchdog's command line."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode().split("\0")
        except OSError:
            continue
        if len(args) > 3 and args[1].endswith("_watchdog.py") and args[2] == str(driver_pid):
            return args[3]
    return None


@pytest.mark.slow
def test_a_sigkilled_driver_leaves_no_ray_process_and_resume_finishes(tmp_path):
    from nas._watchdog import session_pids

    spec = write_spec(tmp_path, sleep=2.0)
    url = f"sqlite:///{tmp_path / 's.db'}"
    command = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())",
               "run", str(spec), "--storage", url, "--trials", "8", "--quiet"]
    driver = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not _running(tmp_path):
            assert time.monotonic() < deadline and driver.poll() is None
            time.sleep(0.2)
        session = _watched_session(driver.pid)
        assert session is not None and session_pids(session)
        # Only the driver: Ray's processes get no signal from the test.
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        deadline = time.monotonic() + 30
        while session_pids(session):
            assert time.monotonic() < deadline, f"Ray processes left: {session_pids(session)}"
            time.sleep(0.2)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert subprocess.run(command + ["--resume"], cwd=tmp_path, timeout=180).returncode == 0
    assert [t.state for t in storage.connect(url).trials("cli")] == ["COMPLETE"] * 8
