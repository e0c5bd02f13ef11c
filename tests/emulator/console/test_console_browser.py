"""The console as a person sees it: headless Chromium (Debian's, driven by Playwright) on a
running emulator with live data (see conftest.py): every page at 1280 and 390 px wide, an
accessibility pass, keyboard focus, the live figures refreshing, the flush button, and the
way from a schedule to its execution's report.

Skipped without /usr/bin/chromium (`make browser` installs it), like the report's browser
tests. SMLOCAL_SCREENSHOTS=<folder> keeps the screenshots (the README's comes from here).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

from tests.browser_support import fits_the_window, png_pixels
from tests.emulator.console.conftest import ENDPOINT, GROUP, HOSTILE, SCHEDULE, TRAINING
from tests.support import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium: apt-get install -y chromium",
)
A11Y = (Path(__file__).parent / "a11y_check.js").read_text()
PAGES = {
    "endpoints": "/_smlocal/",
    "endpoint": f"/_smlocal/endpoints/{ENDPOINT}",
    "captures": "/_smlocal/captures",
    "capture": f"/_smlocal/captures/{ENDPOINT}",
    "monitoring": "/_smlocal/monitoring",
    "schedule": f"/_smlocal/monitoring/{SCHEDULE}",
    "jobs": "/_smlocal/jobs",
    "training": f"/_smlocal/jobs/training/{TRAINING}",
    "registry": "/_smlocal/registry",
    "group": f"/_smlocal/registry/{GROUP}",
    "delete": f"/_smlocal/endpoints/{ENDPOINT}/delete",
    "missing": "/_smlocal/endpoints/nothing-here",
}


@pytest.fixture(scope="module")
def browser(live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One Chromium for the module, with a fresh profile; every request but the emulator's
    is refused (the console must need nothing from the network)."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        outside: list[str] = []

        def only_the_emulator(route: Route) -> None:
            if route.request.url.startswith(live.url + "/"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_emulator)
        yield context
        context.close()
        assert outside == []


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A tab that fails the test on any dialog (a script ran) or console error (a CSP
    violation is one)."""
    tab = browser.new_page()
    events: list[str] = []
    tab.on("dialog", lambda dialog: (events.append(f"dialog {dialog.message}"), dialog.dismiss()))
    tab.on("console", lambda m: events.append(f"console {m.text}") if m.type == "error" else None)
    yield tab
    tab.close()
    assert [e for e in events if "404 (Not Found)" not in e] == []


def screenshot(page: Page, name: str, width: int, folder: Path) -> None:
    """A screenshot of the window, checked: as wide as the window, and not blank."""
    shot = folder / f"console-{name}-{width}.png"
    page.screenshot(path=str(shot))
    found, height, rows = png_pixels(shot.read_bytes())
    assert (found, height) == (width, 900)
    step = len(rows[0]) // found
    pixels = [row[x : x + 3] for row in rows[::4] for x in range(0, len(row), step * 4)]
    assert len(set(pixels)) > 8, name  # text, borders, statuses
    keep = os.environ.get("SMLOCAL_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def keyboard_reaches_everything(page: Page) -> None:
    """Tab walks every link, button and scrolling region once, the first stop is the skip
    link, and each focused element shows a focus outline."""
    focusable = page.evaluate(
        "[...document.querySelectorAll('a[href], button, [tabindex=\"0\"]')]"
        ".filter(e => e.getClientRects().length).length"
    )
    stops: list[dict] = []
    for _ in range(focusable + 2):
        page.keyboard.press("Tab")
        stop = page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body || e.dataset.reached) return null;
              e.dataset.reached = "1";
              const style = getComputedStyle(e);
              const rect = e.getBoundingClientRect();
              return {name: e.tagName + " " + (e.textContent || "").trim().slice(0, 30),
                      outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
                      onScreen: rect.left >= 0 && rect.right <= innerWidth + 1};
            }"""
        )
        if stop is None:
            break
        stops.append(stop)
    assert stops, "Tab focused nothing"
    assert stops[0]["name"] == "A Skip to content"
    assert len(stops) == focusable
    assert [s["name"] for s in stops if not (s["outline"] and s["onScreen"])] == []


def charts_are_drawn_inside_the_window(page: Page, width: int) -> None:
    """The schedule page's distribution charts: two per numeric feature, each named, at a
    readable size and inside the window."""
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() >= 4
    current = page.get_by_role("img", name="Current distribution of f0")
    current.scroll_into_view_if_needed()
    assert current.is_visible()
    for box in (charts.nth(i).bounding_box() for i in range(charts.count())):
        assert box is not None
        assert box["width"] >= 150
        assert 0 <= box["x"] <= width - box["width"]


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_and_passes_the_accessibility_pass(live, page: Page, width: int,
                                                           tmp_path: Path) -> None:  # fmt: skip
    page.set_viewport_size({"width": width, "height": 900})
    for name, path in PAGES.items():
        answer = page.goto(live.url + path)
        assert answer is not None
        assert answer.status == (404 if name == "missing" else 200), name
        assert page.locator("h1").count() == 1
        fits_the_window(page)
        assert page.evaluate(A11Y) == [], name
        screenshot(page, name, width, tmp_path)
        if name == "schedule":
            charts_are_drawn_inside_the_window(page, width)
            screenshot(page, "schedule-charts", width, tmp_path)
        if width == 1280:
            keyboard_reaches_everything(page)


def test_the_pages_show_the_live_data(live, page: Page) -> None:
    page.goto(live.url + "/_smlocal/")
    page.get_by_role("link", name=ENDPOINT, exact=True).click()
    assert page.get_by_role("heading", name=f"Endpoint {ENDPOINT}").is_visible()
    assert page.get_by_text("InService").first.is_visible()
    facts = page.locator("dl.facts").first.inner_text()
    assert "ml.m5.large" in facts
    assert "s3://mon/model/model.tar.gz" in facts
    page.get_by_role("link", name="Monitoring").click()
    page.get_by_role("link", name=SCHEDULE).click()
    violations = page.locator("ul.violations").first
    assert "data_type_check" in violations.inner_text()
    assert page.get_by_role("region", name="Statistics per feature").is_visible()
    page.get_by_role("link", name="report").first.click()
    assert "CompletedWithViolations" in page.get_by_role("status").inner_text()
    page.goto(live.url + "/_smlocal/registry")
    assert page.get_by_text(HOSTILE).is_visible()  # text, never markup
    assert page.locator("script:not([src])").count() == 0


def test_live_figures_refresh_without_a_reload(live, page: Page) -> None:
    page.goto(f"{live.url}/_smlocal/endpoints/{ENDPOINT}")
    cell = page.locator('tr[data-variant="A"] td[data-field="Invocations"]')
    before = int(cell.inner_text().replace(",", ""))
    chart = page.get_by_role("img", name="Distribution of the model latency (ms) of the "
                                          "latest invocations of variant A")  # fmt: skip
    first = chart.get_attribute("src")
    page.evaluate("window.sameDocument = true")
    runtime = live.emulator.client("sagemaker-runtime")
    for _ in range(5):
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"4.9,3.0,1.4,0.2",
                                ContentType="text/csv", TargetVariant="A")  # fmt: skip
    page.wait_for_function(
        "([selector, wanted]) => document.querySelector(selector).textContent.replace(/,/g, '') == wanted",
        arg=['tr[data-variant="A"] td[data-field="Invocations"]', str(before + 5)],
        timeout=15_000,
    )
    assert page.evaluate("window.sameDocument") is True
    p50 = page.locator('tr[data-variant="A"] td[data-field="P50"]').inner_text()
    assert re.fullmatch(r"[\d.]+", p50)
    assert chart.get_attribute("src") != first  # the poll reloads the chart too
    page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=chart.element_handle())


def test_flush_now_uploads_what_is_spooled(live, page: Page) -> None:
    runtime = live.emulator.client("sagemaker-runtime")
    runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"4.9,3.0,1.4,0.2",
                            ContentType="text/csv", TargetVariant="A")  # fmt: skip
    page.goto(f"{live.url}/_smlocal/captures/{ENDPOINT}")
    page.get_by_role("button", name="Flush now").click()
    page.wait_for_url(re.compile(r".*\?flushed=\d+$"))
    assert re.fullmatch(
        r"Flushed: [1-9]\d* file\(s\) uploaded to S3\.", page.get_by_role("status").inner_text()
    )
    assert page.locator("article.record").first.get_by_text("4.9,3.0,1.4,0.2").is_visible()


def test_the_accessibility_pass_finds_what_it_checks(page: Page) -> None:
    page.set_content(
        "<html><head><title></title></head><body><main><h1>One</h1><h1>Two</h1>"
        '<p style="color:#bbb">faint</p><button></button><table><tr><th>x</th></tr></table>'
        '<a href="#"><span></span></a></main></body></html>'
    )
    problems = page.evaluate(A11Y)
    assert problems[:3] == ["html has no lang", "the page has no title",
                            "the page needs exactly one h1"]  # fmt: skip
    assert 'no accessible name: button ""' in problems
    assert 'no accessible name: a ""' in problems
    assert 'header cell without scope: th "x"' in problems
    assert any(p.startswith("contrast 1.") and p.endswith('p "faint"') for p in problems)
