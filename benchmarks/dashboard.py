"""Speed of ``nas dashboard`` on a 20,000-trial study, and what it costs a running study.

Run ``python benchmarks/dashboard.py`` (``--part api`` or ``--part run`` for one half;
PostgreSQL from ``$HETNAS_BENCH_PG``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/
postgres``; ``--sqlite-only`` skips it).

``api``: per backend, 20,000 COMPLETE trials with 3 metrics (plus 2 RUNNING), served by a real
``nas dashboard`` process over HTTP. Times the first study-page response of a fresh server (cold),
the same request again (median of ``--repeats``) right after the fill and once the fill is
older than a cursor's slack (the server catches its kept columns up with an incremental read,
all 20,000 trials in the first case, the few that changed in the second), an incremental poll
with the cursor of the previous one, and, in headless Chromium (``/usr/bin/chromium``), the
study page from navigation to interactive (plots and table drawn, handlers attached), on that
server and on a fresh one.

``run``: a 200-trial ``nas run`` of the hardware-only test spec on SQLite, alone and with a
dashboard polling every 0.5 s (a full study load every 10th poll), interleaved ``--rounds``
times, alternating which goes first. Checks that no trial failed, no poll failed and no
"database is locked" appeared. The load average is printed: the host is shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

# Run as a script, this file's folder leads sys.path and this file would shadow the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent

import numpy as np  # noqa: E402

import storage  # noqa: E402
from storage._read import CHANGE_SLACK_S  # noqa: E402

TRIALS = 20_000
NAN = float("nan")
BATCH = 1_000
RUN_TRIALS = 200
POLL_S = 0.5
NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]
SPEC = ROOT / "tests" / "nas_tests" / "dashboard_tests" / "hardware_spec.py"
CHROMIUM = os.environ.get("HETNAS_CHROMIUM", "/usr/bin/chromium")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def fill(url: str) -> None:
    rng = np.random.default_rng(0)
    with storage.connect(url) as db:
        db.create_study("bench", objectives={"accuracy": "max", "latency_ms": "min"},
                        constraints=[{"metric": "latency_ms", "op": "<=", "bound": 40.0}],
                        searcher="random")
        for first in range(0, TRIALS, BATCH):
            rows = []
            for i in range(first, first + BATCH):
                params = float(rng.integers(10_000, 10_000_000))
                rows.append((f"arch{i:06d}", f'{{"family":"toy","width":{i}}}', {
                    "accuracy": float(1 - np.exp(-params / 2e6) * rng.uniform(0.8, 1.0)),
                    "latency_ms": params / 2e5 * float(rng.uniform(0.5, 1.5)),
                    "params": params}))
            db.add_results("bench", rows, searcher="random")
        for trial_id in db.add_trials("bench", [("live0", "{}"), ("live1", "{}")]):
            db.start_trial(trial_id, worker="w", node="n")
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine
        from sqlalchemy import text

        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()


def start_dashboard(url: str) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([*NAS, "dashboard", "--storage", url, "--port", "0", "--quiet"],
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
    if not found:
        raise SystemExit(f"nas dashboard did not start: {line}")
    return server, found.group(1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; 10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - start, body


def summary(values: list[float]) -> tuple[float, float]:
    median = statistics.median(values)
    if len(values) < 2:
        return median, 0.0
    q1, _, q3 = statistics.quantiles(values, n=4)
    return median, (q3 - q1) / median


def measure_api(url: str, repeats: int) -> list[tuple[str, float, float, float, float]]:
    """Rows of (measurement, median wall s, spread, the server's median CPU s, target s)."""
    fill(url)
    filled = time.monotonic()
    server, address = start_dashboard(url)
    rows = []

    def timed(path: str) -> tuple[float, float, bytes]:
        before = cpu_seconds(server.pid)
        seconds, body = get(path)
        return seconds, cpu_seconds(server.pid) - before, body

    try:
        study = address + "api/studies/bench"
        cold, cold_cpu, body = timed(study)
        rows.append(("first study-page response, fresh server", cold, 0.0, cold_cpu, 0.300))
        size = len(body)
        # The server keeps the study's columns and catches them up with an incremental read:
        # within a cursor's slack (CHANGE_SLACK_S) of the fill that read is all 20,000
        # just-finished trials, later it is the few that changed.
        warm = [timed(study) for _ in range(repeats)]
        rows.append((f"study-page response again, all trials just finished ({size / 1e6:.1f} "
                     f"MB)", *summary([w[0] for w in warm]),
                     statistics.median(w[1] for w in warm), 0.300))
        time.sleep(max(0.0, filled + CHANGE_SLACK_S + 1 - time.monotonic()))
        settled = [timed(study) for _ in range(repeats)]
        rows.append(("study-page response again, settled study",
                     *summary([w[0] for w in settled]),
                     statistics.median(w[1] for w in settled), 0.300))
        cursor = json.loads(settled[-1][2])["cursor"]
        polls = []
        for _ in range(repeats * 4):
            seconds, cpu, body = timed(f"{study}/changes?since={cursor}")
            cursor = json.loads(body)["cursor"]
            polls.append((seconds, cpu))
        rows.append(("incremental poll", *summary([p[0] for p in polls]),
                     statistics.median(p[1] for p in polls), 0.050))
        rows.append(("study page interactive in Chromium", *summary(browser(address, repeats)),
                     NAN, 2.0))
    finally:
        server.terminate()
        server.wait(10)
    # A user's first look: a fresh server, so the page waits on the whole-study read.
    server, address = start_dashboard(url)
    try:
        rows.append(("study page interactive in Chromium, fresh server",
                     *summary(browser(address, 1)), NAN, 2.0))
    finally:
        server.terminate()
        server.wait(10)
    return rows


def browser(address: str, repeats: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        for _ in range(repeats):
            page = chromium.new_page(viewport={"width": 1300, "height": 900})
            start = time.perf_counter()
            page.goto(address + "#/study/bench")
            page.wait_for_selector("body[data-ready=study]", state="attached", timeout=60_000)
            out.append(time.perf_counter() - start)
            assert page.locator("#pareto svg").get_attribute("data-points") == str(TRIALS)
            page.close()
        chromium.close()
    return out


class Poller(threading.Thread):
    """What an open study page does: an incremental poll every 0.5 s, a full load now and then."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.stop = threading.Event()
        self.polls = 0
        self.errors: list[str] = []

    def run(self) -> None:
        cursor = None
        while not self.stop.wait(POLL_S):
            try:
                if cursor is None or self.polls % 10 == 0:
                    _, body = get(self.address + "api/studies/hardware")
                else:
                    _, body = get(f"{self.address}api/studies/hardware/changes?since={cursor}")
                cursor = json.loads(body)["cursor"]
            except urllib.error.HTTPError as e:
                if e.code != 404:  # the study exists once the run has created it
                    self.errors.append(f"{e.code} {e.read()[:200]!r}")
            except Exception as e:
                self.errors.append(repr(e))
            self.polls += 1


def one_run(folder: Path, dashboard: bool) -> dict[str, object]:
    url = f"sqlite:///{folder / f'run-{uuid.uuid4().hex[:6]}.db'}"
    storage.connect(url).close()  # the dashboard reads a database that exists
    server = poller = None
    if dashboard:
        server, address = start_dashboard(url)
        poller = Poller(address)
        poller.start()
    start = time.perf_counter()
    run = subprocess.run([*NAS, "run", str(SPEC), "--storage", url, "--trials",
                          str(RUN_TRIALS), "--workers", "2", "--quiet"], env=ENV,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if poller is not None and server is not None:
        poller.stop.set()
        poller.join()
        server.terminate()
        server.wait(10)
    with storage.connect(url, read_only=True) as db:
        try:
            counts = db.get_study("hardware").counts
        except storage.StudyNotFound:  # the run failed before creating it: rc and output say why
            counts = {"FAILED": 0, "COMPLETE": 0}
    text = run.stdout + run.stderr
    return {"dashboard": dashboard, "seconds": seconds, "rc": run.returncode,
            "failed": counts["FAILED"], "complete": counts["COMPLETE"],
            "locked": "locked" in text.lower(), "polls": poller.polls if poller else 0,
            "poll_errors": poller.errors if poller else [],
            "output": _tail(text) if run.returncode else ""}


def measure_run(rounds: int) -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for dashboard in ((False, True) if r % 2 == 0 else (True, False)):
                found = one_run(Path(tmp), dashboard)
                print(f"  round {r}: dashboard={dashboard} {found['seconds']:.1f} s, "
                      f"complete {found['complete']}, failed {found['failed']}, "
                      f"polls {found['polls']}, poll errors {len(found['poll_errors'])}, "
                      f"locked {found['locked']}", flush=True)
                results.append(found)
    print(f"\n{RUN_TRIALS}-trial nas run on SQLite, {rounds} interleaved rounds, load average "
          f"{load()}:\n")
    print("| run | median s | spread (IQR/median) | min s | max s | failed trials | poll "
          "errors | lock errors |")
    print("|---|---|---|---|---|---|---|---|")
    medians = {}
    for dashboard in (False, True):
        mine = [x for x in results if x["dashboard"] is dashboard]
        seconds = [float(x["seconds"]) for x in mine]
        median, spread = summary(seconds)
        medians[dashboard] = median
        name = "with dashboard polling every 0.5 s" if dashboard else "alone"
        print(f"| {name} | {median:.1f} | {spread:.2f} | {min(seconds):.1f} | "
              f"{max(seconds):.1f} | {sum(int(x['failed']) for x in mine)} | "
              f"{sum(len(x['poll_errors']) for x in mine)} | "
              f"{sum(bool(x['locked']) for x in mine)} |")
    pairs = [results[i + 1]["seconds"] / results[i]["seconds"] if not results[i]["dashboard"]
             else results[i]["seconds"] / results[i + 1]["seconds"]
             for i in range(0, len(results), 2)]
    print(f"\nmedian with / alone: {medians[True] / medians[False]:.3f} (target <= 1.05); "
          f"per round: {', '.join(f'{p:.3f}' for p in pairs)}")
    bad = [x for x in results if x["rc"] != 0 or x["failed"] or x["poll_errors"] or x["locked"]]
    for x in bad:
        print(f"problem: {x}")


def _tail(text: str) -> str:
    return " | ".join(text.strip().splitlines()[-3:])


def load() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def _pg_database() -> tuple[str, Callable[[], None]]:
    """A fresh database on the PostgreSQL server and its drop: benchmarks/storage.py's helper."""
    spec = importlib.util.spec_from_file_location("storage_benchmark",
                                                  Path(__file__).with_name("storage.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._pg_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("api", "run", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    if args.part in ("api", "both"):
        table = []
        with tempfile.TemporaryDirectory() as tmp:
            table.append(("SQLite", measure_api(f"sqlite:///{tmp}/bench.db", args.repeats)))
        if not args.sqlite_only:
            url, drop = _pg_database()
            try:
                table.append(("PostgreSQL", measure_api(url, args.repeats)))
            finally:
                drop()
        print(f"\n{TRIALS} trials, {args.repeats} repeats, load average {load()}, "
              f"{os.cpu_count()} CPUs:\n")
        print("| backend | measurement | median s | spread (IQR/median) | server CPU s | "
              "target s | met |")
        print("|---|---|---|---|---|---|---|")
        for backend, rows in table:
            for name, median, spread, cpu, target in rows:
                print(f"| {backend} | {name} | {median:.3f} | {spread:.2f} | {cpu:.2f} | "
                      f"{target:.3f} | {'yes' if median <= target else 'no'} |")
    if args.part in ("run", "both"):
        measure_run(args.rounds)


if __name__ == "__main__":
    main()
