"""The edge's HTTP/1.1 server on a real port: keep-alive, pipelining, 100-continue, HEAD,
timeouts and the connection cap, and body limits decided per route before a body is read."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.emulator.wire.http_limits import (
    MAX_BODY,
    SMALL_BODY,
    BodyLimit,
    ConnectionLimits,
    RawHeaders,
)
from smlocal.emulator.wire.http_server import (
    Handler,
    Headers,
    HttpServer,
    Request,
    Respond,
    serve,
)
from smlocal.emulator.wire.wsgi_bridge import WSGIBridge
from tests.support import ROLE, ROOT, XGBOOST_IMAGE, http_status, listening_socket


def wsgi_echo(environ, start_response):
    body = environ["wsgi.input"].read()
    text = (
        f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']} {len(body)}"
    )
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "999")])
    return [text.encode()]


def refuse_small(method: str, path: str, headers: RawHeaders) -> tuple[int, Headers, bytes]:
    return 413, [("X-Refused", f"{method} {path}")], b"at most %d bytes" % LIMIT


LIMIT = SMALL_BODY  # the smallest limit a route may have


class Limited:
    """A handler with a body limit hook: bodies sent to /small may have at most LIMIT bytes."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.asked: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests handed over and not answered at once

    def __call__(self, request: Request, respond: Respond) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

        def answered(status: int, headers: Headers, body: bytes) -> None:
            self.in_flight -= 1
            respond(status, headers, body)

        self.handler(request, answered)

    def body_limit(self, method: str, path: str, headers: RawHeaders) -> BodyLimit | None:
        self.asked.append(path)
        return BodyLimit(LIMIT, refuse_small) if path == "/small" else None


class Server:
    def __init__(self, limits: ConnectionLimits | None = None) -> None:
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.executor = ThreadPoolExecutor(4)
        self.limits = limits or ConnectionLimits()
        self.ready = threading.Event()
        self.server: HttpServer
        self.limited: Limited

    def handler(self, request: Request, respond: Respond) -> None:
        if request.path == "/slow":
            self.loop.call_later(0.2, respond, 200, [], b"slow")
        elif request.path == "/sleep":  # longer than 4 timeouts of the impatient server
            self.loop.call_later(4 * QUICK, respond, 200, [], b"slept")
        elif request.path.startswith("/wsgi"):
            WSGIBridge(wsgi_echo, self.loop, self.executor, self.port)(request, respond)
        else:
            respond(200, [("X-Len", str(len(request.body)))], request.path.encode())

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        handler = self.limited = Limited(self.handler)
        server = self.loop.run_until_complete(serve(handler, self.sock, self.limits))
        self.server = server
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.run_until_complete(asyncio.sleep(0.05))  # let closed transports finish
        self.loop.close()
        self.executor.shutdown()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    thread = start(srv)
    yield srv
    srv.loop.call_soon_threadsafe(srv.loop.stop)
    thread.join(10)


def raw(port: int, data: bytes, expect_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            assert not expect_close
        return b"".join(chunks)


def test_keep_alive_serves_many_requests_on_one_connection(server: Server) -> None:
    with requests.Session() as session:
        for i in range(20):
            response = session.post(f"http://127.0.0.1:{server.port}/n{i}", data=b"x" * i)
            assert response.text == f"/n{i}"
            assert response.headers["X-Len"] == str(i)


def test_pipelined_answers_come_back_in_request_order(server: Server) -> None:
    data = (
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    answer = raw(server.port, data)
    assert answer.index(b"slow") < answer.index(b"/fast")
    assert answer.count(b"HTTP/1.1 200 OK") == 2


def test_expect_100_continue_and_a_chunked_body(server: Server) -> None:
    data = (
        b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    answer = raw(server.port, data)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert b"X-Len: 11\r\n" in answer


def test_wsgi_apps_get_a_proper_environ_and_head_has_no_body(server: Server) -> None:
    url = f"http://127.0.0.1:{server.port}/wsgi/a%20b"
    response = requests.post(url + "?x=1", data=b"abc", timeout=5)
    assert response.text == "POST /wsgi/a b?x=1 3"
    assert response.headers["Content-Length"] == str(len(response.content))
    head = requests.head(url, timeout=5)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "999"  # the app's, for HEAD
    assert head.content == b""


def test_malformed_requests_get_400_and_the_connection_closes(server: Server) -> None:
    answer = raw(server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in answer
    assert b"malformed HTTP request" in answer


def test_http_10_closes_after_the_answer(server: Server) -> None:
    answer = raw(server.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert answer.endswith(b"/old")
    assert b"Connection: close" in answer


# ---- connection limits: timeouts and a cap on connections -------------------------------

QUICK = 0.5  # the timeouts of the `impatient` server, in seconds
PATIENT = 2.0  # the body timeout of the `patient_body` server, in seconds
DEADLINE = 10.0  # how long a test waits for the server to act, far above any timeout


def start(srv: Server) -> threading.Thread:
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    srv.ready.wait(10)
    return thread


@pytest.fixture(scope="module")
def impatient() -> Iterator[Server]:
    srv = Server(ConnectionLimits(header_timeout=QUICK, body_timeout=QUICK, idle_timeout=QUICK))
    thread = start(srv)
    yield srv
    srv.loop.call_soon_threadsafe(srv.loop.stop)
    thread.join(10)


@pytest.fixture(scope="module")
def patient_body() -> Iterator[Server]:
    """A server whose body timeout is far above the gaps of a body that keeps arriving."""
    srv = Server(ConnectionLimits(body_timeout=PATIENT))
    thread = start(srv)
    yield srv
    srv.loop.call_soon_threadsafe(srv.loop.stop)
    thread.join(10)


@pytest.fixture(scope="module")
def capped() -> Iterator[Server]:
    # timeouts far above any test's length: only the cap closes connections here
    srv = Server(ConnectionLimits(max_connections=50, header_timeout=300, body_timeout=300))
    thread = start(srv)
    yield srv
    srv.loop.call_soon_threadsafe(srv.loop.stop)
    thread.join(10)


def read_until_closed(sock: socket.socket, deadline: float = DEADLINE) -> bytes:
    """Everything the server sends until it closes; fails if it has not closed by the deadline."""
    sock.settimeout(deadline)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(impatient) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as s:
        assert read_until_closed(s) == b""


def test_a_slow_header_is_answered_408_and_closed_even_while_bytes_trickle_in(impatient) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as s:
        s.sendall(b"GET /loris HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        began = time.monotonic()
        closed = False
        while time.monotonic() - began < DEADLINE and not closed:
            try:
                s.sendall(b"1")  # a byte now and then does not extend the deadline
            except OSError:
                break
            # often, so that a byte may be on its way when the answer is: closing with it
            # unread would reset the connection and lose the answer (the 400 test below
            # makes that case certain)
            closed = bool(select.select([s], [], [], 0.002)[0])
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Connection: close" in answer


def test_a_malformed_request_with_megabytes_behind_it_is_still_answered_400(impatient) -> None:
    """The server stops parsing at the bad header, long before the rest has been read: it
    reads and drops the rest instead of resetting the connection under its answer."""
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=DEADLINE) as s:
        s.sendall(b"POST /x HTTP/1.1\r\nBad Header\r\nContent-Length: 4194304\r\n\r\n")
        s.sendall(b"x" * (4 << 20))
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_a_stalled_body_is_answered_408_and_closed(impatient) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_body_that_keeps_arriving_is_not_cut(patient_body) -> None:
    chunks = 30
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", patient_body.port), timeout=DEADLINE) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
        s.sendall(b"Content-Length: %d\r\n\r\n" % chunks)
        for _ in range(chunks):  # gaps of 0.1 s against a body timeout of 2 s
            time.sleep(0.1)
            s.sendall(b"x")
        answer = read_until_closed(s)
    # the body took longer in all than one body timeout: the timeout is per gap, not in total
    assert time.monotonic() - began > PATIENT
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"X-Len: 30\r\n" in answer


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(impatient) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as s:
        s.sendall(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"/once")  # answered, kept alive, then closed without a word


def test_a_request_in_progress_is_not_cut_by_any_timeout(impatient) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=5) as s:
        s.sendall(b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")  # answered after 4 timeouts
        s.settimeout(DEADLINE)
        answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"slept")


def test_a_flood_of_half_open_connections_evicts_the_oldest_and_answers_the_newest(
    capped,
) -> None:
    flood = []
    try:
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", capped.port), timeout=5)
            if i % 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost")  # half a head; the others send nothing
            flood.append(s)
        answer = raw(capped.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"/health")
        # 61 connections against a cap of 50: the 11 oldest were closed, the others are open.
        deadline = time.monotonic() + DEADLINE
        closed: list[socket.socket] = []
        while len(closed) < 11 and time.monotonic() < deadline:
            closed = select.select(flood, [], [], 0.2)[0]
        time.sleep(0.2)
        closed = select.select(flood, [], [], 0)[0]
        assert closed == flood[:11]
        assert len(capped.server.connections) <= 50
    finally:
        for s in flood:
            s.close()


def test_a_flood_of_slow_uploads_cannot_lock_others_out(capped) -> None:
    flood = []
    try:
        for _ in range(60):  # each starts a body and then sends nothing more for now
            s = socket.create_connection(("127.0.0.1", capped.port), timeout=5)
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
            flood.append(s)
        answer = raw(capped.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        for s in flood:
            s.close()


def test_request_heads_are_capped_in_size_and_count(server) -> None:
    long_url = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    many = (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % n for n in range(300))
        + b"\r\n"
    )
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n"
    for head in (long_url, many, big):
        answer = raw(server.port, head)
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:80]
    fine = (
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(99)) + b"\r\n"
    )
    assert raw(server.port, fine + b"", expect_close=False).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_pipelining_client_is_read_only_as_fast_as_it_is_answered(server) -> None:
    before = server.limited.most_in_flight
    count = 100
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" * count)
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < count:
            chunk = s.recv(65536)
            assert chunk, "closed early"
            received += chunk
    assert received.count(b"slow") == count
    assert server.limited.most_in_flight - before <= 16 + 1, server.limited.most_in_flight


CHILD_SERVER = """
import asyncio, resource, socket, sys
import uvloop
from smlocal.emulator.wire.http_server import serve
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
sock = socket.socket(fileno=int(sys.argv[1]))
def handler(request, respond):
    respond(200, [], request.path.encode())
async def main():
    await serve(handler, sock)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def test_more_half_open_connections_than_open_files_do_not_lock_the_server_out() -> None:
    """The reported fault: with the default limits and a process allowed 256 open files, 300
    clients that connect and send nothing (or half a head) took every file descriptor, and
    the health check could no longer connect."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SERVER, str(sock.fileno())], pass_fds=[sock.fileno()], cwd=ROOT
    )
    sock.close()
    flood = []
    try:
        assert http_status(f"http://127.0.0.1:{port}/first", timeout=DEADLINE) == 200
        for i in range(300):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                break
            if i % 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost")
            flood.append(s)
        assert http_status(f"http://127.0.0.1:{port}/_smlocal/health", timeout=5) == 200
    finally:
        for s in flood:
            s.close()
        child.terminate()
        child.wait(10)


# ---- body limits: decided per request when its head is complete --------------------------


def test_a_declared_body_above_the_routes_limit_is_refused_before_it_is_sent(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1))
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
    assert b"X-Refused: POST /small\r\n" in answer
    assert b"Connection: close\r\n" in answer
    assert answer.endswith(b"at most 65536 bytes")


def test_a_body_at_the_limit_is_taken(server) -> None:
    url = f"http://127.0.0.1:{server.port}/small"
    response = requests.post(url, data=b"x" * LIMIT, timeout=5)
    assert response.status_code == 200
    assert response.headers["X-Len"] == str(LIMIT)


def test_the_hook_is_not_asked_about_small_bodies(server) -> None:
    """The runtime's hot path: a small invocation costs no body-limit decision."""
    url = f"http://127.0.0.1:{server.port}"
    assert requests.post(f"{url}/not-asked", data=b"x" * LIMIT, timeout=5).status_code == 200
    assert requests.post(f"{url}/asked", data=b"x" * (LIMIT + 1), timeout=5).status_code == 200
    assert "/not-asked" not in server.limited.asked
    assert "/asked" in server.limited.asked


def test_expect_100_continue_above_the_limit_gets_the_refusal_instead(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(
            b"POST /small HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % (LIMIT + 1)
        )
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in answer


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % (LIMIT // 2 + 1) + b"x" * (LIMIT // 2 + 1) + b"\r\n"
        s.sendall(chunk)
        s.sendall(chunk)
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_client_that_sends_the_whole_oversized_body_still_reads_the_refusal(server) -> None:
    """The server reads and drops the rest instead of resetting the connection under it."""
    body = b"x" * (8 << 20)
    head = b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        s.sendall(head + body)
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b"at most 65536 bytes")


def test_a_refusal_waits_for_the_answers_of_earlier_pipelined_requests(server) -> None:
    data = (
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(data)
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.index(b"slow") < answer.index(b"HTTP/1.1 413 ")


def test_routes_without_a_limit_keep_the_servers_cap(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        answer = read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"request bodies above 1073741824 bytes are not accepted" in answer


# ---- the edge: the control plane, the runtime and moto each with their own limit -----------


def ask(port: int, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send only a request head and read the answer the emulator gives before the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
        s.sendall(head)
        answer = read_until_closed(s)
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_a_control_plane_head_declaring_100_mb_is_answered_before_the_body(smlocal) -> None:
    status, headers, body = ask(
        smlocal.port,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.CreateModel\r\n"
        b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100000000\r\n\r\n",
    )
    assert status == 413
    assert body == b"HTTP content length exceeded 5246976 bytes."
    assert headers["connection"] == "close"
    assert headers["x-amzn-requestid"]


def test_a_100_mb_control_plane_request_is_refused_without_growing_the_emulator(smlocal) -> None:
    sm = smlocal.client("sagemaker", config=Config(retries={"max_attempts": 1}))
    container = {"Image": XGBOOST_IMAGE, "Environment": {"HUGE": "x" * 100_000_000}}
    with RssPeak(smlocal.proc.pid) as peak, pytest.raises(ClientError) as caught:
        sm.create_model(ModelName="huge", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    assert caught.value.response["Error"] == {
        "Code": "413",
        "Message": "HTTP content length exceeded 5246976 bytes.",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert peak.grown < 30_000_000  # the body was 100 MB


def test_a_7_mb_invocation_gets_the_same_validation_error_before_its_body_is_read(smlocal) -> None:
    expected = (
        "1 validation error detected: Value at 'body' failed to satisfy constraint: "
        "Member must have length less than or equal to 6291456"
    )
    status, headers, body = ask(
        smlocal.port,
        b"POST /endpoints/no-such-endpoint/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: text/csv\r\nContent-Length: 7340032\r\n\r\n",
    )
    assert (status, headers["x-amzn-errortype"], headers["connection"]) == (
        400,
        "ValidationError",
        "close",
    )
    assert json.loads(body) == {"Message": expected}
    runtime = smlocal.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"0" * (7 << 20))
    assert caught.value.response["Error"] == {"Code": "ValidationError", "Message": expected}


class RssPeak:
    """The most a process's resident memory grew while the block ran (sampled every 5 ms)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.grown = 0
        self._stop = threading.Event()

    def __enter__(self) -> RssPeak:
        self.before = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.grown = max(self.grown, self.process.memory_info().rss - self.before)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
