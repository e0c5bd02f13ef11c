"""The Unix socket each process-backend instance listens on for the edge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.hosting.backends.process import edge_socket
from smlocal.emulator.hosting.upstream import Unreachable, UpstreamPool, UpstreamResponse


def test_it_listens_in_a_private_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    sock = edge_socket()
    assert sock is not None
    path = sock.getsockname()
    try:
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(path)  # listening already: the server only inherits it
        client.close()
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


def test_too_long_a_path_means_the_port_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert edge_socket() is None
    assert list(deep.iterdir()) == []


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 4\r\n\r\n%s"
REQUEST = b"POST /invocations HTTP/1.1\r\nHost: model\r\nContent-Length: 3\r\n\r\n1,2"


def answering(body: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    """A server's connection handler: one answer of `body`, then close."""

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"1,2")
        writer.write(ANSWER % body)
        await writer.drain()
        writer.close()

    return answer_once


async def invoke(pool: UpstreamPool) -> UpstreamResponse:
    answered: asyncio.Future[UpstreamResponse] = asyncio.get_running_loop().create_future()

    def done(response: UpstreamResponse | None, error: Exception | None) -> None:
        if error is not None:
            answered.set_exception(error)
        else:
            assert response is not None
            answered.set_result(response)

    pool.send(REQUEST, done, 60.0)
    return await asyncio.wait_for(answered, 60)


def test_the_pool_sends_over_the_unix_socket_and_falls_back_to_the_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The edge's pool uses an instance's Unix socket; when the socket's file is gone (a /tmp
    cleaner) it uses the port; a server that is gone is unreachable either way."""
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        tcp = await asyncio.start_server(answering(b"tcp\n"), "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        listener = edge_socket()
        assert listener is not None
        path = listener.getsockname()
        unix = await asyncio.start_unix_server(answering(b"uds\n"), sock=listener)
        try:
            pool = UpstreamPool(loop, port, unix_path=path)
            response = await invoke(pool)
            assert (response.status, response.body) == (200, b"uds\n")
            unix.close()
            await unix.wait_closed()
            os.unlink(path)
            response = await invoke(pool)
            assert (response.status, response.body) == (200, b"tcp\n")
            assert pool.unix_path is None  # the port from now on
            tcp.close()
            await tcp.wait_closed()
            with pytest.raises(Unreachable):
                await invoke(pool)
        finally:
            tcp.close()
            unix.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.rmdir(os.path.dirname(path))

    asyncio.run(scenario())
