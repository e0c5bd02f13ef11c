"""`smlocal serve --also-bind`: one more socket served besides the port (the emulator's edge
reaches its instances over an inherited Unix socket this way), with the same app and guard."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.support import SMLOCAL, ServerProcess, listening_socket


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (the Host header is whatever the request says)."""

    def __init__(self, path: str) -> None:
        super().__init__("model", timeout=60)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.unix_path)


def ask(path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST one iris row to /invocations over the Unix socket."""
    connection = UnixConnection(path)
    try:
        connection.request(
            "POST",
            "/invocations",
            body=b"5.1,3.5,1.4,0.2",
            headers={"Content-Type": "text/csv", **headers},
        )
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_an_inherited_unix_socket_is_served_besides_the_port(
    tmp_path: Path, iris_softmax: Path
) -> None:
    folder = tempfile.mkdtemp(prefix="smlocal-test-")  # short: sun_path holds 108 bytes
    try:
        path = str(Path(folder) / "model.sock")
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(path)
        unix.listen(16)
        tcp = listening_socket()
        args = [
            *SMLOCAL, "serve", "--bind", f"fd://{tcp.fileno()}",
            "--also-bind", f"fd://{unix.fileno()}", "--workers", "1",
            "--model-dir", str(iris_softmax),
        ]  # fmt: skip
        port = tcp.getsockname()[1]
        # the emulator names the socket's folder: the server removes it when it exits
        env = {"SMLOCAL_EDGE_SOCKET_DIR": folder}
        with ServerProcess(
            args, port=port, log_path=tmp_path / "server.log", env=env, sockets=[tcp, unix]
        ) as server:
            server.wait_ready()  # over the port
            assert ask(path, {"Host": "model"}) == (200, b"0.0\n")
            # the Host and Origin guard is the same on every socket
            assert ask(path, {"Host": "evil.example"})[0] == 403
            assert ask(path, {"Origin": "http://evil.example"})[0] == 403
        assert not Path(folder).exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_inherited_sockets_and_addresses_do_not_mix(tmp_path: Path) -> None:
    """gunicorn serves inherited sockets and drops the addresses given with them."""
    shown = subprocess.run(
        [*SMLOCAL, "serve", "--bind", "fd://3", "--also-bind", f"unix:{tmp_path}/m.sock"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 2, shown.stderr
    assert "either only fd://N or only addresses" in shown.stderr
