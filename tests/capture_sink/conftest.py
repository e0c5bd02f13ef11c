"""Fixtures: moto's S3 as a real child process, a tiny iris model, capture environments."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ServerProcess, listening_socket

HERE = Path(__file__).resolve().parent
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """moto's server on a pre-bound loopback socket, for the whole session."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = ServerProcess(
        [sys.executable, str(HERE / "s3server.py"), str(sock.fileno())],
        port=port,
        log_path=log,
        sockets=[sock],
    )
    with server:
        server.wait_ready(path="/moto-api/", status=200, timeout=60)
        yield server


def s3_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture
def s3(s3_server: ServerProcess) -> Any:
    """A boto3 client of the moto server."""
    return s3_client(s3_server.url)


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket for one test."""
    name = f"capture-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An iris XGBoost model (2 rounds), trained in a separate process."""
    from smlocal.model_server.example import train_iris_in_subprocess

    return train_iris_in_subprocess(tmp_path_factory.mktemp("iris"), rounds=2)
