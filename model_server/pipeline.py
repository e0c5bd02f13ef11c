"""The front of a multi-container instance: one small server per instance that answers
/ping for all its containers and /invocations by running them, so that data capture (the
middleware around this app, as around any model server) sees the request the caller sent
and the answer the caller gets.

`Serial` (a serial inference pipeline) sends the request to the first container and each
answer on to the next: the body as it came back, with the Content-Type the container
answered, and the caller's Accept, custom attributes and inference id to every container
(the Content-Type/Accept rule of SageMaker's pipeline examples: a container sets its answer's
content type so that the next one can read it). `Direct` sends the request to the one
container that X-Amzn-SageMaker-Target-Container-Hostname names.

A container that answers an error ends the run: its status and body are answered, with the
container's host name in `X-Smlocal-Container`, so the edge can name it in its ModelError.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from smlocal.model_server.environment import SMLOCAL_PIPELINE, SettingsError

SERIAL = "Serial"
DIRECT = "Direct"
CONTAINER_HEADER = "X-Smlocal-Container"
TARGET = "HTTP_X_AMZN_SAGEMAKER_TARGET_CONTAINER_HOSTNAME"
# request headers every container gets (WSGI key, wire name)
PASSED = (
    ("HTTP_ACCEPT", "Accept"),
    ("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES", "X-Amzn-SageMaker-Custom-Attributes"),
    ("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID", "X-Amzn-SageMaker-Inference-Id"),
)
# The most a container's answer may hold: the front keeps each answer in memory to pass it on,
# so a container answering without end must not take the instance's memory (SageMaker
# publishes no limit between a pipeline's containers; its callers get at most 6 MB).
ANSWER_MAX = 64 << 20
Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Container:
    """One container of the instance: its host name and the port its server listens on."""

    hostname: str
    port: int


@dataclass(frozen=True)
class PipelineSpec:
    """How the instance runs its containers."""

    mode: str
    containers: tuple[Container, ...]

    def to_json(self) -> str:
        """The value of SMLOCAL_PIPELINE."""
        items = [{"Hostname": c.hostname, "Port": c.port} for c in self.containers]
        return json.dumps({"Mode": self.mode, "Containers": items})

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        """SMLOCAL_PIPELINE's value, or SettingsError."""
        try:
            doc = json.loads(text)
            spec = cls(
                str(doc["Mode"]),
                tuple(Container(str(c["Hostname"]), int(c["Port"])) for c in doc["Containers"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SettingsError(
                f"{SMLOCAL_PIPELINE} is not a pipeline description: {exc}"
            ) from None
        if spec.mode not in (SERIAL, DIRECT) or not spec.containers:
            raise SettingsError(f"{SMLOCAL_PIPELINE} needs Mode Serial or Direct and containers")
        return spec

    def container(self, hostname: str) -> Container | None:
        """The container of that host name."""
        return next((c for c in self.containers if c.hostname == hostname), None)


@dataclass
class Answer:
    """A container's answer."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value (any case), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


class TooLarge(OSError):
    """A container answered more than ANSWER_MAX bytes."""


class Connections:
    """Keep-alive connections to the containers, one per (thread, port)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.local = threading.local()

    def call(
        self, method: str, port: int, path: str, body: bytes, headers: dict[str, str]
    ) -> Answer:
        """One request; a kept connection the container closed meanwhile (reset, or closed
        with no answer) is retried once on a new one (the request had not reached it). A
        malformed answer is not retried: the container ran the request (a POST is not run
        twice). OSError when the container cannot be reached or answers no HTTP."""
        pool: dict[int, http.client.HTTPConnection] = self.local.__dict__.setdefault("pool", {})
        for attempt in (0, 1):
            conn = pool.get(port)
            fresh = conn is None
            if conn is None:
                conn = pool[port] = http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=self.timeout
                )
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read(ANSWER_MAX + 1)
                if len(data) > ANSWER_MAX:
                    raise TooLarge(f"it answered more than {ANSWER_MAX} bytes")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                del pool[port]
                if fresh or attempt or not isinstance(exc, ConnectionError):
                    raise OSError(str(exc) or type(exc).__name__) from exc
                continue
            if response.will_close:
                conn.close()
                del pool[port]
            return Answer(response.status, response.getheaders(), data)
        raise AssertionError("unreachable")


class PipelineApp:
    """The WSGI app of an instance's front."""

    def __init__(self, spec: PipelineSpec, timeout: float) -> None:
        self.spec = spec
        self.connections = Connections(timeout)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/ping" and method == "GET":
            answer = self.ping()
        elif path == "/invocations" and method == "POST":
            answer = self.invoke(environ)
        else:
            answer = Answer(404, [("Content-Type", "text/plain")], b"Not Found")
        start_response(f"{answer.status} {_reason(answer.status)}", answer.headers)
        return [answer.body]

    def ping(self) -> Answer:
        """200 once every container answers its /ping with 200; a container that says why it
        cannot serve (500 with a text) makes this a 500 naming it; otherwise 503 (starting)."""
        for container in self.spec.containers:
            try:
                answer = self.connections.call("GET", container.port, "/ping", b"", {})
            except OSError:
                return _text(503, f"container {container.hostname} is not answering /ping yet")
            if answer.status == 200:
                continue
            text = answer.body.decode("utf-8", "replace").strip()
            if answer.status == 500 and text.startswith("<"):
                return answer  # a container's own error page: the variant fails as for one
            if answer.status == 500 and text:
                return _text(500, f"container {container.hostname}: {text}")
            return _text(503, f"container {container.hostname} answered /ping with {answer.status}")
        return Answer(200, [("Content-Type", "text/plain")], b"")

    def invoke(self, environ: Environ) -> Answer:
        """Run the request through the containers the mode says."""
        body = _body(environ)
        headers = {wire: environ[key] for key, wire in PASSED if environ.get(key)}
        content_type = environ.get("CONTENT_TYPE")
        if self.spec.mode == DIRECT:
            target = self.spec.container(environ.get(TARGET, ""))
            if target is None:  # the edge refuses these first; a caller of this server directly
                return _text(400, f"no container {environ.get(TARGET, '')!r} in this instance")
            chain: tuple[Container, ...] = (target,)
        else:
            chain = self.spec.containers
        answer = Answer(200, [], body)
        for container in chain:
            sent = dict(headers)
            if content_type:
                sent["Content-Type"] = content_type
            try:
                answer = self.connections.call("POST", container.port, "/invocations", body, sent)
            except OSError as exc:
                answer = _text(502, f"container {container.hostname} did not answer: {exc}")
            if not 200 <= answer.status < 300:
                return _failed(answer, container.hostname)
            body = answer.body
            content_type = answer.header("Content-Type") or content_type
        return _final(answer)


def _body(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _final(answer: Answer) -> Answer:
    kept = [
        (k, v)
        for k, v in answer.headers
        if k.lower() in ("content-type", "x-amzn-sagemaker-custom-attributes")
    ]
    return Answer(answer.status, kept, answer.body)


def _failed(answer: Answer, hostname: str) -> Answer:
    kept = [(k, v) for k, v in answer.headers if k.lower() == "content-type"]
    return Answer(answer.status, [*kept, (CONTAINER_HEADER, hostname)], answer.body)


def _text(status: int, text: str) -> Answer:
    return Answer(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


def _reason(status: int) -> str:
    return http.client.responses.get(status, "Unknown")
