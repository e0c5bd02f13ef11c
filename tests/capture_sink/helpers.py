"""Helpers of the capture tests: environments, invocations, reading what landed in S3."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.capture_sink.conftest import CREDENTIALS
from tests.support import ServerProcess, model_server

IRIS_ROW = b"5.1,3.5,1.4,0.2"


def capture_config(
    bucket: str,
    prefix: str = "datacapture",
    percentage: int = 100,
    modes: tuple[str, ...] = ("Input", "Output"),
    **extra: Any,
) -> dict[str, Any]:
    """A DataCaptureConfig document, as the SageMaker SDK sends it by default."""
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": f"s3://{bucket}/{prefix}",
        "CaptureOptions": [{"CaptureMode": m} for m in modes],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
        **extra,
    }


def capture_env(
    config: Mapping[str, Any],
    s3_url: str,
    spool: Path,
    *,
    endpoint: str = "Iris-Endpoint",
    variant: str = "AllTraffic",
    **more: str,
) -> dict[str, str]:
    """The environment that turns capture on in `smlocal serve`."""
    return {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": s3_url,
        "SMLOCAL_CAPTURE_CONFIG": json.dumps(config),
        "SMLOCAL_ENDPOINT_NAME": endpoint,
        "SMLOCAL_VARIANT_NAME": variant,
        "SMLOCAL_CAPTURE_SPOOL_DIR": str(spool),
        **more,
    }


def start_server(model: Path, tmp: Path, env: Mapping[str, str], workers: int = 1) -> ServerProcess:
    """`smlocal serve` with capture, started and ready."""
    server = model_server(model, tmp / "server.log", env=env, workers=workers).start()
    server.wait_ready()
    return server


def request(
    server: ServerProcess,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange with the server."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def invoke_many(
    server: ServerProcess,
    count: int,
    body: bytes = IRIS_ROW,
    headers: Mapping[str, str] | None = None,
) -> list[int]:
    """`count` invocations over one keep-alive connection; their statuses."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    statuses = []
    try:
        for _ in range(count):
            conn.request(
                "POST",
                "/invocations",
                body=body,
                headers=dict(headers or {"Content-Type": "text/csv"}),
            )
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    return statuses


def flush(server: ServerProcess, timeout: float = 30) -> dict[str, Any]:
    """POST /_smlocal/capture/flush; fails the test unless it answers 200."""
    status, _, body = request(server, "POST", f"/_smlocal/capture/flush?timeout={timeout}")
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def stats(server: ServerProcess) -> dict[str, Any]:
    """GET /_smlocal/capture/stats."""
    status, _, body = request(server, "GET", "/_smlocal/capture/stats")
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def objects(s3: Any, bucket: str) -> dict[str, bytes]:
    """Every object in the bucket: key -> body."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def records(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every capture record in the bucket."""
    lines = []
    for body in objects(s3, bucket).values():
        assert body.endswith(b"\n")
        lines.extend(json.loads(line) for line in body.decode().splitlines())
    return lines
