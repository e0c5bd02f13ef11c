"""`smlocal monitor report`: the page's content, self-containment, escaping, inputs and CLI."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import CHURN, CHURN_FAULTS, churn_traffic, run_job, write_csv

from smlocal.emulator.cli import main
from smlocal.model_monitor import report_svg
from smlocal.model_monitor.report import (
    DEFAULT_TITLE,
    ReportSources,
    default_title,
    execution_info,
    render_report,
    write_report,
)
from smlocal.model_monitor.report_data import build_report

HOSTILE = ("<script>alert(1)</script>", 'a "quoted" & <b>bold</b> name')
# Tags the page is made of: anything else (script, img, link, b, ...) came from the data.
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "nav", "h1",
    "h2", "h3", "p", "dl", "dt", "dd", "div", "span", "a", "code", "ul", "ol", "li", "table",
    "colgroup", "col", "thead", "tbody", "tr", "th", "td", "article", "figure", "figcaption",
    "svg", "desc", "rect", "path", "line", "text", "wbr",
}  # fmt: skip


class _Page(HTMLParser):
    """Tags, attributes and text of a page, as a browser's parser splits them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A churn baseline, and an execution over broken churn traffic (with drift metrics)."""
    root = tmp_path_factory.mktemp("churn")
    assert run_job(CHURN, root / "baseline").status == "Completed"
    traffic = churn_traffic(root / "traffic.csv")
    result = run_job(traffic, root / "run", root / "baseline", publish_cloudwatch_metrics="Enabled")
    assert result.status == "CompletedWithViolations"
    drift = {m.metric_name: m.value for m in result.metrics if "baseline_drift" in m.metric_name}
    (root / "drift.json").write_text(json.dumps(drift))
    return root


def _churn_page(churn: Path, **options: Any) -> str:
    output = write_report(
        churn / "run",
        churn / "baseline" / "statistics.json",
        churn / "report.html",
        baseline_constraints=churn / "baseline" / "constraints.json",
        **options,
    )
    return output.read_text(encoding="utf-8")


def _article(page: str, name: str) -> str:
    """The HTML of the feature section whose charts are labelled with `name`."""
    at = page.index(f'aria-label="Baseline distribution of {escape(name)}"')
    return page[page.rindex("<article", 0, at) : page.index("</article>", at)]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_page_is_one_file_with_no_external_references(churn: Path) -> None:
    page = _churn_page(churn, title="Churn")
    parsed = _parse(page)
    assert parsed.tags <= PAGE_TAGS
    for tag, name, value in parsed.attributes:
        assert name not in ("src", "srcset", "action", "formaction", "background"), (tag, name)
        if name in ("href", "xlink:href"):
            assert value.startswith("#"), (tag, value)  # in-page links only
        if name == "xmlns":
            assert value == "http://www.w3.org/2000/svg"
    assert "@import" not in page
    assert "url(" not in page
    assert "https://" not in page
    assert re.findall(r"http://[^\s\"']*", page) == ["http://www.w3.org/2000/svg"] * 140
    csp = [v for t, n, v in parsed.attributes if t == "meta" and n == "content" and "src" in v]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]


def test_the_page_shows_status_violations_and_every_feature(churn: Path) -> None:
    page = _churn_page(churn, title="Churn")
    text = " ".join(_parse(page).text)
    assert "<title>Churn</title>" in page
    assert "CompletedWithViolations: Job completed successfully with 3 violations." in text
    assert "2,333 rows" in text
    assert "400 rows" in text
    assert "70 (3 with violations)" in text
    names = [f["name"] for f in _load(churn / "baseline" / "statistics.json")["features"]]
    for name in names:
        assert f'aria-label="Baseline distribution of {escape(name)}"' in page
        assert f'aria-label="Current distribution of {escape(name)}"' in page
    # Flagged features come first, in the order of the violations table.
    flagged = re.findall(r'<article class="feature flagged" id="feature-(\d+)"', page)
    assert flagged == ["0", "1", "2"]
    listed = [
        v["feature_name"] for v in _load(churn / "run" / "constraint_violations.json")["violations"]
    ]
    assert sorted(listed) == sorted(CHURN_FAULTS)
    order = [page.index(f"Baseline distribution of {name}") for name in listed]
    assert order == sorted(order)
    assert order[-1] < page.index("Baseline distribution of Churn")
    for name, check in CHURN_FAULTS.items():
        wrapped = check.replace("_", "_<wbr>")  # may wrap after underscores
        assert re.search(rf'<a href="#feature-\d">{name}</a></td><td><code>{wrapped}</code>', page)


def test_drift_distances_are_the_ones_the_checks_computed(churn: Path) -> None:
    report = build_report(
        statistics=_load(churn / "run" / "statistics.json"),
        violations=_load(churn / "run" / "constraint_violations.json"),
        baseline_statistics=_load(churn / "baseline" / "statistics.json"),
        baseline_constraints=_load(churn / "baseline" / "constraints.json"),
        title="t",
    )
    metrics = _load(churn / "drift.json")
    shown = {f.name: f.drift for f in report.features if f.drift is not None}
    assert set(shown) == {name.removeprefix("feature_baseline_drift_") for name in metrics}
    for name, drift in shown.items():
        assert drift.value == metrics[f"feature_baseline_drift_{name}"], name
        assert (drift.threshold, drift.method) == (0.1, "Robust")
    day = next(f for f in report.features if f.name == "Day Mins")
    assert day.drift is not None
    assert day.drift.exceeded
    assert f"Baseline drift distance: {day.drift.value!r} exceeds" in day.violations[0].description
    # The distance compared is the raw one minus Robust's small-sample allowance, shown with
    # both: 1.8 * sqrt((n + m) / (n * m)) for the baseline's n and the current m values.
    assert day.baseline is not None
    assert day.current is not None
    n, m = day.baseline.present, day.current.present
    assert day.drift.allowance == pytest.approx(1.8 * math.sqrt((n + m) / (n * m)))
    assert day.drift.raw is not None
    assert day.drift.value == pytest.approx(day.drift.raw - day.drift.allowance)
    assert (
        '<p class="drift exceeded">Drift distance: 0.7396 = raw distance 0.837 minus small-sample '
        "allowance 0.09741 · threshold 0.1 · Robust</p>"
    ) in _article(_churn_page(churn), "Day Mins")
    for drift in shown.values():
        assert drift.raw is not None
        assert drift.allowance is not None
        assert drift.value == pytest.approx(max(0.0, drift.raw - drift.allowance))
    account = next(f for f in report.features if f.name == "Account Length")
    assert account.drift is None  # Integral in the baseline, Fractional now: not compared
    assert "No drift distance: the inferred types differ." in _churn_page(churn)


def _names_run(tmp_path: Path, current: list[str], rows: list[tuple[object, ...]]) -> Path:
    """A baseline with hostile and string columns, and an execution with other columns."""
    header = ["city", *HOSTILE, "gone"]
    base = [(c, i % 5, i % 3, i) for i, c in enumerate(["Paris", "Lyon", "Nice", "Lille"] * 30)]
    run_job(write_csv(tmp_path / "base.csv", base, header), tmp_path / "baseline")
    result = run_job(
        write_csv(tmp_path / "now.csv", rows, current), tmp_path / "run", tmp_path / "baseline"
    )
    assert result.status == "CompletedWithViolations"
    return tmp_path / "run"


def test_hostile_feature_names_are_shown_as_text(tmp_path: Path) -> None:
    rows = [(c, 7, i % 3) for i, c in enumerate(["Paris", "Lyon", "<i>Nice</i>"] * 20)]
    run = _names_run(tmp_path, ["city", *HOSTILE], rows)
    page = write_report(
        run, tmp_path / "baseline" / "statistics.json", tmp_path / "r.html", title=HOSTILE[0]
    ).read_text(encoding="utf-8")
    parsed = _parse(page)
    assert parsed.tags <= PAGE_TAGS  # no <script>, <b> or <i> from the data
    assert "<script" not in page.lower()
    text = "".join(parsed.text)
    for name in (*HOSTILE, "<i>Nice</i>"):
        assert name in text
    assert f"<title>{HOSTILE[0].replace('<', '&lt;').replace('>', '&gt;')}</title>" in page
    labels = [v for _, n, v in parsed.attributes if n == "aria-label"]
    assert f"Current distribution of {HOSTILE[1]}" in labels


def test_features_only_on_one_side(tmp_path: Path) -> None:
    rows = [(c, i % 5, i % 3) for i, c in enumerate(["Paris", "Lyon", "Nice", "Lille"] * 5)]
    run = _names_run(tmp_path, ["city", *HOSTILE], rows)  # "gone" is missing now
    baseline = tmp_path / "baseline" / "statistics.json"
    page = write_report(run, baseline, tmp_path / "r.html").read_text(encoding="utf-8")
    gone = _article(page, "gone")
    assert 'id="feature-0"' in gone  # flagged, so first
    assert re.search(r">gone\s*<", gone)
    assert "missing_column_check" in gone
    assert "Not in the current data" in gone
    assert 'aria-label="Baseline distribution of gone"' in gone
    # The other way round: a feature only the current statistics have.
    current = _load(run / "statistics.json")
    current["features"].append({**current["features"][0], "name": "new"})
    (run / "statistics.json").write_text(json.dumps(current), encoding="utf-8")
    page = write_report(run, baseline, tmp_path / "r.html").read_text(encoding="utf-8")
    new = page[page.rindex("<article") :]
    assert re.search(r">new\s*<", new)
    assert "Not in the baseline statistics" in new
    assert 'aria-label="Current distribution of new"' in new


def test_string_features_show_category_bars(tmp_path: Path) -> None:
    rows = [(c, i % 5, i % 3) for i, c in enumerate(["Paris"] * 15 + ["Rome"] * 5)]
    run = _names_run(tmp_path, ["city", *HOSTILE], rows)
    page = write_report(run, tmp_path / "baseline" / "statistics.json", tmp_path / "r.html")
    text = page.read_text(encoding="utf-8")
    city = _article(text, "city")
    assert city.count('<rect class="bar"') == 4 + 2  # Paris, Lyon, Nice, Lille; Paris, Rome
    assert "<title>Rome: 5 (25%)</title>" in city
    assert "Drift distance:" in city


def test_a_run_without_violations_says_so(churn: Path, tmp_path: Path) -> None:
    clean = churn_traffic(tmp_path / "clean.csv", faults=False)
    assert run_job(clean, tmp_path / "run", churn / "baseline").status == "Completed"
    page = write_report(tmp_path / "run", churn / "baseline" / "statistics.json", tmp_path / "r")
    text = page.read_text(encoding="utf-8")
    assert "Completed: Job completed successfully with no violations." in text
    assert "No violations: every check passed." in text
    assert 'class="feature flagged"' not in text
    assert "All features (70)" in text


def test_a_constant_column_still_shows_its_bar() -> None:
    buckets = [(3.0, 3.0, 0.0)] * 9 + [(3.0, 3.0, 12.0)]
    scale = report_svg.NumericScale.of(buckets)
    chart = report_svg.numeric_chart(buckets, scale, label="x", css="baseline")
    (width,) = re.findall(r'<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', chart)
    assert float(width) >= report_svg.MIN_BAR
    assert "<title>3 to 3: 12 (100%)</title>" in chart


def test_execution_details_from_the_output_folder(tmp_path: Path) -> None:
    folder = tmp_path / "reports" / "my-endpoint" / "my-schedule" / "2022" / "04" / "18" / "01"
    info = execution_info(folder)
    assert (info.endpoint_name, info.schedule_name) == ("my-endpoint", "my-schedule")
    assert info.scheduled_hour == datetime(2022, 4, 18, 1, tzinfo=UTC)
    assert (
        default_title(info) == f"{DEFAULT_TITLE}: my-endpoint / my-schedule, 2022-04-18 01:00 UTC"
    )
    assert execution_info(tmp_path / "run") == execution_info("")
    assert default_title(execution_info("s3://b/run/")) == DEFAULT_TITLE


def _copy_run(churn: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("statistics.json", "constraint_violations.json", "constraints.json"):
        (folder / name).write_bytes((churn / "run" / name).read_bytes())
    return folder


def test_cli_with_a_folder_or_with_files(
    churn: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy_run(churn, tmp_path / "out" / "ep" / "hourly" / "2022" / "04" / "18" / "01")
    baseline = str(churn / "baseline" / "statistics.json")
    output = tmp_path / "html" / "report.html"
    args = ["monitor", "report", str(run), "--baseline-statistics", baseline]
    assert main([*args, "--output", str(output), "--start", "2022-04-18T00:00:00Z"]) == 0
    assert capsys.readouterr().out == f"wrote {output}\n"
    page = output.read_text(encoding="utf-8")
    assert "<title>Model Monitor report: ep / hourly, 2022-04-18 00:00 UTC</title>" in page
    assert "<dd>2022-04-18 00:00:00 UTC to …</dd>" in page

    files = [
        "--statistics", str(run / "statistics.json"),
        "--violations", str(run / "constraint_violations.json"),
        "--baseline-constraints", str(churn / "baseline" / "constraints.json"),
        "--endpoint-name", "churn-endpoint",
    ]  # fmt: skip
    args = ["monitor", "report", *files, "--baseline-statistics", baseline, "--title", "T"]
    assert main([*args, "--output", str(output)]) == 0
    page = output.read_text(encoding="utf-8")
    assert "<title>T</title>" in page
    assert "<dd>churn-endpoint</dd>" in page
    assert "Baseline constraints: type Integral, completeness 100%" in page


def test_cli_errors(churn: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = ["--baseline-statistics", str(churn / "baseline" / "statistics.json")]
    output = ["--output", str(tmp_path / "r.html")]
    assert main(["monitor", "report", *baseline, *output]) == 2
    assert "give an execution folder, or --statistics and --violations" in capsys.readouterr().err
    assert main(["monitor", "report", str(tmp_path / "nowhere"), *baseline, *output]) == 1
    missing = tmp_path / "nowhere" / "statistics.json"
    assert f"The statistics file {missing} does not exist" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "statistics.json").write_text("{", encoding="utf-8")
    assert main(["monitor", "report", str(tmp_path / "bad"), *baseline, *output]) == 1
    assert "is not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_inputs_on_s3(churn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="mm-reports")
        prefix = "reports/ep/hourly/2022/04/18/01"
        for name in ("statistics.json", "constraint_violations.json"):  # no constraints.json
            s3.upload_file(str(churn / "run" / name), "mm-reports", f"{prefix}/{name}")
        s3.upload_file(str(churn / "baseline" / "statistics.json"), "mm-reports", "base/s.json")
        sources = ReportSources.from_execution(
            f"s3://mm-reports/{prefix}/", "s3://mm-reports/base/s.json"
        )
        page = render_report(sources, info=execution_info(f"s3://mm-reports/{prefix}/"))
        assert "<title>Model Monitor report: ep / hourly, 2022-04-18 01:00 UTC</title>" in page
        assert "3 violations" in page
        assert f"<code>s3://mm-reports/{prefix}/statistics.json</code>" in page
        assert "constraints.json</code>" not in page  # absent, so not listed
        with pytest.raises(Exception, match="The baseline statistics file s3://mm-reports/x does"):
            render_report(
                ReportSources.from_execution(f"s3://mm-reports/{prefix}", "s3://mm-reports/x")
            )


def test_odd_statistics_still_render() -> None:
    """Any valid JSON: NaN numbers, no buckets, strings without categories, unknown keys."""
    from smlocal.model_monitor.report_html import render_html

    numeric = {"common": {"num_present": 0, "num_missing": 5}, "mean": float("nan")}
    baseline = {
        "features": [
            {"name": "empty", "inferred_type": "Fractional", "numerical_statistics": numeric},
            {
                "name": "text",
                "inferred_type": "String",
                "string_statistics": {"common": {"num_present": 9}, "distinct_count": 900.0},
            },
            {"name": "odd", "inferred_type": "Unknown", "extra": [1]},
        ]
    }
    report = build_report(
        statistics={"dataset": {"item_count": 5}, "features": baseline["features"][:2]},
        violations={"violations": []},
        baseline_statistics=baseline,
        title="odd",
    )
    page = render_html(report)
    assert "No values present, so no buckets" in page
    assert "About 900 distinct values: too many for category buckets" in page
    assert "No distribution in the statistics" in page
    assert "Not in the current data" in page
    assert '<td class="n">nan</td>' in page
    assert "<dd>unknown</dd>" in page  # the baseline's item count


def test_each_statistics_document_is_checked_once(
    churn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report checks a statistics document where it reads it, and its later readers
    (features, drift) take it as checked: a large document is walked once, not three times."""
    from smlocal.model_monitor import statistics

    checked: list[int] = []
    walk = statistics._problem

    def counting(value: Any, shape: Any, where: str) -> str | None:
        if where == "":  # the whole document, not a part of it
            checked.append(id(value))
        return walk(value, shape, where)

    monkeypatch.setattr(statistics, "_problem", counting)
    write_report(churn / "run", churn / "baseline" / "statistics.json", tmp_path / "r.html")
    assert len(checked) == 2  # the current statistics and the baseline's, once each
    assert len(set(checked)) == 2
    checked.clear()
    document = _load(churn / "baseline" / "statistics.json")
    build_report(
        statistics=document,
        violations={"violations": []},
        baseline_statistics=_load(churn / "baseline" / "statistics.json"),
        title="t",
    )
    assert len(checked) == 2  # build_report on its own checks what it is given, once each


def test_build_report_names_the_statistics_of_the_wrong_type() -> None:
    from smlocal.model_monitor.errors import AnalysisError

    good = {"features": []}
    for baseline, current, message in [
        ({"features": 3}, {"features": 4}, "Invalid baseline statistics: features must be"),
        (good, {"features": 4}, "Invalid current statistics: features must be a JSON array, not 4"),
    ]:
        with pytest.raises(AnalysisError, match=f"^{re.escape(message)}"):
            build_report(
                statistics=current,
                violations={"violations": []},
                baseline_statistics=baseline,
                title="t",
            )


def test_unreadable_inputs_are_reported(tmp_path: Path) -> None:
    from smlocal.model_monitor.errors import AnalysisError

    (tmp_path / "statistics.json").write_text('{"features": 3}', encoding="utf-8")
    (tmp_path / "constraint_violations.json").write_text('{"violations": []}', encoding="utf-8")
    (tmp_path / "base.json").write_text('{"features": []}', encoding="utf-8")
    with pytest.raises(AnalysisError) as caught:
        write_report(tmp_path, tmp_path / "base.json", tmp_path / "r.html")
    assert str(caught.value) == (
        f"The statistics file {tmp_path / 'statistics.json'}: features must be a JSON array, not 3"
    )
    (tmp_path / "statistics.json").write_text('{"features": []}', encoding="utf-8")
    (tmp_path / "constraint_violations.json").write_text("[]", encoding="utf-8")
    with pytest.raises(AnalysisError, match="Invalid constraint violations"):
        write_report(tmp_path, tmp_path / "base.json", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
