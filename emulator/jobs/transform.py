"""Running transform jobs: the model's own server in batch mode, fed from S3.

A job starts the model's container as an endpoint's would be started (the same model
server, with `SAGEMAKER_BATCH=true` and the job's `MaxPayloadInMB`), one server per
instance, through `ModelServers`, which server.py wires to hosting's. It asks a server's
`/execution-parameters` for what the request left out, as SageMaker does, then sends each
input file's requests, `MaxConcurrentTransforms` at a time per instance, and writes the
`.out` files and, with a DataCaptureConfig, the capture manifests. What went wrong with a
record goes to the job's data log (`{job}/{instance}/data-log` in
`/aws/sagemaker/TransformJobs`); the FailureReason says to look there, as on AWS.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from smlocal.capture_sink.record import format_inference_time, new_event_id
from smlocal.emulator.jobs import transform_data as data
from smlocal.emulator.jobs import transform_records as jobs
from smlocal.emulator.jobs.job_threads import JobThreads
from smlocal.emulator.jobs.transform_jsonpath import JsonPathError
from smlocal.emulator.jobs.transform_records import TransformJob
from smlocal.emulator.jobs.transform_s3 import (
    InputError,
    Inputs,
    list_inputs,
    output_name,
    read_input,
    write_captures,
    write_output,
)
from smlocal.emulator.support.clients import client, no_objects_message
from smlocal.emulator.support.cloudwatch import LogShipper, LogStream
from smlocal.emulator.support.state import State
from smlocal.model_server.environment import SAGEMAKER_BATCH, SAGEMAKER_MAX_PAYLOAD_IN_MB

log = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/TransformJobs"
SEE_LOGS = "ClientError: See job logs for more information"
INTERRUPTED = "The emulator stopped while the job was running; run it again."
Finished = Callable[[TransformJob], None]


class ServerGroup(Protocol):
    """A job's running model servers, one per instance."""

    ports: list[int]
    instance_ids: list[str]

    def close(self) -> None:
        """Stop them."""


class ModelServers(Protocol):
    """Starts a job's model servers (hosting's, wired in by server.py)."""

    def start(
        self,
        job: str,
        image: str,
        model_data_url: str | None,
        env: dict[str, str],
        count: int,
        *,
        cancel: threading.Event,
    ) -> ServerGroup:
        """Start `count` servers and wait until they answer /ping; RuntimeError if not, or
        once `cancel` is set (what was started is stopped)."""


class Stopped(Exception):
    """StopTransformJob was called while the job ran."""


@dataclass(frozen=True)
class Plan:
    """How a job sends its requests, with the container's execution parameters filled in."""

    options: data.Options
    concurrency: int
    timeout: float
    retries: int


class Transform:
    """Starts transform jobs in threads and tells listeners when one ends."""

    def __init__(self, ctx: State, servers: ModelServers) -> None:
        self.ctx = ctx
        self.servers = servers
        self.shipper = LogShipper(ctx.settings)
        self.listeners: list[Finished] = []
        self.threads = JobThreads("transform")
        self.stopping: set[str] = set()
        self.senders: dict[str, Sender] = {}
        self.cancels: dict[str, threading.Event] = {}

    def start(self, name: str) -> None:
        """Run a stored InProgress job in the background."""
        self.threads.start(self._run, name)

    def stop(self, name: str) -> None:
        """Stop a running job: no request is sent after this, those in flight are cut off;
        its status moves to Stopped once its model servers are gone."""
        self.stopping.add(name)
        self.cancels.setdefault(name, threading.Event()).set()  # servers still starting
        sender = self.senders.get(name)
        if sender is not None:
            sender.abort()

    def abandon_unfinished(self) -> None:
        """After a restart: jobs that were running when the emulator stopped have failed."""
        for job in jobs.all_jobs(self.ctx):
            if job.status in ("InProgress", "Stopping"):
                final = "Stopped" if job.status == "Stopping" else "Failed"
                jobs.set_status(self.ctx, job.name, final, failure_reason=INTERRUPTED)

    def shutdown(self, timeout: float) -> None:
        """Stop every running job (the emulator is stopping) and wait for them."""
        for job in jobs.all_jobs(self.ctx):
            if job.status == "InProgress":
                self.stop(job.name)
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests, shutdown)."""
        self.threads.wait(timeout)

    def _run(self, name: str) -> None:
        job = jobs.get_job(self.ctx, name)
        status, reason = "Completed", None
        try:
            self._execute(job)
        except Stopped:
            status = "Stopped"
        except InputError as exc:
            status, reason = "Failed", str(exc)
        except ClientError as exc:  # S3 refused to read an input or write an output
            error = exc.response.get("Error", {})
            status, reason = "Failed", f"ClientError: {error.get('Code')}: {error.get('Message')}"
        except Exception:
            log.exception("transform job %s failed", name)
            status, reason = "Failed", "InternalServerError: smlocal could not run the job."
        self.stopping.discard(name)
        self.senders.pop(name, None)
        self.cancels.pop(name, None)
        if jobs.get_job(self.ctx, name).status == "Stopping":
            status, reason = "Stopped", None
        elif status == "Stopped":  # stopped by the emulator's own shutdown, not by the user
            status, reason = "Failed", INTERRUPTED
        finished = jobs.set_status(self.ctx, name, status, failure_reason=reason)
        for listener in self.listeners:
            listener(finished)

    def _execute(self, job: TransformJob) -> None:
        s3 = client(self.ctx.settings, "s3")
        inputs = list_inputs(s3, job)
        if not inputs.objects:
            uri = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
            message = no_objects_message(uri, self.ctx.region, "")
            raise InputError(f"ClientError: {message.split(' Please ensure')[0]}")
        count = int(str(job.transform_resources.get("InstanceCount", 1)))
        mb = job.max_payload_in_mb
        env = {
            **job.container.environment,
            **job.environment,
            SAGEMAKER_BATCH: "true",
            SAGEMAKER_MAX_PAYLOAD_IN_MB: str(mb or 100) if mb is not None else "6",
        }
        image, model_data = job.container.image, job.container.model_data_url
        cancel = self.cancels.setdefault(job.name, threading.Event())
        try:
            group = self.servers.start(job.name, image, model_data, env, count, cancel=cancel)
        except RuntimeError as exc:
            if cancel.is_set():
                raise Stopped() from None
            raise InputError(f"ClientError: {exc}") from None
        data_log = self.shipper.stream(LOG_GROUP, f"{job.name}/{group.instance_ids[0]}/data-log")
        try:
            plan = plan_of(job, _execution_parameters(group.ports[0]))
            outputs = self._transform_all(s3, job, plan, group, inputs=inputs, out=data_log)
        finally:
            data_log.close()
            group.close()
        if job.data_capture_config:
            write_captures(s3, job.data_capture_config, job, inputs, outputs)

    def _transform_all(
        self,
        s3: Any,
        job: TransformJob,
        plan: Plan,
        group: ServerGroup,
        *,
        inputs: Inputs,
        out: LogStream,
    ) -> list[str]:
        sender = self.senders[job.name] = Sender(
            group.ports, plan, lambda: job.name in self.stopping
        )
        if job.name in self.stopping:  # stopped while its servers were starting
            sender.abort()
        names = []
        with ThreadPoolExecutor(plan.concurrency * len(group.ports)) as pool:
            for item in inputs.objects:
                uri = f"s3://{item.bucket}/{item.key}"
                try:
                    raw = read_input(s3, item, job.transform_input.get("CompressionType"))
                    result = transform_file(raw, plan.options, sender, pool)
                except (data.RecordError, JsonPathError, InvocationError) as exc:
                    out.append(f"{uri}: {exc}")
                    raise InputError(SEE_LOGS) from None
                names.append(output_name(item))
                write_output(s3, job, names[-1], result)
                out.append(f"{uri}: completed")
        return names


class InvocationError(Exception):
    """The model server refused a request, or did not answer it."""


class Sender:
    """Sends requests to the job's servers round robin, one connection per thread and port."""

    def __init__(self, ports: list[int], plan: Plan, stopped: Callable[[], bool]) -> None:
        self.ports = ports
        self.plan = plan
        self.stopped = stopped
        self.local = threading.local()
        self.turn = 0
        self.lock = threading.Lock()
        self.open: set[http.client.HTTPConnection] = set()
        self.aborted = False

    def __call__(self, body: bytes) -> bytes:
        with self.lock:
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
        for attempt in range(self.plan.retries + 1):
            if self.stopped():
                raise Stopped()
            try:
                status, answer = self._post(port, body)
            except (OSError, http.client.HTTPException) as exc:
                self._forget(port)
                if attempt == self.plan.retries:
                    message = f"Model server did not respond to /invocations: {exc}"
                    raise InvocationError(message) from None
                continue
            if status == 200:
                return answer
            if status < 500 or attempt == self.plan.retries:
                text = answer.decode("utf-8", "replace")[:1000]
                raise InvocationError(
                    f"Bad HTTP status received from algorithm: {status}. Message: {text}"
                )
        raise InvocationError("unreachable")

    def abort(self) -> None:
        """Cut off the requests in flight (StopTransformJob): their reads end at once."""
        with self.lock:
            self.aborted = True
            for conn in self.open:
                if conn.sock is not None:
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)

    def _connection(self, port: int) -> http.client.HTTPConnection:
        """This thread's connection to the port, connected and known to `abort`."""
        conns: dict[int, http.client.HTTPConnection] = self.local.__dict__.setdefault("c", {})
        conn = conns.get(port)
        if conn is None:
            conn = conns[port] = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=self.plan.timeout
            )
        if conn.sock is None:
            conn.connect()
        with self.lock:
            if self.aborted:
                raise Stopped()
            self.open.add(conn)
        return conn

    def _post(self, port: int, body: bytes) -> tuple[int, bytes]:
        conn = self._connection(port)
        headers = {"Content-Type": self.plan.options.content_type or "application/octet-stream"}
        if self.plan.options.accept:
            headers["Accept"] = self.plan.options.accept
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def _forget(self, port: int) -> None:
        conns: dict[int, http.client.HTTPConnection] = self.local.__dict__.setdefault("c", {})
        if (conn := conns.pop(port, None)) is not None:
            with self.lock:
                self.open.discard(conn)
            conn.close()


def transform_file(
    raw: bytes, options: data.Options, send: Callable[[bytes], bytes], pool: ThreadPoolExecutor
) -> bytes:
    """One input file's `.out` bytes: split, filtered, packed, sent in parallel, assembled."""
    records = data.split_records(raw, options)
    sent = data.filter_input(records, options)
    requests = data.pack(sent, options)
    answers = list(pool.map(send, [data.body_of(sent, indexes) for indexes in requests]))
    return data.assemble(records, requests, answers, options)


def _execution_parameters(port: int) -> dict[str, Any]:
    """The container's GET /execution-parameters, or {} when it has none."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/execution-parameters")
        response = conn.getresponse()
        body = response.read()
        return dict(json.loads(body)) if response.status == 200 else {}
    except (OSError, ValueError, http.client.HTTPException):
        return {}
    finally:
        conn.close()


def plan_of(job: TransformJob, container: dict[str, Any]) -> Plan:
    """The job's options: what the request says, else the container's execution parameters,
    else SageMaker's defaults (1 request at a time, 6 MB, SingleRecord)."""
    strategy = job.batch_strategy or {"MULTI_RECORD": "MultiRecord"}.get(
        str(container.get("BatchStrategy")), "SingleRecord"
    )
    mb = job.max_payload_in_mb
    mb = int(container.get("MaxPayloadInMB") or 6) if mb is None else mb
    concurrency = job.max_concurrent_transforms or int(
        container.get("MaxConcurrentTransforms") or 1
    )
    client_config = job.model_client_config or {}
    processing = job.data_processing or {}
    capture = job.data_capture_config
    generate_id = bool(capture and capture.get("GenerateInferenceId"))
    options = data.Options(
        content_type=job.transform_input.get("ContentType"),
        accept=job.transform_output.get("Accept"),
        split=job.transform_input.get("SplitType", "None"),
        multi_record=strategy == "MultiRecord",
        max_payload=mb * data.MB,
        assemble_lines=job.transform_output.get("AssembleWith") == "Line",
        input_filter=processing.get("InputFilter"),
        output_filter=processing.get("OutputFilter"),
        join_input=processing.get("JoinSource") == "Input",
        inference=(new_event_id, _started(job)) if generate_id else None,
    )
    return Plan(
        options,
        max(1, concurrency),
        float(str(client_config.get("InvocationsTimeoutInSeconds", 600))),
        int(str(client_config.get("InvocationsMaxRetries", 3))),
    )


def _started(job: TransformJob) -> str:
    return format_inference_time(datetime.fromtimestamp(job.start_time or job.creation_time, UTC))
