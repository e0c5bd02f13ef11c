"""Flush an endpoint's capture spools into S3 before anything reads its captures.

SageMaker runs an hourly monitoring execution once the hour has closed, when that hour's
capture files are already in S3. A model server here holds records in its spool until the
file rolls (60 s by default), so an execution (or a test) that reads captures right after
the traffic flushes first. Each instance is its own model server with its own spool; one POST
to an instance's `/_smlocal/capture/flush` reaches one gunicorn worker, which starts a flush
round that every worker of that server answers (smlocal.capture_sink.session), and returns
only once every spooled record is uploaded. A variant is flushed instance by instance.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from smlocal.emulator.errors import AWSError
from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.hosting.endpoint_records import KIND, stored

FLUSH_PATH = "/_smlocal/capture/flush"
DEFAULT_TIMEOUT = 30.0


class EndpointNotFound(AWSError):
    """Flush of an endpoint the emulator does not know (404 on the edge route)."""

    code = "ValidationException"
    status = 404


class FlushFailed(AWSError):
    """A model server did not get its captures into S3 (its own reason in the message)."""

    code = "InternalFailure"
    status = 500


def flush_endpoint(
    endpoints: EndpointManager, name: str, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """Flush every capturing variant of a live endpoint; return what each variant flushed."""
    state = endpoints.ctx
    found = stored(state, name)
    if found is None:
        raise EndpointNotFound(f'Could not find endpoint "{state.arn(KIND, name)}".')
    variants: dict[str, Any] = {}
    for endpoint, variant, running in endpoints.live_variants():
        if endpoint != name.lower() or not running.plan.capture:
            continue
        flushed = [_flush_server(i.server.port, variant, timeout) for i in running.instances]
        variants[variant] = {
            "Files": sum(f["Files"] for f in flushed),
            "Seconds": round(sum(f["Seconds"] or 0 for f in flushed), 3),
            "Instances": len(flushed),
        }
    return {"EndpointName": found.name, "Variants": variants}


def flush_quietly(
    endpoints: EndpointManager, name: str, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """flush_endpoint for a job about to read captures: None, or why a flush failed (the
    job then reads what is in S3, as it would on AWS)."""
    try:
        flush_endpoint(endpoints, name, timeout)
    except AWSError as exc:
        return exc.message
    return None


def _flush_server(port: int, variant: str, timeout: float) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}{FLUSH_PATH}?timeout={timeout:g}"
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout + 10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise FlushFailed(f"Capture flush of variant {variant} failed: {_reason(exc)}") from None
    except urllib.error.URLError as exc:  # nothing listens (any more) on the model server's port
        where = f"http://127.0.0.1:{port}"
        raise FlushFailed(
            f"Capture flush of variant {variant} failed: its model server at {where} did not "
            f"answer ({getattr(exc.reason, 'strerror', None) or exc.reason})"
        ) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise FlushFailed(f"Capture flush of variant {variant} failed: {exc}") from None
    return {"Files": answer.get("files", 0), "Seconds": answer.get("seconds")}


def _reason(exc: urllib.error.HTTPError) -> str:
    """The model server's own words: the `error` of its JSON answer, else the body as is (a
    body cut short: the HTTP status). The answer is read and closed here."""
    try:
        body = exc.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return f"HTTP {exc.code} {exc.reason} (its body was cut short)"
    finally:
        exc.close()
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, str) else body


COUNTERS = ("sampled", "spooled", "uploaded", "dropped", "pending_files")
STATS_PATH = "/_smlocal/capture/stats"


def capture_stats(endpoints: EndpointManager, name: str, timeout: float = 5.0) -> dict[str, Any]:
    """Each capturing variant's capture counters, added up over its instances (the model
    servers' own GET /_smlocal/capture/stats); a variant whose servers do not answer gets
    `Error` instead."""
    variants: dict[str, Any] = {}
    for endpoint, variant, running in endpoints.live_variants():
        if endpoint != name.lower() or not running.plan.capture:
            continue
        totals: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
        try:
            for instance in running.instances:
                url = f"http://127.0.0.1:{instance.server.port}{STATS_PATH}"
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    answer = json.loads(response.read())
                for counter in COUNTERS:
                    totals[counter] += int(answer.get(counter) or 0)
                totals["Destination"] = answer.get("destination")
        except (OSError, ValueError, http.client.HTTPException) as exc:
            totals = {"Error": f"its model server did not answer ({exc})"}
        variants[variant] = {**totals, "Instances": len(running.instances)}
    return variants
