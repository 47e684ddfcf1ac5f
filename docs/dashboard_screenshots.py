"""Redraw the dashboard screenshots in docs/ (the README shows them).

``python docs/dashboard_screenshots.py``: runs the hardware-only test spec twice (random and
evolution searchers), serves the database with ``nas dashboard`` and photographs each page in
headless Chromium (``/usr/bin/chromium``): studies, a study (hovering a front point), a trial
and the comparison of the two studies.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]
SPEC = ROOT / "tests" / "nas_tests" / "dashboard_tests" / "hardware_spec.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    import storage

    with tempfile.TemporaryDirectory() as tmp:
        url, other = f"sqlite:///{tmp}/studies.db", f"sqlite:///{tmp}/evolution.db"
        for target, searcher in ((url, "random"), (other, "evolution")):
            subprocess.run([*NAS, "run", str(SPEC), "--storage", target, "--trials", "40",
                            "--searcher", searcher, "--quiet"], env=ENV, check=True)
        with storage.connect(other) as source, storage.connect(url) as db:
            source.copy_study("hardware", db, new_name="hardware-evolution")
        server = subprocess.Popen([*NAS, "dashboard", "--storage", url, "--port", "0",
                                   "--quiet"], env=ENV, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        address = re.search(r"(http://\S+/)", server.stdout.readline()).group(1)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(address)
                page.wait_for_selector("body[data-ready=studies]", state="attached")
                page.screenshot(path=DOCS / "dashboard-studies.png")
                page.goto(address + "#/study/hardware")
                page.wait_for_selector("body[data-ready=study]", state="attached")
                page.locator("#pareto").scroll_into_view_if_needed()
                front = page.locator("#pareto circle.front").nth(2)
                front.hover()
                page.wait_for_timeout(1000)  # the tooltip fetches the architecture
                page.screenshot(path=DOCS / "dashboard-study.png", full_page=True)
                front.click()
                page.wait_for_selector("#cost-table", timeout=30_000)
                page.screenshot(path=DOCS / "dashboard-trial.png", full_page=True)
                page.goto(address + "#/compare/hardware,hardware-evolution")
                page.wait_for_selector("body[data-ready=compare]", state="attached")
                page.screenshot(path=DOCS / "dashboard-compare.png", full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
