"""The model server refuses foreign host names and web pages, as the emulator's edge does:
a DNS-rebinding page must not invoke, list or unload a multi-model server's models."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from smlocal.model_server.local_only import host_allowed
from tests.support import model_server


def ask(port: int, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=b"1,2,3,4" if method == "POST" else None,
                           headers={"Content-Type": "text/csv", **headers})  # fmt: skip
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_foreign_hosts_and_web_pages_are_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (tmp_path / "model").mkdir()
    env = {
        "SAGEMAKER_MULTI_MODEL": "true",
        "SMLOCAL_MODEL_PREFIX": str(prefix),
        "SMLOCAL_ALLOWED_HOSTS": "Trusted.Example",
        "SMLOCAL_ALLOWED_ORIGINS": "http://trusted.example",
    }
    with model_server(tmp_path / "model", tmp_path / "server.log", env=env) as server:
        server.wait_ready()
        port = int(server.url.rsplit(":", 1)[1])
        target = {"X-Amzn-SageMaker-Target-Model": "m.tar.gz"}
        for method, path, extra in [
            ("GET", "/models", {}),
            ("DELETE", "/models/m.tar.gz", {}),
            ("POST", "/invocations", target),
        ]:
            status, body = ask(port, method, path, {"Host": "evil.example:80", **extra})
            assert (status, b"host name 'evil.example:80'" in body) == (403, True)
            status, _ = ask(port, method, path, {"Origin": "http://evil.example", **extra})
            assert status == 403
            status, _ = ask(port, method, path, {"Sec-Fetch-Site": "cross-site", **extra})
            assert status == 403
        assert ask(port, "GET", "/models", {})[0] == 200  # 127.0.0.1:port, no Origin
        assert ask(port, "GET", "/models", {"Host": "trusted.example"})[0] == 200
        assert ask(port, "GET", "/ping", {"Origin": "http://trusted.example"})[0] == 200
        assert ask(port, "POST", "/invocations", {"Host": "localhost", **target})[0] == 400


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("localhost", True),
        ("a.localhost.", True),
        ("host.docker.internal:8080", True),
        ("model", True),  # the emulator's edge
        ("", True),
        ("localhost.evil.example", False),
        ("evil.example", False),
    ],
)
def test_host_rules(host: str, allowed: bool) -> None:
    assert host_allowed(host, frozenset()) is allowed
