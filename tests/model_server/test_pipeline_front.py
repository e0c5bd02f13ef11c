"""The front of a multi-container instance against real HTTP servers standing in for its
containers: Serial chains bodies and content types, Direct picks the container, errors and
/ping name the container."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from smlocal.model_server import pipeline
from smlocal.model_server.environment import ServerSettings, SettingsError
from smlocal.model_server.pipeline import Container, PipelineApp, PipelineSpec
from smlocal.model_server.pipeline_serving import PipelineServer
from tests.support import refused_port

App = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]


def container(tag: str, *, fail: bool = False, ping: int = 200) -> App:
    """A container that answers `{tag}({body}|{content type}|{accept})` as text/x-{tag}."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/ping":
            start_response(f"{min(ping, 500)} X", [("Content-Type", "text/plain")])
            return [
                b""
                if ping == 200
                else b"<html>error</html>"
                if ping == 599
                else b"model failed to load"
            ]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        if fail:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [f"{tag} refuses {body}".encode()]
        seen = f"{tag}({body}|{environ.get('CONTENT_TYPE')}|{environ.get('HTTP_ACCEPT')})"
        start_response("200 OK", [("Content-Type", f"text/x-{tag}"), ("X-Other", "dropped")])
        return [seen.encode()]

    return app


@contextmanager
def running(*apps: App) -> Iterator[list[int]]:
    servers = [make_server("127.0.0.1", 0, app, threaded=True) for app in apps]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [s.server_port for s in servers]
    finally:
        for s, t in zip(servers, threads, strict=True):
            s.shutdown()
            t.join(10)
            s.server_close()


def front(mode: str, ports: list[int], names: tuple[str, ...] = ("a", "b")) -> Client:
    spec = PipelineSpec(mode, tuple(Container(n, p) for n, p in zip(names, ports, strict=True)))
    return Client(PipelineApp(PipelineSpec.from_json(spec.to_json()), timeout=30))


def test_serial_passes_each_answer_and_its_content_type_on_with_the_callers_accept() -> None:
    with running(container("a"), container("b")) as ports:
        client = front("Serial", ports)
        for _ in range(3):  # kept connections are reused
            response = client.post(
                "/invocations", data="1,2", headers={"Content-Type": "text/csv", "Accept": "x/y"}
            )
            assert response.status_code == 200
            assert response.get_data(as_text=True) == "b(a(1,2|text/csv|x/y)|text/x-a|x/y)"
            assert response.headers["Content-Type"] == "text/x-b"
            assert "X-Other" not in response.headers


def test_an_error_stops_the_pipeline_and_names_the_container() -> None:
    with running(container("a", fail=True), container("b")) as ports:
        response = front("Serial", ports).post("/invocations", data="x", content_type="text/csv")
    assert response.status_code == 400
    assert response.headers["X-Smlocal-Container"] == "a"
    assert response.get_data(as_text=True) == "a refuses x"


def test_a_container_that_does_not_answer_is_a_502_naming_it() -> None:
    with running(container("a")) as ports, refused_port() as dead:
        response = front("Serial", [ports[0], dead]).post("/invocations", data="x")
    assert response.status_code == 502
    assert response.headers["X-Smlocal-Container"] == "b"


def test_direct_runs_only_the_target() -> None:
    with running(container("a"), container("b")) as ports:
        client = front("Direct", ports)
        response = client.post(
            "/invocations",
            data="1",
            headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Target-Container-Hostname": "b"},
        )
        assert response.get_data(as_text=True) == "b(1|text/csv|None)"
        unknown = client.post(
            "/invocations", data="1", headers={"X-Amzn-SageMaker-Target-Container-Hostname": "c"}
        )
        assert unknown.status_code == 400


def test_ping_is_healthy_only_when_every_container_is() -> None:
    with running(container("a"), container("b")) as ports:
        assert front("Serial", ports).get("/ping").status_code == 200
    with running(container("a"), container("b", ping=500)) as ports:
        failing = front("Serial", ports).get("/ping")
        assert failing.status_code == 500
        assert failing.get_data(as_text=True) == "container b: model failed to load"
    with running(container("a", ping=599), container("b")) as ports:
        page = front("Serial", ports).get("/ping")  # a container's own error page, passed on
        assert (page.status_code, page.get_data(as_text=True)) == (500, "<html>error</html>")
    with running(container("a")) as ports, refused_port() as dead:
        starting = front("Serial", [ports[0], dead]).get("/ping")
        assert starting.status_code == 503  # not a failure: the fleet keeps waiting


@pytest.mark.parametrize("text", ["", "{}", '{"Mode": "Parallel", "Containers": []}', "[1]"])
def test_a_bad_pipeline_description_is_a_settings_error(text: str) -> None:
    with pytest.raises(SettingsError, match="SMLOCAL_PIPELINE"):
        PipelineSpec.from_json(text)


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "rebound.example.com:8080"},  # a DNS-rebinding page
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_the_served_front_refuses_web_pages_as_a_model_server_does(
    headers: dict[str, str],
) -> None:
    with running(container("a"), container("b")) as ports:
        spec = PipelineSpec("Serial", (Container("a", ports[0]), Container("b", ports[1])))
        client = Client(PipelineServer(ServerSettings(), spec).load())
        refused = client.post("/invocations", data="1", headers=headers)
        assert refused.status_code == 403
        assert "a(" not in refused.get_data(as_text=True)
        allowed = client.post("/invocations", data="1", headers={"Host": "127.0.0.1:8080"})
        assert allowed.get_data(as_text=True) == "b(a(1|None|None)|text/x-a|None)"


def test_a_container_answering_without_end_is_a_502_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "ANSWER_MAX", 1 << 20)

    def endless(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])  # chunked, no length
        for _ in range(64):  # 4 MiB: "without end" for a 1 MiB limit
            yield b"x" * 65536

    with running(endless, container("b")) as ports:  # type: ignore[arg-type]
        response = front("Serial", ports).post("/invocations", data="x")
    assert response.status_code == 502
    assert response.headers["X-Smlocal-Container"] == "a"
    assert "more than 1048576 bytes" in response.get_data(as_text=True)


def raw_container(answers: list[bytes], seen: list[bytes]) -> Iterator[int]:
    """A container answering `answers` in turn, raw, on whichever connection asks (then
    `ok` to any more); `seen` gets the bodies it received."""
    sock = socket.create_server(("127.0.0.1", 0))
    pending = iter(answers)

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as stream:
            while stream.readline():  # a request line; none: the front closed
                length = 0
                while (line := stream.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                seen.append(stream.read(length))
                conn.sendall(next(pending, OK))

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=serve, args=(sock.accept()[0],), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    "bad", [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 200 + b"\r\n"]
)
def test_a_malformed_answer_on_a_kept_connection_is_not_run_again(bad: bytes) -> None:
    seen: list[bytes] = []
    ports = raw_container([OK, bad], seen)
    client = front("Direct", [next(ports)], ("a",))
    target = {"X-Amzn-SageMaker-Target-Container-Hostname": "a"}
    assert client.post("/invocations", data="1", headers=target).status_code == 200
    response = client.post("/invocations", data="2", headers=target)
    assert response.status_code == 502
    assert response.headers["X-Smlocal-Container"] == "a"
    assert seen == [b"1", b"2"]  # once, not again on a new connection
    next(ports, None)
