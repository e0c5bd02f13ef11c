"""The console's pages and actions over HTTP against a real emulator (see conftest.py)."""

from __future__ import annotations

import html as html_module
import re
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree

from tests.emulator.console.conftest import DOOMED, ENDPOINT, GROUP, HOSTILE, SCHEDULE, TRAINING
from tests.emulator.hosting.test_capture_flush import IRIS_ROWS

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def get(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, form: dict[str, str], **headers: str) -> tuple[int, dict[str, str], str]:
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def text(html: str) -> str:
    """The page's text, tags dropped and blanks folded (what a reader sees, roughly)."""
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


PAGES = [
    "/_smlocal/",
    f"/_smlocal/endpoints/{ENDPOINT}",
    f"/_smlocal/endpoints/{ENDPOINT}/delete",
    "/_smlocal/captures",
    f"/_smlocal/captures/{ENDPOINT}",
    "/_smlocal/monitoring",
    f"/_smlocal/monitoring/{SCHEDULE}",
    "/_smlocal/jobs",
    f"/_smlocal/jobs/training/{TRAINING}",
    "/_smlocal/registry",
    f"/_smlocal/registry/{GROUP}",
]


def test_every_page_is_html_under_the_strict_policy(live) -> None:
    for path in PAGES:
        status, headers, html = get(live.url + path)
        assert status == 200, (path, html)
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "<h1>" in html
        assert re.findall(r"<(?:script|link)[^>]*(?:src|href)=\"([^\"]+)\"", html) == [
            "/_smlocal/static/console.css", "/_smlocal/static/console.js"
        ], path  # fmt: skip
        assert " style=" not in html  # nothing inline
        assert "<script>" not in html
    status, headers, _ = get(live.url + "/_smlocal/static/console.css")
    assert (status, headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    status, headers, _ = get(live.url + "/_smlocal/static/console.js")
    assert (status, headers["Content-Type"]) == (200, "text/javascript; charset=utf-8")
    assert get(live.url + "/_smlocal")[0] == 200  # redirected to /_smlocal/


def test_the_endpoint_page_shows_variants_models_capture_and_history(live) -> None:
    page = text(get(f"{live.url}/_smlocal/endpoints/{ENDPOINT}")[2])
    assert f"Endpoint {ENDPOINT}" in page
    assert "Weight (current / configured) 1 / 1" in page
    assert "Weight (current / configured) 2 / 3" in page  # updated, not reconfigured
    assert "Instances (current / configured) 1 / 1 \N{MULTIPLICATION SIGN} ml.m5.large" in page
    assert "sagemaker-xgboost:1.7-1" in page
    assert "Model data s3://mon/model/model.tar.gz" in page
    assert "Destination s3://mon/capture" in page
    history = re.findall(r"UTC (Creating|Updating|RollingBack|InService)", page)
    assert history[:4] == ["Creating", "InService", "Updating", "InService"]
    assert history[4] == "Updating"  # to the broken model, then back
    assert history[-1] == "InService"
    assert re.search(r"UTC (RollingBack|InService) Update failed: ", page)
    assert "Failure reason: The update was rolled back: " in page


def live_figures(live) -> dict:
    import json

    status, headers, body = get(f"{live.url}/_smlocal/endpoints/{ENDPOINT}/live")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    return json.loads(body)


def counters(live) -> dict[str, list[int]]:
    """Each variant's sampled, spooled, uploaded, dropped and pending files, as the captures
    page shows them."""
    html = get(f"{live.url}/_smlocal/captures/{ENDPOINT}")[2]
    rows = re.findall(r"<th scope=\"row\">([AB])</th>\s*((?:<td class=\"num\">[\d,]+</td>)+)", html)
    return {v: [int(n.replace(",", "")) for n in re.findall(r">([\d,]+)<", c)] for v, c in rows}


# The browser tests (which may run first) send more traffic, none of it refused.
def test_live_figures_are_the_edges_own_counts(live) -> None:
    runtime = live.emulator.client("sagemaker-runtime")
    for _ in range(3):  # within the rate's minute, whatever ran before
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"5.0,3.4,1.5,0.2",
                                ContentType="text/csv", TargetVariant="B")  # fmt: skip
    figures = live_figures(live)
    assert sorted(figures) == ["A", "B"]
    a, b = figures["A"], figures["B"]
    assert a["Invocation4XXErrors"] + a["Invocation5XXErrors"] == live.refused
    assert b["Invocation4XXErrors"] + b["Invocation5XXErrors"] == 0
    assert b["Invocations"] >= live.invocations // 2
    assert a["Invocations"] >= live.invocations // 2 + live.refused
    # every answered invocation is captured (100 % sampling): the two counts agree
    sampled = counters(live)
    assert (a["Invocations"] - live.refused, b["Invocations"]) == (sampled["A"][0], sampled["B"][0])
    assert 0 < b["P50"] <= b["P90"] <= b["P99"]
    assert b["PerSecond"] >= round(3 / 60, 3)
    assert get(f"{live.url}/_smlocal/endpoints/nothing-here/live")[0] == 404


def test_the_captures_page_shows_counters_and_decoded_records(live) -> None:
    status, _, html = get(f"{live.url}/_smlocal/captures/{ENDPOINT}")
    assert status == 200
    page = text(html)
    assert f"S3 prefix s3://mon/capture/{ENDPOINT}/" in page
    for sampled, spooled, uploaded, dropped, pending in counters(live).values():
        assert sampled >= live.invocations // 2  # the refused invocations are not captured
        assert (spooled, dropped) == (sampled, 0)
        assert uploaded <= spooled
        assert pending >= 0
    shown = re.findall(
        r"Request text/csv · CSV ([\d.,]+) Response text/csv; charset=utf-8 · CSV", page
    )
    assert len(shown) == 10  # the latest records, newest file first
    assert set(shown) <= {*IRIS_ROWS, "5.0,3.4,1.5,0.2", "4.9,3.0,1.4,0.2"}
    link = re.search(r'href="(/_smlocal/s3/mon/capture/[^"]+\.jsonl)"', html)
    assert link is not None
    status, headers, jsonl = get(live.url + link.group(1))
    assert (status, headers["Content-Type"]) == (200, "text/plain; charset=utf-8")
    assert '"captureData"' in jsonl


def test_flush_now_takes_a_console_form_from_the_same_origin(live) -> None:
    runtime = live.emulator.client("sagemaker-runtime")
    live.emulator.flush_captures(ENDPOINT)
    before = counters(live)["B"]
    for _ in range(3):
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"5.0,3.4,1.5,0.2",
                                ContentType="text/csv", TargetVariant="B")  # fmt: skip
    html = get(f"{live.url}/_smlocal/captures/{ENDPOINT}")[2]
    action = f"{live.url}/_smlocal/captures/{ENDPOINT}/flush"
    own = live.url
    status, _, page = post(action, {"csrf": token(html)})  # no Origin: not from a page
    assert status == 403
    assert "Actions are taken only from the console's own pages" in text(page)
    status, _, page = post(action, {"csrf": "forged"}, Origin=own)
    assert status == 403
    assert "The form's token is missing or stale" in text(page)
    status, _, page = post(action, {"csrf": token(html)}, Origin="http://evil.example")
    assert status == 403
    assert "AccessDenied" in page  # the edge's guard, before the console
    assert counters(live)["B"][2] == before[2]  # nothing was flushed
    status, headers, _ = post(action, {"csrf": token(html)}, Origin=own)
    assert status == 303
    assert headers["Location"] == f"/_smlocal/captures/{ENDPOINT}?flushed=1"
    page = text(get(live.url + headers["Location"])[2])
    assert "Flushed: 1 file(s) uploaded to S3." in page
    after = counters(live)["B"]
    assert after[:3] == [before[0] + 3, before[1] + 3, before[2] + 3]
    assert after[4] == 0


def test_monitoring_shows_executions_violations_and_the_report(live) -> None:
    page = text(get(f"{live.url}/_smlocal/monitoring")[2])
    assert f"{SCHEDULE} Scheduled {ENDPOINT}" in page or f"{SCHEDULE} " in page
    assert "CompletedWithViolations" in page
    status, _, html = get(f"{live.url}/_smlocal/monitoring/{SCHEDULE}")
    page = text(html)
    assert "CompletedWithViolations" in page
    assert "data_type_check: Data type match requirement is not met." in page
    assert re.search(r"f0 Integral [\d,]+ / 0 .* Fractional", page)
    report = f"/_smlocal/monitoring/executions/{live.execution_job}/report"
    assert f'href="{report}"' in html
    status, headers, body = get(live.url + report)
    assert status == 200
    assert headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    assert "CompletedWithViolations" in text(body)


def test_jobs_show_statuses_transitions_metrics_and_logs(live) -> None:
    page = text(get(f"{live.url}/_smlocal/jobs")[2])
    assert f"{TRAINING} Completed" in page
    assert f"{live.baseline_job} Completed" in page
    assert f"{live.execution_job} Completed" in page
    page = text(get(f"{live.url}/_smlocal/jobs/training/{TRAINING}")[2])
    for step in ("Starting", "Downloading", "Training", "Uploading", "Completed"):
        assert f" {step} " in page, step
    assert re.search(r"validation:merror [\d.]+", page)
    assert f"{TRAINING}/algo-1-" in page
    page = text(get(f"{live.url}/_smlocal/jobs/processing/{live.baseline_job}")[2])
    assert "Processing job console-baseline Completed" in page
    assert f"{live.baseline_job}/algo-1-" in page


def test_the_registry_shows_groups_packages_and_escapes_text(live) -> None:
    html = get(f"{live.url}/_smlocal/registry")[2]
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#39;console&#39;)&lt;/script&gt;" in html
    page = text(get(f"{live.url}/_smlocal/registry/{GROUP}")[2])
    assert re.search(r"1 PendingManualApproval Completed", page)


def test_delete_endpoint_runs_delete_endpoint_after_confirmation(live) -> None:
    html = get(f"{live.url}/_smlocal/endpoints/{DOOMED}/delete")[2]
    assert f"Delete endpoint {DOOMED}?" in text(html)
    status, headers, _ = post(f"{live.url}/_smlocal/endpoints/{DOOMED}/delete",
                              {"csrf": token(html)}, Origin=live.url)  # fmt: skip
    assert (status, headers["Location"]) == (303, f"/_smlocal/?deleted={DOOMED}")
    sm = live.emulator.client("sagemaker")
    assert DOOMED not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]
                          if e["EndpointStatus"] != "Deleting"]  # fmt: skip
    # the API's own refusal, on the error page: a monitored endpoint is not deleted
    status, _, page = post(f"{live.url}/_smlocal/endpoints/{ENDPOINT}/delete",
                           {"csrf": token(html)}, Origin=live.url)  # fmt: skip
    assert status == 400
    assert SCHEDULE in text(page)
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"


def test_missing_things_and_foreign_hosts(live) -> None:
    status, headers, page = get(f"{live.url}/_smlocal/endpoints/nothing-here")
    assert status == 404
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'Could not find endpoint "arn:aws:sagemaker:' in text(page)
    status, headers, page = get(f"{live.url}/_smlocal/nothing")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert get(f"{live.url}/_smlocal/static/..%2Fapp.py")[0] == 404
    assert get(f"{live.url}/_smlocal/static/missing.css")[0] == 404
    status, _, page = get(f"{live.url}/_smlocal/", Host="console.evil.example")
    assert status == 403
    assert "DNS rebinding" in page


def test_smlocal_up_prints_the_console_url(live) -> None:
    assert f"console: {live.url}/_smlocal/\n" in live.emulator.log()


def _statistics(live, uri: str) -> dict[str, dict]:
    import json

    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = live.emulator.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return {f["name"]: f for f in json.loads(body)["features"]}


def _charts(html: str) -> dict[str, ElementTree.Element]:
    """The page's inline SVG charts by their accessible name."""
    found = re.findall(r"<svg .*?</svg>", html, re.S)
    charts = [ElementTree.fromstring(svg) for svg in found]
    return {chart.get("aria-label", ""): chart for chart in charts}


def test_schedule_page_draws_the_reports_charts_of_baseline_and_latest(live) -> None:
    status, headers, html = get(f"{live.url}/_smlocal/monitoring/{SCHEDULE}")
    assert status == 200
    assert "style-src 'self';" in headers["Content-Security-Policy"]
    assert "style=" not in html  # the CSP would refuse an inline style
    assert "<script>" not in html
    sm = live.emulator.client("sagemaker")
    job = sm.describe_processing_job(ProcessingJobName=live.execution_job)
    outputs = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    sides = {
        "Baseline": _statistics(live, f"s3://mon/baselines/{live.baseline_job}/statistics.json"),
        "Current": _statistics(live, f"{outputs}/statistics.json"),
    }
    charts = _charts(html)
    svg = "{http://www.w3.org/2000/svg}"
    for which, features in sides.items():
        for name in ("f0", "f1"):
            chart = charts[f"{which} distribution of {name}"]
            assert chart.find(f"{svg}title").text == f"{which} distribution of {name}"
            buckets = features[name]["numerical_statistics"]["distribution"]["kll"]["buckets"]
            bars = chart.findall(f"{svg}rect")
            assert len(bars) == sum(1 for b in buckets if b["count"] > 0) > 0
            # each bar's tooltip names its bucket and count, as the report's do
            first = next(b for b in buckets if b["count"] > 0)
            assert bars[0].find(f"{svg}title").text.endswith(f": {int(first['count'])} " + "(" +
                f"{first['count'] / sum(b['count'] for b in buckets) * 100:.3g}%)")  # fmt: skip
    # the current chart carries the baseline as the dashed outline, on the same scale
    assert charts["Current distribution of f0"].find(f"{svg}path").get("class") == "reference"


def test_latency_chart_is_the_reports_chart_of_the_latest_latencies(live) -> None:
    html = get(f"{live.url}/_smlocal/endpoints/{ENDPOINT}")[2]
    src = f"/_smlocal/endpoints/{ENDPOINT}/latency/A.svg"
    assert f'<img class="live-chart" src="{src}" alt="Distribution of the model latency' in html
    samples = live_figures(live)["A"]["Samples"]
    status, headers, body = get(live.url + src)
    assert (status, headers["Content-Type"]) == (200, "image/svg+xml")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; style-src")
    chart = ElementTree.fromstring(body)
    svg = "{http://www.w3.org/2000/svg}"
    assert chart.get("aria-label") == "Model latency (ms) of variant A"
    assert chart.find(f"{svg}style") is not None  # an <img> takes no style from the page
    tips = [bar.find(f"{svg}title").text for bar in chart.findall(f"{svg}rect")]
    counts = [int(re.search(r": ([\d,]+) \(", tip)[1].replace(",", "")) for tip in tips]
    assert 0 < len(counts) <= 10
    assert sum(counts) == samples > 0
    status, _, _ = get(f"{live.url}/_smlocal/endpoints/nothing-here/latency/A.svg")
    assert status == 404
