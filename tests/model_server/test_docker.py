"""The model server image: its Dockerfile's contract, and (with an engine) a real container."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support import ROOT, engine_answers, free_port

DOCKERFILE = ROOT / "model_server" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    lines = []
    for raw in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            lines.append((keyword.upper(), rest.strip()))
    return lines


def test_the_dockerfile_follows_sagemakers_contract() -> None:
    found = instructions()
    assert ("ENTRYPOINT", '["smlocal"]') in found
    assert ("CMD", '["serve"]') in found  # `docker run IMAGE serve` works, so does plain run
    assert ("EXPOSE", "8080") in found
    env = " ".join(rest for keyword, rest in found if keyword == "ENV")
    assert "SMLOCAL_BIND_HOST=0.0.0.0" in env  # inside a container, not loopback
    for keyword, rest in found:
        if keyword == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY source {source} is missing"


@pytest.mark.docker
def test_the_image_serves_a_mounted_model(iris_softmax: Path) -> None:
    reason = engine_answers()
    if reason:
        pytest.skip(reason)
    tag = "smlocal-model-server:test"
    subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)], check=True, timeout=1200
    )
    port = free_port()
    container = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "-p",
            f"127.0.0.1:{port}:8080",
            "-v",
            f"{iris_softmax}:/opt/ml/model:ro",
            tag,
            "serve",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        response = requests.post(
            f"http://127.0.0.1:{port}/invocations",
            data="7.7,3.0,6.1,2.3",
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        assert response.text == "2.0\n"
    finally:
        subprocess.run(["docker", "stop", container], check=False, capture_output=True, timeout=60)
