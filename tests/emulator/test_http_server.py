"""The edge's HTTP/1.1 server on a real port: keep-alive, pipelining, 100-continue, HEAD."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.http_server import Request, Respond, WSGIBridge, serve
from tests.support import listening_socket


def wsgi_echo(environ, start_response):
    body = environ["wsgi.input"].read()
    text = (
        f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']} {len(body)}"
    )
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "999")])
    return [text.encode()]


class Server:
    def __init__(self) -> None:
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.executor = ThreadPoolExecutor(4)
        self.delayed: list[Respond] = []

    def handler(self, request: Request, respond: Respond) -> None:
        if request.path == "/slow":
            self.loop.call_later(0.2, respond, 200, [], b"slow")
        elif request.path.startswith("/wsgi"):
            WSGIBridge(wsgi_echo, self.loop, self.executor, self.port)(request, respond)
        else:
            respond(200, [("X-Len", str(len(request.body)))], request.path.encode())

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(serve(self.handler, self.sock))
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.run_until_complete(asyncio.sleep(0.05))  # let closed transports finish
        self.loop.close()
        self.executor.shutdown()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
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
