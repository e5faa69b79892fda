"""report.html in a real headless Chromium: it renders offline, every image loads, no console
error, no request other than the file itself, one table row per run, sortable columns, anchors
that open a run's details. Takes a screenshot of the first screen (saved under tmp_path).

Needs Chromium (Debian's /usr/bin/chromium; the test command installs it on CI) and playwright
(in the dev venv). Skipped, saying why, only when Chromium is absent.
"""
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    CHROMIUM = Path(found) if found else None

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (/usr/bin/chromium or "
                                "chromium on PATH): install Debian's chromium package to run the browser test")


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not in this venv")
    with sync_api.sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        yield page
        browser.close()


def test_report_renders_offline_with_every_image_and_no_request(built_report, browser_page, tmp_path):
    page = browser_page
    url = built_report.report.resolve().as_uri()
    requests, console_errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.goto(url, wait_until="load")
    shot = tmp_path / "report-first-screen.png"
    page.screenshot(path=str(shot))
    page.screenshot(path=str(tmp_path / "report-full.png"), full_page=True)
    print(f"screenshots: {shot} and {tmp_path / 'report-full.png'}")
    assert shot.stat().st_size > 10_000

    assert console_errors == []
    # data: URIs are not network requests; anything else besides the file itself is.
    assert [r for r in requests if r != url and not r.startswith("data:")] == []

    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.alt])")
    assert len(images) == 5  # comparison plots; run curves are drawn as SVG when a run opens
    assert [alt for complete, width, alt in images if not (complete and width > 0)] == []

    assert page.locator("table.runs tbody tr").count() == 20
    # The first screen answers the question: one answer per workload (S0 cpu, S0 gpu, S3 gpu) and
    # the start of the ranking table are visible without scrolling.
    answers = page.locator("#headline ul.answers li")
    assert answers.count() == 3
    assert "PyTorch is fastest" in answers.nth(0).inner_text()
    last = answers.nth(2).bounding_box()
    assert last["y"] + last["height"] < 900, "the answers should fit on the first screen"
    assert page.locator("#headline table").bounding_box()["y"] < 900
    assert "(fastest)" in page.locator("#headline table").inner_text()


def test_tables_sort_and_anchors_open_run_details(built_report, browser_page):
    page = browser_page
    page.goto(built_report.report.resolve().as_uri(), wait_until="load")
    table = page.locator("table.runs").first
    header = table.locator("th", has_text="Training time (s)")
    column = [h.strip() for h in table.locator("th").all_inner_texts()].index("Training time (s)")

    def times():
        cells = table.locator(f"tbody tr td:nth-child({column + 1})").all_inner_texts()
        return [float(c.replace(",", "")) for c in cells if c.strip()]

    header.click()
    ascending = times()
    assert ascending == sorted(ascending) and len(ascending) == 17  # 18 S0 rows, one failed (blank)
    header.click()
    assert times() == sorted(ascending, reverse=True)

    details = page.locator("#run-keras-mnist-alexnet-mnist-gpu-fp32-seed1")
    assert details.get_attribute("open") is None and not details.is_visible()  # its experiment is collapsed
    page.locator('a[href="#run-keras-mnist-alexnet-mnist-gpu-fp32-seed1"]').click()
    assert details.get_attribute("open") is not None and details.is_visible()
    curves = details.locator("svg.curves")
    assert curves.is_visible()
    # Two panels, train and validation each: 4 lines of 12 epochs, from the run's history.csv.
    assert curves.locator("polyline").count() == 4
    assert curves.locator("circle").count() == 4 * 12
    assert "Accuracy (fraction)" in curves.inner_html() and "Epoch" in curves.inner_html()
