"""Asynchronous inference: a durable queue per endpoint and the workers that drain it.

An accepted InvokeEndpointAsync is a file in `{data_dir}/async/{endpoint}/`, fsynced before
the 202 leaves, and removed only once its result (the output, or the failure file and the
error notification) is in S3 and SNS. So an accepted request survives a stop, a crash or
kill -9: at the next start the endpoint's files are queued again, in the order they came,
and processed once the endpoint serves (at least once: one cut short by a crash after its
output was written is processed again, to the same output key).

Each endpoint runs at most MaxConcurrentInvocationsPerInstance x its instance count
requests at a time (short-lived threads, none while idle); a ticker starts work for
endpoints whose model servers came up, expires requests older than their RequestTTLSeconds
and discards the queue of a deleted endpoint (requests already sent to the model finish
and their results are written; queued ones are not run).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from smlocal.emulator.hosting.async_requests import (
    AsyncRequest,
    includes_response,
    model_failure_reason,
    notification,
    topic,
)
from smlocal.emulator.hosting.routing import EndpointRoute, RoutingTable
from smlocal.emulator.hosting.upstream import Unreachable, UpstreamResponse, UpstreamTimeout
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.clients import client, s3_location
from smlocal.emulator.support.durable import (
    durable_unlink,
    durable_write,
    ensure_dir,
    sweep_temporaries,
)

log = logging.getLogger(__name__)
DEFAULT_PER_INSTANCE = 4  # MaxConcurrentInvocationsPerInstance when none is given
MAX_BACKLOG = 10_000  # queued requests per endpoint before InvokeEndpointAsync refuses
TICK_SECONDS = 0.2
MAX_INPUT_BYTES = 1 << 30  # an InputLocation object SageMaker takes: up to 1 GB
RETRY_SECONDS = 1.0  # before a request whose model server could not be reached is tried again

StatusOf = Callable[[str], "str | None"]


class BacklogFull(Exception):
    """The endpoint's queue holds MAX_BACKLOG requests."""


class EndpointGone(Exception):
    """The endpoint was deleted while its request was being stored: the request is not kept."""


@dataclass
class Lane:
    """One endpoint's queue: request files waiting, and how many are being worked on."""

    name: str
    pending: deque[Path] = field(default_factory=deque)
    running: int = 0
    not_before: float = 0.0  # after an unreachable model server: wait before sending again
    epoch: int = 0  # one more each time the endpoint is deleted: older requests are never run


class AsyncQueues:
    """Accepts, keeps and runs every asynchronous endpoint's requests."""

    def __init__(
        self,
        settings: EmulatorSettings,
        table: RoutingTable,
        loop: asyncio.AbstractEventLoop,
        status_of: StatusOf,
        *,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self.settings = settings
        self.table = table
        self.loop = loop
        self.status_of = status_of
        self.max_backlog = max_backlog
        self.root = settings.data_dir / "async"
        self.lanes: dict[str, Lane] = {}
        self.lock = threading.Condition()
        self.rng = random.Random()
        self.closed = False
        self._s3: Any = None
        self._sns: Any = None
        self._ticker: threading.Thread | None = None

    # -- accept -----------------------------------------------------------------------------

    def accept(self, request: AsyncRequest) -> None:
        """Store a request durably and queue it (BacklogFull when the queue is full,
        EndpointGone when the endpoint was deleted meanwhile: never a 202 for a request
        that would then be discarded)."""
        key = request.endpoint.lower()
        with self.lock:
            lane = self.lanes.setdefault(key, Lane(request.endpoint))
            if len(lane.pending) + lane.running >= self.max_backlog:
                raise BacklogFull(request.endpoint)
            epoch = lane.epoch
        folder = self.root / key
        ensure_dir(folder)
        path = folder / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        try:
            durable_write(path, [request.to_json()])
        except OSError:  # a full disk: answered with an error, so nothing may run it later
            path.unlink(missing_ok=True)
            raise
        with self.lock:
            gone = lane.epoch != epoch
            if not gone:
                lane.name = request.endpoint
                lane.pending.append(path)
        if gone:
            durable_unlink(path)
            raise EndpointGone(request.endpoint)
        self._pump(key)

    def forget(self, name: str) -> None:
        """The endpoint is deleted (its DeleteEndpoint committed): discard its queued
        requests now, and those with the model when they come back unfinished, so that a
        new endpoint of the same name never runs them (SageMaker deletes the queue with the
        endpoint). Called with the store's lock held: the files go in a thread."""
        dropped = self._drop(name.lower(), name)
        if dropped:
            threading.Thread(
                target=self._unlink, args=(name, dropped), name="async-forget", daemon=True
            ).start()

    def backlog(self, name: str) -> int:
        """Requests of an endpoint queued or being processed (ApproximateBacklogSize)."""
        with self.lock:
            lane = self.lanes.get(name.lower())
            return 0 if lane is None else len(lane.pending) + lane.running

    # -- start, stop ------------------------------------------------------------------------

    def restore(self) -> None:
        """Queue the requests a previous run accepted and did not finish.

        Before the edge takes requests: an InvokeEndpointAsync accepted meanwhile would be
        queued (and maybe started) by `accept` and then listed from its folder a second time,
        and the sweep of temporary files could take the one it was still writing.
        """
        restored = 0
        if self.root.is_dir():
            # a symlink is no queue smlocal made: what it points at is never swept or moved
            folders = (p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink())
            for folder in sorted(folders):
                sweep_temporaries(folder)
                files = sorted(folder.glob("*.json"))
                first = next(filter(None, map(self._load, files)), None)
                if first is not None and self.status_of(first.endpoint) in (None, "Deleting"):
                    # deleted before the stop: gone before the edge takes a CreateEndpoint
                    # of the same name, whose endpoint must never run them
                    self._unlink(first.endpoint, [f for f in files if f.exists()])
                elif first is not None:  # the endpoint's name as invoked (its case kept)
                    with self.lock:
                        lane = self.lanes.setdefault(folder.name, Lane(first.endpoint))
                        lane.pending.extend(files)
                    restored += len(files)
        if restored:
            log.info("queued again %d asynchronous requests accepted before the restart", restored)

    def start(self) -> None:
        """Start the ticker that runs the queues (after `restore`, once endpoints are back)."""
        self._ticker = threading.Thread(target=self._tick, name="async-ticker", daemon=True)
        self._ticker.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Start no more work; wait for requests being processed (their files stay if they do
        not finish: they are processed again at the next start)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            self.closed = True
            while any(lane.running for lane in self.lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is queued or running (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while any(lane.pending or lane.running for lane in self.lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, TICK_SECONDS))
        return True

    # -- scheduling -------------------------------------------------------------------------

    def _tick(self) -> None:
        while not self.closed:
            time.sleep(TICK_SECONDS)
            with self.lock:
                keys = [k for k, lane in self.lanes.items() if lane.pending]
            for key in keys:
                try:
                    self._pump(key)
                except Exception:  # a bug: log it, keep the other endpoints going
                    log.exception("asynchronous queue of %s", key)

    def _pump(self, key: str) -> None:
        """Start as many requests as the endpoint's concurrency allows."""
        with self.lock:
            lane = self.lanes.get(key)
            if lane is None or self.closed or not lane.pending:
                return
            name = lane.name
        route = self.table.get(name)
        if route is None or route.async_config is None:
            self._idle_lane(key, name)
            return
        limit = concurrency(route)
        starts: list[Path] = []
        with self.lock:
            if time.monotonic() < lane.not_before:
                return
            while lane.pending and lane.running < limit:
                starts.append(lane.pending.popleft())
                lane.running += 1
            epoch = lane.epoch
        for path in starts:
            threading.Thread(
                target=self._work, args=(key, path, epoch), name=f"async-{key}", daemon=True
            ).start()

    def _idle_lane(self, key: str, name: str) -> None:
        """An endpoint with queued requests and no route: gone (discard its queue), or not
        serving yet (expire what waited too long, keep the rest)."""
        status = self.status_of(name)
        if status is None or status == "Deleting":
            self._discard(key, name)
            return
        now = time.time()
        with self.lock:
            lane = self.lanes.get(key)
            paths = list(lane.pending) if lane is not None else []
        for path in paths:
            request = self._load(path)
            if request is None or not request.expired(now) or lane is None:
                continue
            with self.lock:
                if path not in lane.pending:  # a worker took it meanwhile
                    continue
                lane.pending.remove(path)
                self.lock.notify_all()
            try:
                self._expire(request, path)
            except Exception:  # S3 could not take the failure file now: keep it queued
                with self.lock:
                    lane.pending.appendleft(path)
                raise

    def _discard(self, key: str, name: str) -> None:
        """Remove the queue of a deleted endpoint (see `forget`)."""
        self._unlink(name, self._drop(key, name))

    def _drop(self, key: str, name: str) -> list[Path]:
        """Empty a deleted endpoint's lane and start its next epoch; the files it held."""
        with self.lock:
            lane = self.lanes.setdefault(key, Lane(name))
            lane.epoch += 1
            dropped = list(lane.pending)
            lane.pending.clear()
            self.lock.notify_all()
        return dropped

    @staticmethod
    def _unlink(name: str, dropped: list[Path]) -> None:
        """Remove a deleted endpoint's request files (a crash before: the ticker removes
        them at the next start, the endpoint being gone or Deleting)."""
        for path in dropped:
            durable_unlink(path)
        if dropped:
            log.info("endpoint %s is deleted: discarded %d queued asynchronous requests",
                     name, len(dropped))  # fmt: skip

    # -- one request ------------------------------------------------------------------------

    def _work(self, key: str, path: Path, epoch: int = 0) -> None:
        requeue = False
        try:
            requeue = self._process(path)
        except Exception:
            log.exception("asynchronous request %s", path.name)
            requeue = True  # kept on disk: tried again, never lost
        finally:
            with self.lock:
                lane = self.lanes[key]
                lane.running -= 1
                stale = lane.epoch != epoch  # its endpoint was deleted meanwhile
                if requeue and not stale and path.exists():
                    lane.pending.appendleft(path)
                    lane.not_before = time.monotonic() + RETRY_SECONDS
                self.lock.notify_all()
        if requeue and stale and durable_unlink(path):
            log.info("endpoint %s is deleted: discarded request %s", key, path.name)
        if not requeue:
            self._pump(key)

    def _process(self, path: Path) -> bool:
        """Run one request; True when it must be tried again later (nothing was done)."""
        request = self._load(path)
        if request is None:
            return False
        if request.expired(time.time()):
            self._expire(request, path)
            return False
        route = self.table.get(request.endpoint)
        if route is None:
            return True
        payload = self._input(request)
        if isinstance(payload, str):  # the input could not be read
            self._finish_failure(request, path, payload, payload.encode())
            return False
        response, failure = self._call_model(route, request, payload)
        if isinstance(failure, Unreachable):
            return True  # never sent: another try once the route moves on
        if response is not None and 200 <= response.status < 300:
            self._finish_success(request, path, response)
        else:
            status = 0 if response is None else response.status
            body = response.body if response is not None else str(failure).encode()
            self._finish_failure(request, path, model_failure_reason(status), body)
        return False

    def _load(self, path: Path) -> AsyncRequest | None:
        """The request of a queue file; None when it is gone, damaged (renamed `.damaged`,
        kept for a human to look at) or unreadable (left where it is), each logged."""
        try:
            return AsyncRequest.from_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as exc:  # a folder named *.json, no permission: never stop the start
            log.warning("asynchronous request file %s cannot be read (%s); skipped", path, exc)
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("asynchronous request file %s is damaged (%s); set aside", path, exc)
            try:
                path.rename(path.with_suffix(".damaged"))
            except OSError as failed:
                log.warning("cannot set %s aside: %s", path, failed)
            return None

    def _input(self, request: AsyncRequest) -> bytes | str:
        """The request's payload, or the failure reason when it cannot be read."""
        if request.input_location is None:
            return request.body or b""
        try:
            where = s3_location(request.input_location)
            answer = self.s3.get_object(Bucket=where.bucket, Key=where.key)
            size = int(answer.get("ContentLength") or 0)
            if size > MAX_INPUT_BYTES:  # never read it: it would take the emulator's memory
                answer["Body"].close()
                return (
                    f"ClientError: The input {request.input_location} is {size} bytes, above "
                    f"the {MAX_INPUT_BYTES} bytes (1 GB) an asynchronous request can take."
                )
            data: bytes = answer["Body"].read()
        except Exception as exc:  # any S3 error: the request fails, as in SageMaker
            return f"ClientError: Failed to download data from {request.input_location}: {exc}"
        return data

    def _call_model(
        self, route: EndpointRoute, request: AsyncRequest, payload: bytes
    ) -> tuple[UpstreamResponse | None, Exception | None]:
        variant = route.choose(self.rng)
        if variant is None:
            return None, Unreachable("no variant with a weight above 0")
        pool = variant.pick(self.rng)
        finished = threading.Event()
        outcome: list[tuple[UpstreamResponse | None, Exception | None]] = []

        def done(response: UpstreamResponse | None, failure: Exception | None) -> None:
            outcome.append((response, failure))
            finished.set()

        raw = upstream_request(request, payload)
        self.loop.call_soon_threadsafe(pool.send, raw, done, float(request.timeout_seconds))
        if not finished.wait(request.timeout_seconds + 30):
            return None, UpstreamTimeout("the model server did not answer in time")
        return outcome[0]

    # -- results ----------------------------------------------------------------------------

    def _finish_success(
        self, request: AsyncRequest, path: Path, response: UpstreamResponse
    ) -> None:
        content_type = _text(response.header(b"content-type"))
        if request.output_location:
            refused = self._put(request, request.output_location, response.body, content_type)
            if refused:
                reason = f"ClientError: Failed to upload the response to {refused}"
                self._finish_failure(request, path, reason, reason.encode())
                return
        self._notify(request, success=True, response_content_type=content_type, body=response.body)
        remove_request(path)

    def _finish_failure(self, request: AsyncRequest, path: Path, reason: str, body: bytes) -> None:
        if not request.failure_location and topic(request.output_config, False) is None:
            # no S3FailurePath, no ErrorTopic: the log is the only trace the request leaves
            log.warning("endpoint %s: request %s failed: %s",
                        request.endpoint, request.inference_id, reason)  # fmt: skip
        if request.failure_location:
            refused = self._put(request, request.failure_location, body, None)
            if refused:
                log.warning("endpoint %s: request %s: cannot write its failure file to %s",
                            request.endpoint, request.inference_id, refused)  # fmt: skip
        self._notify(request, success=False, failure_reason=reason, body=body)
        remove_request(path)

    def _expire(self, request: AsyncRequest, path: Path) -> None:
        reason = (
            f"Request expired: it waited in the queue longer than its RequestTTLSeconds "
            f"({request.ttl_seconds} seconds)."
        )
        log.info("endpoint %s: request %s expired", request.endpoint, request.inference_id)
        self._finish_failure(request, path, reason, reason.encode())

    def _put(
        self, request: AsyncRequest, uri: str, body: bytes, content_type: str | None
    ) -> str | None:
        """Write a result; None, or what S3 refused for good (a missing bucket: `uri: code`)."""
        where = s3_location(uri)
        extra: dict[str, Any] = {}
        if content_type:
            extra["ContentType"] = content_type
        kms = request.output_config.get("KmsKeyId")
        if kms:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms)
        try:
            self.s3.put_object(Bucket=where.bucket, Key=where.key, Body=body, **extra)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            if status >= 500:
                raise  # S3 could not store it now (a full disk): the request is tried again
            return f"{uri}: {exc.response.get('Error', {}).get('Code', status)}"
        return None

    def _notify(
        self,
        request: AsyncRequest,
        *,
        success: bool,
        failure_reason: str | None = None,
        response_content_type: str | None = None,
        body: bytes | None = None,
    ) -> None:
        """Publish to the success or error topic, if one is configured. A notification that
        cannot be published is logged (SageMaker counts it in NotificationFailures); the
        result in S3 stands."""
        arn = topic(request.output_config, success)
        if arn is None:
            return
        message = notification(
            request,
            self.settings.region,
            time.time(),
            failure_reason=failure_reason,
            response_content_type=response_content_type,
            response_body=body if includes_response(request.output_config, success) else None,
        )
        try:
            self.sns.publish(TopicArn=arn, Message=json.dumps(message, separators=(",", ":")))
        except Exception as exc:  # a missing topic, say
            log.warning("endpoint %s: notification to %s failed: %s", request.endpoint, arn, exc)

    @property
    def s3(self) -> Any:
        """The emulator's own S3 client (made on first use, from a worker)."""
        if self._s3 is None:
            self._s3 = client(self.settings, "s3")
        return self._s3

    @property
    def sns(self) -> Any:
        """The emulator's own SNS client (moto's SNS behind the edge)."""
        if self._sns is None:
            self._sns = client(self.settings, "sns")
        return self._sns


def concurrency(route: EndpointRoute) -> int:
    """MaxConcurrentInvocationsPerInstance x the endpoint's instances."""
    config: Mapping[str, Any] = route.async_config or {}
    per_instance = (config.get("ClientConfig") or {}).get(
        "MaxConcurrentInvocationsPerInstance", DEFAULT_PER_INSTANCE
    )
    instances = sum(max(v.instances, 1) for v in route.variants if v.weight > 0)
    return max(1, int(per_instance) * max(instances, 1))


def upstream_request(request: AsyncRequest, payload: bytes) -> bytes:
    """The container-contract POST /invocations SageMaker sends the model for a request."""
    head = [b"POST /invocations HTTP/1.1\r\nHost: model\r\n"]
    for name, value in (
        (b"Content-Type", request.content_type),
        (b"Accept", request.accept),
        (b"X-Amzn-SageMaker-Custom-Attributes", request.custom_attributes),
        (b"X-Amzn-SageMaker-Inference-Id", request.inference_id),
    ):
        if value is not None:
            head.append(b"%s: %s\r\n" % (name, value.encode("latin-1")))
    head.append(b"Content-Length: %d\r\n\r\n" % len(payload))
    return b"".join(head) + payload


def remove_request(path: Path) -> None:
    """Remove a finished request's file. Not made durable (no folder fsync): a crash that
    brings the file back only runs the request again, to the same output key."""
    durable_unlink(path, sync=False)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("latin-1")
