"""The HTML report in headless Chromium: it loads without console errors or network
requests, shows the summary, plots, task table and trajectory viewer, its controls
work, and a screenshot renders. ``make test`` installs Chromium (target ``browser``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from thinktank.evals.reports.report import write_report

from .chromium import Chromium, Page, chromium_binary
from .runner_support import make_rich_run

BINARY = chromium_binary()
pytestmark = pytest.mark.skipif(
    BINARY is None, reason="Chromium is not installed (`make test` installs it: target `browser`)"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = make_rich_run(tmp_path_factory.mktemp("browser") / "run")
    write_report(run)
    return run / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    assert BINARY is not None
    chromium = Chromium(BINARY).start()
    yield chromium
    chromium.stop()


@pytest.fixture
async def page(browser: Chromium, report: Path) -> AsyncIterator[Page]:
    p = await browser.page()
    await p.goto(report.as_uri())
    yield p
    await p.close()


async def test_report_loads_cleanly_with_its_elements(page: Page, report: Path) -> None:
    assert await page.eval("document.body.dataset.ready") == "true"  # the script ran to the end
    assert await page.eval("document.querySelectorAll('#summary-table tbody tr').length") == 3
    assert await page.eval("document.querySelectorAll('#task-table tbody tr').length") == 5
    widths = await page.eval("[...document.querySelectorAll('img.plot')].map(i => i.naturalWidth)")
    assert len(widths) == 2 and all(w >= 400 for w in widths)  # the embedded PNGs decode
    assert await page.eval("document.querySelectorAll('details.run').length") == 15
    assert await page.eval("document.querySelectorAll('details.run.err').length") == 2
    assert await page.eval("document.querySelectorAll('details.decisions').length") == 5
    assert await page.eval("document.querySelectorAll('details.verdicts').length") == 8
    assert await page.eval("document.querySelectorAll('.msg.tool').length") >= 10
    assert (
        await page.eval("document.querySelectorAll('img:not(.plot)').length") == 0
    )  # no injected markup
    assert page.errors == []
    assert {u for u in page.requests if not u.startswith("data:")} == {report.as_uri()}


async def test_viewer_controls(page: Page) -> None:
    shown = "Number(document.getElementById('shown').textContent)"
    assert await page.eval(shown) == 15
    await page.eval("document.getElementById('only-wrong').click()")
    assert await page.eval(shown) == 9  # t1 (wrong), t2 (wrong), t3 (error) in all 3 graphs
    await page.eval("document.getElementById('only-wrong').click()")
    await page.eval(
        "const f = document.getElementById('filter'); f.value = 't4';"
        "f.dispatchEvent(new Event('input'))"
    )
    assert await page.eval(shown) == 3
    await page.eval("document.getElementById('expand').click()")
    assert await page.eval("[...document.querySelectorAll('details.run')].every(d => d.open)")
    await page.eval("document.getElementById('collapse').click()")
    link = "document.querySelector('#task-table a.open-run')"
    target = await page.eval(f"{link}.getAttribute('href').slice(1)")
    await page.eval(f"{link}.click()")
    assert await page.eval(f"document.getElementById('{target}').open") is True
    assert page.errors == []


async def test_screenshot(page: Page, tmp_path: Path) -> None:
    await page.eval("document.getElementById('expand').click()")
    data = await page.screenshot()
    (tmp_path / "report.png").write_bytes(data)  # kept for a person to look at when it fails
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    assert (tmp_path / "report.png").stat().st_size == len(data)
