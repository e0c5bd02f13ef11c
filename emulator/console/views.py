"""The console's routes, and its Endpoints and Captures pages with their two actions.

Each view reads through `Sources` (the API's own operations and services) and returns a Page.
The actions run what the API runs: `flush_endpoint` (the edge's flush route, `smlocal
flush`) and the control plane's DeleteEndpoint, validated from botocore's model first.
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from smlocal.emulator.console import charts, reads, views_ops
from smlocal.emulator.console.page import CHART_CSP, Page, Route
from smlocal.emulator.console.sources import Sources
from smlocal.emulator.hosting.capture_flush import capture_stats, flush_endpoint
from smlocal.emulator.hosting.endpoint_records import stored
from smlocal.emulator.wire.http_server import Request
from smlocal.emulator.wire.service_models import sagemaker_model
from smlocal.emulator.wire.validation import validate

if TYPE_CHECKING:
    from smlocal.emulator.console.app import Console

LIVE_FIELDS = ("Invocations", "PerSecond", "P50", "P90", "P99", "Invocation4XXErrors",
               "Invocation5XXErrors")  # fmt: skip


def routes(console: Console, name: str, job: str) -> list[Route]:
    """(method, path pattern, view) of every console page and action."""
    table: list[tuple[str, str, Any]] = [
        ("GET", "/_smlocal/", endpoints_page),
        ("GET", f"/_smlocal/endpoints/{name}", endpoint_page),
        ("GET", f"/_smlocal/endpoints/{name}/live", live_json),
        ("GET", f"/_smlocal/endpoints/{name}/latency/{name}.svg", latency_chart),
        ("GET", f"/_smlocal/endpoints/{name}/delete", delete_form),
        ("POST", f"/_smlocal/endpoints/{name}/delete", delete_action),
        ("GET", "/_smlocal/captures", captures_page),
        ("GET", f"/_smlocal/captures/{name}", capture_page),
        ("POST", f"/_smlocal/captures/{name}/flush", flush_action),
        ("GET", "/_smlocal/s3/([a-z0-9][a-z0-9.-]{1,62})/(.+)", s3_object),
        *views_ops.ROUTES(name, job),
    ]
    return [(m, re.compile(p), partial(view, console)) for m, p, view in table]


def endpoints_page(console: Console, request: Request) -> Page:
    """Every endpoint with its status and live invocation figures."""
    rows = console.sources.every("ListEndpoints", "Endpoints", SortBy="Name", SortOrder="Ascending")
    live = {e["EndpointName"]: console.sources.metrics.live(e["EndpointName"]) for e in rows}
    return console.render("endpoints.html", page="endpoints", endpoints=rows, live=live)


def endpoint_page(console: Console, request: Request, name: str) -> Page:
    """One endpoint: status history, variants, models, capture config, live figures."""
    sources = console.sources
    endpoint = sources.call("DescribeEndpoint", EndpointName=name)
    record = stored(sources.ctx, name)
    config = _config(sources, endpoint["EndpointConfigName"])
    variants = _variants(sources, endpoint, config)
    return console.render(
        "endpoint.html",
        page="endpoints",
        endpoint=endpoint,
        history=[] if record is None else record.history,
        config=config,
        variants=variants,
        capture=config.get("DataCaptureConfig") if config else None,
        live=sources.metrics.live(endpoint["EndpointName"]),
        live_fields=LIVE_FIELDS,
    )


def _config(sources: Sources, name: str) -> dict[str, Any]:
    """The endpoint config, or {} when it was deleted (the endpoint still serves it)."""
    try:
        return sources.call("DescribeEndpointConfig", EndpointConfigName=name)
    except Exception:
        return {}


def _variants(
    sources: Sources, endpoint: dict[str, Any], config: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each configured variant with its live weight and count and its model's image and data."""
    current = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
    variants = []
    for variant in config.get("ProductionVariants", []):
        model: dict[str, Any] = {}
        try:
            model = sources.call("DescribeModel", ModelName=variant["ModelName"])
        except Exception:
            model = {}
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        variants.append(
            {
                **variant,
                "Current": current.get(variant["VariantName"], {}),
                "Image": container.get("Image"),
                "ModelDataUrl": container.get("ModelDataUrl"),
            }
        )
    return variants


def live_json(console: Console, request: Request, name: str) -> Page:
    """The endpoint's live figures as JSON (the page polls this)."""
    import json

    console.sources.call("DescribeEndpoint", EndpointName=name)  # not found: the API's error
    body = json.dumps(console.sources.metrics.live(name)).encode()
    return Page(body=body, content_type="application/json")


def latency_chart(console: Console, request: Request, name: str, variant: str) -> Page:
    """The variant's latest latencies as the report's distribution chart (an <img>)."""
    endpoint = console.sources.call("DescribeEndpoint", EndpointName=name)
    latencies = console.sources.metrics.latencies(endpoint["EndpointName"], variant)
    body = charts.latency_svg(latencies, f"Model latency (ms) of variant {variant}")
    return Page(body=body.encode(), content_type="image/svg+xml", csp=CHART_CSP)


def delete_form(console: Console, request: Request, name: str) -> Page:
    """The confirmation page of DeleteEndpoint."""
    endpoint = console.sources.call("DescribeEndpoint", EndpointName=name)
    return console.render("delete.html", page="endpoints", endpoint=endpoint)


def delete_action(console: Console, request: Request, name: str) -> Page:
    """DeleteEndpoint, as the API runs it; back to the list."""
    params = {"EndpointName": name}
    validate(sagemaker_model(), "DeleteEndpoint", params)
    console.sources.call("DeleteEndpoint", **params)
    return Page(location=f"/_smlocal/?deleted={quote(name)}")


def captures_page(console: Console, request: Request) -> Page:
    """Every endpoint with its capture config."""
    rows = []
    for summary in console.sources.every("ListEndpoints", "Endpoints", SortBy="Name",
                                         SortOrder="Ascending"):  # fmt: skip
        endpoint = console.sources.call("DescribeEndpoint", EndpointName=summary["EndpointName"])
        rows.append({**summary, "Capture": endpoint.get("DataCaptureConfig")})
    return console.render("captures.html", page="captures", endpoints=rows)


def capture_page(console: Console, request: Request, name: str) -> Page:
    """An endpoint's capture counters, S3 prefix and latest records."""
    sources = console.sources
    endpoint = sources.call("DescribeEndpoint", EndpointName=name)
    capture = endpoint.get("DataCaptureConfig") or {}
    destination = capture.get("DestinationS3Uri")
    name = endpoint["EndpointName"]
    files = reads.capture_files(sources, destination, name) if destination else []
    records = reads.latest_records(sources, files)
    links = {f["Key"]: reads.object_url(f["Bucket"], f["Key"]) for f in files[:50]}
    return console.render(
        "capture.html",
        page="captures",
        endpoint=endpoint,
        capture=capture,
        counters=capture_stats(sources.endpoints, endpoint["EndpointName"]),
        files=files[:50],
        file_count=len(files),
        links=links,
        records=records,
        flushed=_query(request).get("flushed"),
    )


def flush_action(console: Console, request: Request, name: str) -> Page:
    """Flush the endpoint's captures, as POST /_smlocal/endpoints/{name}/capture/flush does."""
    validate(sagemaker_model(), "DescribeEndpoint", {"EndpointName": name})
    result = flush_endpoint(console.sources.endpoints, name)
    files = sum(v["Files"] for v in result["Variants"].values())
    return Page(location=f"/_smlocal/captures/{quote(name)}?flushed={files}")


def s3_object(console: Console, request: Request, bucket: str, key: str) -> Page:
    """An S3 object (a capture file), as plain text for reading in the browser."""
    body = reads.object_text(console.sources, bucket, key)
    return Page(body=body, content_type="text/plain; charset=utf-8")


def _query(request: Request) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.query))
