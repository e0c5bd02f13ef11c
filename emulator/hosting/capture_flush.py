"""Flush an endpoint's capture spools into S3 before anything reads its captures.

SageMaker runs an hourly monitoring execution once the hour has closed, when that hour's
capture files are already in S3. A model server here holds records in its spool until the
file rolls (60 s by default), so an execution (or a test) that reads captures right after
the traffic flushes first. Each instance is its own model server with its own spool; one POST
to an instance's `/_smlocal/capture/flush` reaches one gunicorn worker, which starts a flush
round that every worker of that server answers (smlocal.capture_sink.session), and returns
only once every spooled record is uploaded. A variant is flushed instance by instance.

An instance whose server dies is replaced on the same spool folder (its place's), so the
records it spooled are the replacement's to upload: a flush that finds its server gone (the
connection refused, reset, or closed unanswered) waits for the instance in that place to be
replaced and flushes the replacement instead, a bounded number of times.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any

from smlocal.emulator.errors import AWSError
from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.hosting.endpoint_records import KIND, stored
from smlocal.emulator.hosting.fleet import RunningInstance

FLUSH_PATH = "/_smlocal/capture/flush"
DEFAULT_TIMEOUT = 30.0
ATTEMPTS = 3  # the first server, then up to two replacements in its place
POLL = 0.2  # seconds between looks at whether a dead instance has been replaced
STILL_ALIVE = 1.0  # seconds a server that did not answer must stay running to be tried again


class EndpointNotFound(AWSError):
    """Flush of an endpoint the emulator does not know (404 on the edge route)."""

    code = "ValidationException"
    status = 404


class FlushFailed(AWSError):
    """A model server did not get its captures into S3 (its own reason in the message)."""

    code = "InternalFailure"
    status = 500


class ServerGone(FlushFailed):
    """Nothing answered on the model server's port: refused, reset, or closed unanswered."""


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
        flushed = [
            _flush_instance(endpoints, endpoint, variant, i, timeout) for i in running.instances
        ]
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


def _flush_instance(
    endpoints: EndpointManager, key: str, variant: str, instance: RunningInstance, timeout: float
) -> dict[str, Any]:
    """Flush one instance's server; if it is gone, flush the instance that replaces it."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _flush_server(instance.server.port, variant, timeout)
        except ServerGone:
            replacement = (
                None if attempt == ATTEMPTS else _replacement(endpoints, key, variant, instance)
            )
            if replacement is None:
                raise
            instance = replacement
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _replacement(
    endpoints: EndpointManager, key: str, variant: str, gone: RunningInstance
) -> RunningInstance | None:
    """The instance serving in `gone`'s place once its server answers again: a new instance
    (the supervisor's heal), or `gone` itself if its server still runs a second later (the
    failure was the connection's; a killed process closes its sockets a moment before it can
    be seen dead). None once the variant no longer serves that place (an endpoint deleted,
    updated, or Failed because its instance keeps dying), a serverless instance asleep, or
    after the place's startup timeout."""
    deadline = time.monotonic() + gone.plan.startup_timeout
    alive_since: float | None = None
    while time.monotonic() < deadline:
        now = _serving(endpoints, key, variant, gone.plan.instance)
        if now is None or now.asleep:
            return None
        if now is not gone:
            return now
        if not _alive(gone):
            alive_since = None
        elif alive_since is None:
            alive_since = time.monotonic()
        elif time.monotonic() - alive_since >= STILL_ALIVE:
            return gone
        time.sleep(POLL)
    return None


def _serving(
    endpoints: EndpointManager, key: str, variant: str, place: int
) -> RunningInstance | None:
    """The instance a live variant serves in a place, if any."""
    for endpoint, name, running in endpoints.live_variants():
        if endpoint == key and name == variant:
            return next((i for i in running.instances if i.plan.instance == place), None)
    return None


def _alive(instance: RunningInstance) -> bool:
    """Whether the instance's server runs (a backend that cannot tell: not running)."""
    try:
        return instance.server.alive()
    except Exception:  # as the supervisor: a backend that cannot tell counts as dead
        return False


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
        raise ServerGone(
            f"Capture flush of variant {variant} failed: its model server at {where} did not "
            f"answer ({getattr(exc.reason, 'strerror', None) or exc.reason})"
        ) from None
    except ConnectionError as exc:  # reset, or closed unanswered (RemoteDisconnected)
        raise ServerGone(f"Capture flush of variant {variant} failed: {exc}") from None
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
