"""End to end in real headless Chromium: a study made by ``nas run --dashboard``, served by
``nas dashboard``, driven through Playwright against Debian's ``chromium`` (``.ci/run`` installs
it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import storage
from tests.nas_tests.dashboard_tests.conftest import XSS
from tests.nas_tests.dashboard_tests.conftest import record

pytest.importorskip("starlette")
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("HETNAS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run "
                       "installs it: apt-get install chromium)"),
]
NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]
SPEC = Path(__file__).with_name("hardware_spec.py")
TRIALS = 8


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """``(dashboard URL, storage URL)``: the study of a real ``nas run --dashboard``, then a
    ``nas dashboard`` serving that database."""
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'studies.db'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    run = subprocess.Popen([*NAS, "run", str(SPEC), "--storage", url, "--trials", str(TRIALS),
                            "--workers", "1", "--quiet", "--dashboard"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    beside = None
    assert run.stderr is not None
    for line in run.stderr:
        found = re.search(r"dashboard at (http://\S+)", line)
        if found:
            beside = found.group(1)
            # The dashboard answers while the run is still going.
            assert _get(beside + "api/studies") == 200
            break
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert beside is not None, "nas run --dashboard printed no URL"
    with pytest.raises(urllib.error.URLError):  # and stops with it
        urllib.request.urlopen(beside + "api/studies", timeout=5)

    server = subprocess.Popen([*NAS, "dashboard", "--storage", url, "--port", "0", "--quiet"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    assert server.stdout is not None
    first = server.stdout.readline()
    address = re.search(r"(http://127\.0\.0\.1:\d+/)", first)
    assert address, first
    try:
        yield address.group(1), url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    page.close()


def ready(page, name: str) -> None:
    page.wait_for_selector(f"body[data-ready={name}]", state="attached", timeout=20_000)


def test_the_studies_page_lists_the_study_nas_run_made(served, page) -> None:
    address, _ = served
    page.goto(address)
    ready(page, "studies")
    row = page.locator('tr[data-study="hardware"]')
    assert row.count() == 1
    assert row.locator("a.study-link").text_content() == "hardware"
    assert f"{TRIALS}" in row.locator("td").nth(4).text_content()
    assert page.errors == []


def test_the_pareto_plot_has_a_point_per_trial_and_a_click_opens_it(served, page) -> None:
    address, url = served
    with storage.connect(url, read_only=True) as db:
        complete = [t for t in db.trials("hardware") if t.state == "COMPLETE"]
        front = {t.id for t in db.pareto("hardware")}
    page.goto(address + "#/study/hardware")
    ready(page, "study")
    points = page.locator("#pareto circle.point")
    assert points.count() == len(complete) == TRIALS
    drawn_front = {int(c.get_attribute("data-trial"))
                   for c in page.locator("#pareto circle.front").all()}
    assert drawn_front == front
    target = page.locator("#pareto circle.front").first
    trial_id = int(target.get_attribute("data-trial"))
    target.hover()
    page.wait_for_selector("#tooltip:not([hidden])")
    number = next(t.number for t in complete if t.id == trial_id)
    assert f"trial {number} (id {trial_id})" in page.locator("#tooltip").text_content()
    target.click()
    ready(page, "trial")
    assert page.url.endswith(f"#/trial/{trial_id}")
    assert page.locator("#trial-title").text_content().startswith(f"Trial {number} of hardware")
    assert page.locator("#arch-graph svg g.node").count() >= 4
    page.wait_for_selector("#cost-table")
    assert "stm32f746" in page.locator("#cost-table").text_content()
    assert page.errors == []


def test_a_hostile_study_name_and_error_text_execute_nothing(served, page) -> None:
    address, url = served
    with storage.connect(url) as db:
        db.create_study(XSS, objectives={"<b>params</b>": "max", "params": "max"},
                        constraints=[{"metric": "<svg onload=alert(2)>", "op": "<", "bound": 1}],
                        searcher="<script>alert(3)</script>", exist_ok=True)
        record(db, XSS, range(2), lambda i: {"<b>params</b>": float(i), "params": 2.0 - i})
        from tests.nas_tests.dashboard_tests.hardware_spec import space

        arch = space.sample(seed=5)
        (failed,) = db.add_trials(XSS, [(arch.id, arch.to_json())])
        db.start_trial(failed, worker="<img src=y onerror=alert(4)>", node="n")
        db.fail_trial(failed, "Traceback: <img src=x onerror=alert(5)><script>alert(6)</script>")
    page.goto(address)
    ready(page, "studies")
    assert page.get_by_text(XSS, exact=True).count() == 1
    page.goto(address + "#/study/" + quote(XSS, safe=""))
    ready(page, "study")
    assert page.locator("#study-name").text_content() == XSS
    page.goto(address + f"#/trial/{failed}")
    ready(page, "trial")
    assert "<img src=x onerror=alert(5)>" in page.locator("#trial-error").text_content()
    page.wait_for_timeout(500)
    assert page.locator("#app img, #app script, #app svg[onload]").count() == 0
    assert page.dialogs == [] and page.errors == []


def test_a_trial_written_while_the_page_is_open_appears_without_reload(served, page) -> None:
    address, url = served
    with storage.connect(url) as db:
        db.create_study("live", objectives={"params": "max", "latency_ms": "min"}, exist_ok=True)
        record(db, "live", range(3), lambda i: {"params": float(i), "latency_ms": 1.0 + i})
    page.goto(address + "#/study/live")
    ready(page, "study")
    assert page.locator("#pareto circle.point").count() == 3
    page.evaluate("window.__loaded = true")  # gone if the page reloads
    with storage.connect(url) as db:
        (new,) = record(db, "live", range(3, 4), lambda i: {"params": 10.0, "latency_ms": 0.1})
    page.wait_for_selector(f'#trials tr[data-trial="{new}"]', timeout=15_000)
    assert page.locator("#pareto circle.point").count() == 4
    assert page.locator("#pareto circle.front").count() == 1  # the new trial dominates all
    assert page.evaluate("window.__loaded") is True
    assert "4 complete" in page.locator("#counts").text_content()
