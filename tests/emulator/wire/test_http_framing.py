"""Hostile framing against the edge's HTTP/1.1 server on a real port, through raw sockets.

Each test sends bytes a well-behaved client would not, and asserts what the server answers
and whether the connection survives. The rule behind most of them: a request whose framing
is ambiguous is refused and the connection closed, so that nothing after it on the same
connection is ever read as a request of its own (request smuggling, RFC 9112 §11.2).
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop

from smlocal.emulator.wire.http_framing import Refusal, check_head, request_target, with_host
from smlocal.emulator.wire.http_limits import ConnectionLimits
from smlocal.emulator.wire.http_server import Request, Respond, serve
from smlocal.emulator.wire.wsgi_bridge import WSGIBridge
from tests.support import listening_socket

DEADLINE = 10.0  # how long a test waits for the server to answer or close
QUICK = 0.5  # the timeouts of the `impatient` server
H = b"Host: x\r\n"


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi %s %d" % (environ["PATH_INFO"].encode(), len(body))]


class Harness:
    """The server with a handler that records every request it is handed and echoes it."""

    def __init__(self, limits: ConnectionLimits | None = None) -> None:
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.limits = limits or ConnectionLimits()
        self.loop = uvloop.new_event_loop()  # the edge runs on uvloop
        self.executor = ThreadPoolExecutor(2)
        self.seen: list[str] = []  # "METHOD path" of every request the handler got
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def handler(self, request: Request, respond: Respond) -> None:
        self.seen.append(f"{request.method} {request.path}")
        if request.path == "/slow":
            self.loop.call_later(0.2, respond, 200, [], b"slow")
        elif request.path.startswith("/wsgi"):
            WSGIBridge(wsgi_app, self.loop, self.executor, self.port)(request, respond)
        else:
            echo = {
                "path": request.path,
                "query": request.query,
                "body": request.body.decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers],
            }
            respond(200, [("Content-Type", "application/json")], json.dumps(echo).encode())

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(serve(self.handler, self.sock, self.limits))
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.run_until_complete(asyncio.sleep(0.05))
        self.loop.close()
        self.executor.shutdown()

    def __enter__(self) -> Harness:
        self.thread.start()
        assert self.ready.wait(DEADLINE)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)


@pytest.fixture(scope="module")
def server() -> Iterator[Harness]:
    with Harness() as harness:
        yield harness


@pytest.fixture(scope="module")
def impatient() -> Iterator[Harness]:
    limits = ConnectionLimits(header_timeout=QUICK, body_timeout=QUICK, idle_timeout=QUICK)
    with Harness(limits) as harness:
        yield harness


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def echo(self) -> dict[str, Any]:
        """The request as the echo handler saw it."""
        return json.loads(self.body)  # type: ignore[no-any-return]


def parse_answers(data: bytes) -> list[Answer]:
    """Every whole answer in what the server sent (its answers always carry their length)."""
    answers = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete answer: {data[:200]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        length = int(headers.get("content-length", "0"))
        answers.append(Answer(int(status_line.split()[1]), headers, rest[:length]))
        data = rest[length:]
    return answers


def read_to_close(sock: socket.socket, deadline: float = DEADLINE) -> bytes:
    """Everything the server sends until it closes; fails if it has not closed in time."""
    sock.settimeout(deadline)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pytest.fail(f"the server did not close within {deadline} s: {b''.join(chunks)!r}")
    return b"".join(chunks)


def exchange(port: int, data: bytes, *, half_close: bool = False) -> list[Answer]:
    """Send data in one write and read every answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return parse_answers(read_to_close(s))


def converse(sock: socket.socket, data: bytes, count: int) -> list[Answer]:
    """Send data and read until `count` whole answers have come (the connection stays)."""
    sock.sendall(data)
    sock.settimeout(DEADLINE)
    received = b""
    while True:
        try:
            answers = parse_answers(received)
            if len(answers) >= count:
                return answers
        except (AssertionError, ValueError):
            pass  # not whole yet
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk


def still_open(sock: socket.socket) -> bool:
    """Nothing to read and no close for a moment."""
    return not select.select([sock], [], [], 0.3)[0]


def refused(server: Harness, data: bytes, status: int) -> Answer:
    """Send a request the server must refuse: one answer with that status, the connection
    closed, and nothing of it (nor of what followed it) handed to the handler."""
    before = len(server.seen)
    answers = exchange(server.port, data + b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n")
    assert [a.status for a in answers] == [status], answers
    assert answers[0].headers["connection"] == "close"
    assert server.seen[before:] == []
    return answers[0]


# ---- Content-Length and Transfer-Encoding ------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["cl-then-te", "te-then-cl", "cl-0-and-te"],
)
def test_content_length_with_chunked_is_refused(server, framing) -> None:
    """RFC 9112 §6.3 lets a server refuse it or let TE win and close; this one refuses, so
    the `0` chunk cannot end one request for one reader and start another for the other."""
    refused(server, b"POST /a HTTP/1.1\r\n" + H + framing + b"\r\n0\r\n\r\n", 400)


@pytest.mark.parametrize(
    "lengths",
    [b"5\r\nContent-Length: 6", b"5\r\nContent-Length: 5", b"5, 5", b"5, 6"],
    ids=["different", "same-twice", "list-same", "list-different"],
)
def test_more_than_one_content_length_is_refused(server, lengths) -> None:
    refused(
        server, b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: " + lengths + b"\r\n\r\nhello", 400
    )


@pytest.mark.parametrize("length", [b"-5", b"abc", b"+5", b"0x5", b"5 5", b"1" * 30], ids=str)
def test_a_content_length_that_is_not_a_decimal_number_is_refused(server, length) -> None:
    refused(
        server, b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: " + length + b"\r\n\r\nhello", 400
    )


def test_a_post_without_length_has_an_empty_body_and_the_connection_goes_on(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        first, second = converse(
            s, b"POST /a HTTP/1.1\r\n" + H + b"\r\nGET /b HTTP/1.1\r\n" + H + b"\r\n", 2
        )
        assert (first.echo()["body"], second.echo()["path"]) == ("", "/b")


@pytest.mark.parametrize(
    "coding", [b"gzip, chunked", b"foo, chunked", b"gzip\r\nTransfer-Encoding: chunked"]
)
def test_a_coding_before_chunked_is_not_implemented(server, coding) -> None:
    """RFC 9112 §6.1: 501 for a transfer coding the server does not understand; the body
    was never handed on still compressed."""
    answer = refused(
        server,
        b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n",
        501,
    )
    assert b"only the chunked transfer coding is supported" in answer.body


@pytest.mark.parametrize(
    "coding",
    [
        b"gzip",
        b"foo",
        b"chunked, gzip",
        b"chunked\r\nTransfer-Encoding: gzip",
        b"",
        b"chunked, chunked",
    ],
)
def test_a_coding_list_not_ending_in_one_chunked_leaves_the_length_unknown(server, coding) -> None:
    """RFC 9112 §6.3: the body's length cannot be determined; 400 and close."""
    refused(
        server, b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: " + coding + b"\r\n\r\nabc", 400
    )


@pytest.mark.parametrize("spelling", [b"chunked", b"Chunked", b"CHUNKED", b" chunked "])
def test_chunked_is_a_case_insensitive_token(server, spelling) -> None:
    data = (
        b"POST /a HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding: "
        + spelling
        + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [answer] = converse(s, data, 1)
        assert (answer.status, answer.echo()["body"]) == (200, "abc")
        assert still_open(s)


def test_chunked_on_http_10_is_answered_and_then_the_connection_closes(server) -> None:
    """RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a
    1.0 hop in between would not have understood it): answer it, then close, even when the
    client asked to keep the connection."""
    before = len(server.seen)
    answers = exchange(
        server.port,
        b"POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    assert [(a.status, a.headers["connection"]) for a in answers] == [(200, "close")]
    assert answers[0].echo()["body"] == "abc"
    assert server.seen[before:] == ["POST /a"]


# ---- chunked bodies ----------------------------------------------------------------------

CHUNKED = b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "chunks",
    [
        b"ffffffffffffffffff1\r\nabc\r\n0\r\n\r\n",  # above 64 bits
        b"fffffffffffffffff\r\nabc\r\n0\r\n\r\n",  # 17 hex digits
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"-3\r\nabc\r\n0\r\n\r\n",
        b"0x3\r\nabc\r\n0\r\n\r\n",
        b"3 \r\nabc\r\n0\r\n\r\n",  # space after the size
        b"3\r\nabcX0\r\n\r\n",  # no CRLF after the data
        b"3\r\nabcdef\r\n0\r\n\r\n",  # more data than the size
        b"3\nabc\n0\n\n",  # bare LF
        b"3\r\nabc\r\n\r\n",  # no last chunk
    ],
    ids=[
        "overflow",
        "17-digits",
        "not-hex",
        "negative",
        "0x",
        "space",
        "no-crlf",
        "too-long",
        "bare-lf",
        "no-last-chunk",
    ],
)
def test_bad_chunks_are_refused(server, chunks) -> None:
    refused(server, CHUNKED + chunks, 400)


def test_chunk_extensions_are_ignored(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [answer] = converse(
            s, CHUNKED + b'3;name=value\r\nabc\r\n2;q="x y"\r\nde\r\n0;end\r\n\r\n', 1
        )
        assert answer.echo()["body"] == "abcde"


def test_trailers_are_read_but_never_merged_into_the_headers(server) -> None:
    """RFC 9110 §6.5.1: a trailer must not be taken for a header (a trailing Host or
    X-Amz-Target would otherwise pass the checks made on the head, then win after them)."""
    data = (
        CHUNKED + b"3\r\nabc\r\n0\r\nX-Amz-Target: SageMaker.DeleteModel\r\nHost: evil\r\n\r\n"
        b"GET /next HTTP/1.1\r\n" + H + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        first, second = converse(s, data, 2)
    assert first.echo()["body"] == "abc"
    assert first.echo()["headers"] == [["host", "x"], ["transfer-encoding", "chunked"]]
    assert second.echo()["path"] == "/next"


def test_a_content_length_in_the_trailers_is_refused(server) -> None:
    refused(server, CHUNKED + b"3\r\nabc\r\n0\r\nContent-Length: 50\r\n\r\n", 400)


def test_endless_trailers_are_cut_like_a_head(server) -> None:
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    refused(server, CHUNKED + b"0\r\n" + trailers + b"\r\n", 431)


# ---- header lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        b"X-Fold: one\r\n two\r\n",  # obs-fold with a space
        b"X-Fold: one\r\n\ttwo\r\n",  # and with a tab
        b"Transfer-Encoding: chunked\r\n gzip\r\n",  # a folded coding
        b"NoColonHere\r\n",
        b"X-A : 1\r\n",  # space before the colon
        b"Content-Length : 3\r\n",
        b"Transfer-Encoding : chunked\r\n",
        b": empty-name\r\n",
        b"X Y: 1\r\n",
        b"X: a\x00b\r\n",
        b"X: a\x01b\r\n",
        b"Host: x\nX: y\r\n",  # bare LF in the head
        b"Host: x\rX: y\r\n",  # bare CR
        b"Transfer-Encoding:\x0bchunked\r\n",
    ],
    ids=[
        "obs-fold-space",
        "obs-fold-tab",
        "folded-coding",
        "no-colon",
        "space-colon",
        "space-colon-cl",
        "space-colon-te",
        "empty-name",
        "space-in-name",
        "nul",
        "ctl",
        "bare-lf",
        "bare-cr",
        "vtab",
    ],
)
def test_malformed_header_lines_are_refused(server, lines) -> None:
    answer = refused(server, b"POST /a HTTP/1.1\r\n" + H + lines + b"\r\nabc", 400)
    assert b"malformed HTTP request" in answer.body


def test_a_folded_first_line_and_bare_lf_request_lines_are_refused(server) -> None:
    refused(server, b"GET /a HTTP/1.1\r\n folded: x\r\n" + H + b"\r\n", 400)
    refused(server, b"GET /a HTTP/1.1\nHost: x\n\n", 400)
    refused(server, b"GET /a\tb HTTP/1.1\r\n" + H + b"\r\n", 400)
    refused(server, b"get /a HTTP/1.1\r\n" + H + b"\r\n", 400)


def test_more_than_one_host_is_refused(server) -> None:
    """RFC 9112 §3.2 (the guard judges the first, moto would have seen both joined)."""
    refused(server, b"GET /a HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n", 400)


def test_an_http_1_1_request_without_host_is_refused_and_1_0_is_not(server) -> None:
    """RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request that lacks Host."""
    answer = refused(server, b"GET /a HTTP/1.1\r\nX-Other: 1\r\n\r\n", 400)
    assert b"must have a Host header" in answer.body
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [answer] = converse(s, b"GET /a HTTP/1.0\r\n\r\n", 1)
    assert answer.status == 200


def test_obs_text_in_a_value_is_kept(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [answer] = converse(s, b"GET /a HTTP/1.1\r\n" + H + b"X-Name: caf\xe9\r\n\r\n", 1)
    assert ["x-name", "caf\xe9"] in answer.echo()["headers"]


def test_oversized_and_too_many_headers_get_431(server) -> None:
    refused(server, b"GET /a HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431)
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(201))
    refused(server, b"GET /a HTTP/1.1\r\n" + H + many + b"\r\n", 431)
    refused(server, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n" + H + b"\r\n", 431)


# ---- request lines and versions ----------------------------------------------------------


def test_an_absolute_form_target_is_served_with_the_host_it_names(server) -> None:
    """RFC 9112 §3.2.2: a server must accept it, and take the host from it, not from Host."""
    data = b"GET http://example.com:81/a/b?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [answer] = converse(s, data, 1)
    echo = answer.echo()
    assert (echo["path"], echo["query"]) == ("/a/b", "x=1")
    assert echo["headers"] == [["host", "example.com:81"]]


@pytest.mark.parametrize(
    "target",
    [b"ftp://example.com/a", b"http://user@example.com/a", b"http:///a", b"example.com:80", b"a/b"],
    ids=["ftp", "userinfo", "no-host", "authority", "relative"],
)
def test_targets_that_are_neither_a_path_nor_an_http_url_are_refused(server, target) -> None:
    refused(server, b"GET " + target + b" HTTP/1.1\r\n" + H + b"\r\n", 400)


def test_an_asterisk_target_is_only_for_options(server) -> None:
    refused(server, b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400)
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [answer] = converse(s, b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", 1)
    assert answer.echo()["path"] == "*"


def test_connect_is_not_implemented(server) -> None:
    refused(server, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501)


@pytest.mark.parametrize("line", [b"GET /a HTTP/2.0\r\n", b"GET /a\r\n"], ids=["2.0", "0.9"])
def test_other_major_versions_are_not_supported(server, line) -> None:
    refused(server, line + H + b"\r\n", 505)


def test_an_unknown_minor_version_is_refused(server) -> None:
    refused(server, b"GET /a HTTP/1.2\r\n" + H + b"\r\n", 400)


def test_http_10_without_keep_alive_is_answered_and_closed(server) -> None:
    before = len(server.seen)
    answers = exchange(server.port, b"GET /old HTTP/1.0\r\n\r\nGET /smuggled HTTP/1.0\r\n\r\n")
    assert [(a.status, a.headers["connection"]) for a in answers] == [(200, "close")]
    assert server.seen[before:] == ["GET /old"]


def test_http_10_with_keep_alive_is_told_the_connection_stays_open(server) -> None:
    """An HTTP/1.0 client assumes the connection closes unless the answer says otherwise."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        [first] = converse(s, b"GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1)
        assert first.headers["connection"] == "keep-alive"
        assert still_open(s)
        s.sendall(b"GET /two HTTP/1.0\r\n\r\n")
        [second] = parse_answers(read_to_close(s))
    assert (second.echo()["path"], second.headers["connection"]) == ("/two", "close")


def test_an_upgrade_is_ignored_and_the_connection_closed_after_the_answer(server) -> None:
    """RFC 9110 §7.8 lets a server ignore Upgrade (curl --http2 asks for h2c); llhttp reads
    nothing after such a request, so the connection closes after its one answer."""
    before = len(server.seen)
    answers = exchange(
        server.port,
        b"GET /up HTTP/1.1\r\n" + H + b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    )
    assert [(a.status, a.headers["connection"]) for a in answers] == [(200, "close")]
    assert server.seen[before:] == ["GET /up"]


def test_an_upgrade_with_a_body_is_refused(server) -> None:
    """llhttp does not read the body of a request that asks for an upgrade: handing it on
    would give the handler an empty body where the client sent one."""
    data = b"POST /up HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    refused(server, data + b"Content-Length: 3\r\n\r\nabc", 400)


def test_an_h2_preface_is_refused(server) -> None:
    refused(server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400)


# ---- pipelining --------------------------------------------------------------------------


def test_three_pipelined_requests_get_three_answers_in_order(server) -> None:
    """The first answers last (a timer), the second from a worker thread, the third at once."""
    data = b"".join(b"GET /%s HTTP/1.1\r\n%s\r\n" % (p, H) for p in (b"slow", b"wsgi/2", b"three"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as s:
        answers = converse(s, data, 3)
        assert still_open(s)
    assert [a.body for a in answers[:2]] == [b"slow", b"wsgi /wsgi/2 0"]
    assert answers[2].echo()["path"] == "/three"


def test_a_request_pipelined_after_connection_close_is_not_read(server) -> None:
    before = len(server.seen)
    answers = exchange(
        server.port,
        b"GET /last HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
        b"POST /smuggled HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n",
    )
    assert [a.status for a in answers] == [200]
    assert server.seen[before:] == ["GET /last"]


def test_a_request_pipelined_after_a_refused_one_is_not_read(server) -> None:
    """After a refusal, whatever follows on the connection is dropped: neither answered nor
    handed to the handler (the refused() helper checks that for every test above)."""
    before = len(server.seen)
    answers = exchange(
        server.port,
        b"GET /first HTTP/1.1\r\n" + H + b"\r\n"
        b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    )
    assert [a.status for a in answers] == [200, 400]
    assert server.seen[before:] == ["GET /first"]


def test_a_refused_body_is_drained_not_read_as_requests(server) -> None:
    """A 413 answers before the body; the body is then dropped, requests inside it too."""
    big = 2 << 30
    inside = b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n"
    before = len(server.seen)
    answers = exchange(
        server.port, b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n\r\n" % big + inside
    )
    assert [a.status for a in answers] == [413]
    assert server.seen[before:] == []


# ---- timeouts and half-closed connections ------------------------------------------------


def test_a_head_that_never_completes_gets_408_after_the_header_timeout(impatient) -> None:
    # the server's clock starts at accept, before connect returns here: start ours first, or
    # a busy machine that runs this thread late makes the wait look shorter than it was
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=DEADLINE) as s:
        s.sendall(b"GET /a HTTP/1.1\r\n" + H)
        answers = parse_answers(read_to_close(s))
    assert [a.status for a in answers] == [408]
    assert time.monotonic() - began >= QUICK


def test_an_idle_keep_alive_connection_closes_after_the_idle_timeout(impatient) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=DEADLINE) as s:
        [answer] = converse(s, b"GET /a HTTP/1.1\r\n" + H + b"\r\n", 1)
        assert answer.status == 200
        idle_from = time.monotonic()
        assert read_to_close(s) == b""  # closed without a word
    assert time.monotonic() - idle_from >= QUICK


def test_a_client_that_half_closes_still_gets_its_answers(server) -> None:
    """shutdown(SHUT_WR) after the last request is allowed (RFC 9112 §9.6): the answers of
    a timer, of a worker thread and of the loop all arrive, then the server closes."""
    data = b"".join(b"GET /%s HTTP/1.1\r\n%s\r\n" % (p, H) for p in (b"slow", b"wsgi/h", b"now"))
    answers = exchange(server.port, data, half_close=True)
    assert [a.body for a in answers[:2]] == [b"slow", b"wsgi /wsgi/h 0"]
    assert answers[2].echo()["path"] == "/now"


def test_a_client_that_half_closes_mid_head_is_closed_unanswered(server) -> None:
    before = len(server.seen)
    assert exchange(server.port, b"GET /a HTTP/1.1\r\nHo", half_close=True) == []
    assert server.seen[before:] == []


def test_a_client_that_half_closes_mid_body_is_closed_unanswered(server) -> None:
    before = len(server.seen)
    data = b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nabc"
    assert exchange(server.port, data, half_close=True) == []
    assert server.seen[before:] == []


# ---- the same through the emulator's edge ------------------------------------------------


def test_the_edge_judges_an_absolute_form_host_not_the_host_header(smlocal) -> None:
    """The guard against DNS rebinding sees the host the target names."""
    ok = exchange(
        smlocal.port,
        b"GET http://localhost/_smlocal/health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    assert [a.status for a in ok] == [200]
    denied = exchange(
        smlocal.port,
        b"GET http://evil.example/_smlocal/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    assert [a.status for a in denied] == [403]


def test_the_edge_refuses_a_smuggled_control_plane_request(smlocal) -> None:
    smuggled = (
        b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: SageMaker.ListModels\r\n"
        b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"
    )
    data = (
        b"GET /_smlocal/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % (len(smuggled) + 5) + smuggled
    )
    answers = exchange(smlocal.port, data)
    assert [a.status for a in answers] == [400]


# ---- the head rules as functions ---------------------------------------------------------


def test_request_target_splits_origin_and_absolute_forms() -> None:
    assert request_target("GET", b"/a%20b?x=1&y") == ("/a%20b", "x=1&y", None)
    assert request_target("GET", b"http://h:1") == ("/", "", b"h:1")
    assert request_target("GET", b"HTTPS://[::1]:4599?q") == ("/", "q", b"[::1]:4599")
    assert request_target("OPTIONS", b"*") == ("*", "", None)
    with pytest.raises(Refusal) as caught:
        request_target("CONNECT", b"h:443")
    assert caught.value.status == 501


def test_with_host_replaces_every_host_header() -> None:
    headers = [(b"host", b"a"), (b"x", b"1"), (b"host", b"b")]
    assert with_host(headers, b"c:2") == [(b"x", b"1"), (b"host", b"c:2")]


@pytest.mark.parametrize(
    ("version", "upgrade", "headers", "closes"),
    [
        ("1.1", False, [(b"host", b"x"), (b"transfer-encoding", b"Chunked ")], False),
        ("1.0", False, [(b"transfer-encoding", b"chunked")], True),
        ("1.0", False, [(b"content-length", b"3")], False),
        ("1.1", True, [(b"host", b"x"), (b"content-length", b"0")], True),
    ],
)
def test_check_head_says_when_the_connection_closes_after_the_answer(
    version, upgrade, headers, closes
) -> None:
    assert check_head(version, upgrade, "POST", headers) is closes


@pytest.mark.parametrize(
    ("version", "upgrade", "headers", "status"),
    [
        ("2.0", False, [], 505),
        ("1.1", False, [(b"host", b"a"), (b"host", b"a")], 400),
        ("1.1", False, [], 400),
        ("1.1", False, [(b"host", b"x"), (b"transfer-encoding", b"gzip")], 400),
        (
            "1.1",
            False,
            [(b"host", b"x"), (b"transfer-encoding", b"gzip"), (b"transfer-encoding", b"chunked")],
            501,
        ),
        ("1.1", True, [(b"host", b"x"), (b"content-length", b"3")], 400),
        ("1.1", True, [(b"host", b"x"), (b"transfer-encoding", b"chunked")], 400),
    ],
)
def test_check_head_refuses(version, upgrade, headers, status) -> None:
    with pytest.raises(Refusal) as caught:
        check_head(version, upgrade, "POST", headers)
    assert caught.value.status == status
