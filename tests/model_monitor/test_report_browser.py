"""The report as a person sees it: rendered by headless Chromium (Debian's), driven by Playwright.

Needs the Debian package `chromium` (/usr/bin/chromium) and the `playwright` Python package
(the `dev` extra); Playwright's own browser downloads are not used. Without /usr/bin/chromium
these tests are skipped, with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from monitor_helpers import CHURN, CHURN_FAULTS, churn_traffic, run_job, write_csv
from playwright.sync_api import BrowserContext, Page, sync_playwright

from smlocal.model_monitor.report import write_report
from tests.browser_support import no_horizontal_overflow, png_pixels
from tests.support import CHROMIUM, CHROMIUM_ARGS

HOSTILE = "<script>alert('x')</script>"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium: apt-get install -y chromium",
)


@dataclass(frozen=True)
class Reports:
    """The report pages of the module's executions."""

    violations: Path
    clean: Path
    hostile: Path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """A churn baseline with two executions (broken and clean traffic), and one whose columns
    have hostile names and strings."""
    root = tmp_path_factory.mktemp("reports")
    baseline = root / "baseline"
    assert run_job(CHURN, baseline).status == "Completed"
    broken = run_job(churn_traffic(root / "broken.csv"), root / "broken", baseline)
    assert broken.status == "CompletedWithViolations"
    clean = run_job(churn_traffic(root / "clean.csv", faults=False), root / "clean", baseline)
    assert clean.status == "Completed"

    header = ["city", HOSTILE, "amount"]
    cities = ["Paris", "Lyon", "Nice", "Lille"]
    rows = [(cities[i % 4], i % 5, i) for i in range(200)]
    run_job(write_csv(root / "h.csv", rows, header), root / "hbase")
    now = [("<b>Rome</b>", 7, i) for i in range(50)]
    run_job(write_csv(root / "h2.csv", now, header), root / "hrun", root / "hbase")

    def page(run: str, base: Path, title: str) -> Path:
        statistics = base / "statistics.json"
        return write_report(
            root / run,
            statistics,
            root / f"{run}.html",
            title=title,
            baseline_constraints=base / "constraints.json",
        )

    return Reports(
        violations=page("broken", baseline, "Churn monitoring, broken traffic"),
        clean=page("clean", baseline, "Churn monitoring, clean traffic"),
        hostile=page("hrun", root / "hbase", HOSTILE),
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One Chromium for the module, offline, with a fresh profile."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            offline=True,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A tab that fails the test on any dialog (a script ran) or outside request."""
    tab = browser.new_page()
    tab.set_viewport_size({"width": 1280, "height": 900})
    events: list[str] = []
    tab.on("dialog", lambda dialog: (events.append(f"dialog {dialog.message}"), dialog.dismiss()))
    tab.on("request", lambda r: events.append(r.url) if not r.url.startswith("file:") else None)
    tab.on("console", lambda m: events.append(f"console {m.text}") if m.type == "error" else None)
    yield tab
    tab.close()
    assert events == []


def _open(page: Page, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


def _assert_not_blank(png: Path) -> None:
    width, height, rows = png_pixels(png.read_bytes())
    assert (width, height) == (1280, 900)
    step = len(rows[0]) // width
    pixels = [row[x : x + 3] for row in rows[::4] for x in range(0, len(row), step * 4)]
    background = max(set(pixels), key=pixels.count)
    assert len(set(pixels)) > 20  # text, bars, borders
    assert sum(p != background for p in pixels) > len(pixels) // 50


def _bar_heights(page: Page, label: str) -> list[float]:
    chart = page.get_by_role("img", name=label, exact=True)
    assert chart.count() == 1, label
    assert chart.is_visible()
    boxes = [bar.bounding_box() for bar in chart.locator("rect.bar").all()]
    return [box["height"] for box in boxes if box is not None]


def test_a_report_with_violations(page: Page, reports: Reports, tmp_path: Path) -> None:
    _open(page, reports.violations)
    assert page.title() == "Churn monitoring, broken traffic"
    status = page.get_by_role("status")
    assert status.inner_text() == (
        "CompletedWithViolations: Job completed successfully with 3 violations."
    )

    table = page.get_by_role("table", name="Violations (3)")
    rows = [
        [cell.inner_text() for cell in row.locator("td").all()[:2]]
        for row in table.locator("tbody tr").all()
    ]
    assert sorted(map(tuple, rows)) == sorted(CHURN_FAULTS.items())
    for name, check in CHURN_FAULTS.items():
        section = page.locator("article.flagged").filter(has=page.get_by_role("heading", name=name))
        assert section.count() == 1
        assert "violation" in section.locator(".flag").inner_text()
        assert check in section.inner_text()
        for side in ("Baseline", "Current"):
            heights = _bar_heights(page, f"{side} distribution of {name}")
            assert heights
            assert max(heights) > 10  # px: a bar a person can see
        # The violations table links to the section.
        table.get_by_role("link", name=name).click()
        assert section.bounding_box() is not None
        assert page.evaluate("location.hash") == f"#{section.get_attribute('id')}"
    assert page.locator("article.flagged").count() == 3
    assert page.locator("article.feature").count() == 70
    assert (
        # The distance compared is the raw one minus Robust's small-sample allowance.
        "Drift distance: 0.7396 = raw distance 0.837 minus small-sample allowance 0.09741"
        " · threshold 0.1 · Robust"
        in page.locator("article.flagged")
        .filter(has=page.get_by_role("heading", name="Day Mins"))
        .inner_text()
    )

    page.evaluate("window.scrollTo(0, 0)")
    no_horizontal_overflow(page)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    _assert_not_blank(shot)


def test_a_report_without_violations(page: Page, reports: Reports) -> None:
    _open(page, reports.clean)
    assert page.title() == "Churn monitoring, clean traffic"
    assert page.get_by_role("status").inner_text() == (
        "Completed: Job completed successfully with no violations."
    )
    assert page.get_by_text("No violations: every check passed.").is_visible()
    assert page.get_by_role("heading", name="Violations (0)").is_visible()
    assert page.locator("article.flagged").count() == 0
    assert max(_bar_heights(page, "Current distribution of Day Mins")) > 10
    no_horizontal_overflow(page)


def test_hostile_names_are_text_and_a_narrow_window_still_fits(
    page: Page, reports: Reports, tmp_path: Path
) -> None:
    _open(page, reports.hostile)
    assert page.title() == HOSTILE
    assert page.locator("script").count() == 0
    assert page.get_by_role("heading", name=HOSTILE, exact=True).is_visible()
    assert page.get_by_role("img", name=f"Current distribution of {HOSTILE}").is_visible()
    city = _bar_heights(page, "Current distribution of city")
    assert len(city) == 1  # every value is the new "<b>Rome</b>"
    assert page.locator("b").count() == 0
    assert (
        page.get_by_role("img", name="Current distribution of city")
        .locator("title", has_text="<b>Rome</b>: 50 (100%)")
        .count()
        == 1
    )
    page.set_viewport_size({"width": 400, "height": 900})
    no_horizontal_overflow(page)
    page.screenshot(path=str(tmp_path / "narrow.png"), full_page=True)
