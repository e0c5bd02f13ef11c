"""A variant's model server from files to health: fetch its artifacts, wait for /ping, stop it."""

from __future__ import annotations

import http.client
import shutil
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from emulator.artifacts import fetch
from emulator.backends import VariantPlan, VariantServer
from emulator.settings import EmulatorSettings
from model_server.artifacts import is_archive
from model_server.errors import ArtifactError


class DeployError(Exception):
    """A variant could not be brought up; the message becomes the FailureReason."""


def prepare(settings: EmulatorSettings, plan: VariantPlan) -> VariantPlan:
    """Fetch and unpack the model (and an archived SAGEMAKER_SUBMIT_DIRECTORY) for a plan."""
    folder = (
        settings.data_dir.resolve() / "models" / plan.endpoint / plan.variant
        / uuid.uuid4().hex[:8]
    )  # fmt: skip
    environment = dict(plan.environment)
    try:
        model_dir = folder / "model"
        if plan.model_data_url:
            model_dir = fetch(settings, plan.model_data_url, model_dir)
        else:
            model_dir.mkdir(parents=True)
        code = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if code.startswith("s3://") or is_archive(code):
            code_dir = fetch(settings, code, folder / "code")
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = str(code_dir)
    except ArtifactError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise DeployError(
            f"Failed to download model data for production variant {plan.variant}: {exc}"
        ) from None
    return replace(plan, model_dir=model_dir, environment=environment)


def wait_healthy(plan: VariantPlan, server: VariantServer) -> str | None:
    """None once /ping answers 200; else why the variant did not come up."""
    deadline = time.monotonic() + plan.startup_timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not server.alive():
            return (
                f"The model server of production variant {plan.variant} exited during start-up; "
                f"its log is {server.log_path}: {_tail(server.log_path)}"
            )
        status, body = _ping(server.port)
        if status == 200:
            return None
        if status == 500 and body:
            return (
                f"The primary container for production variant {plan.variant} did not pass the "
                f"ping health check: {body}"
            )
        last = f"HTTP {status}" if status else last
        time.sleep(0.1)
    return (
        f"The primary container for production variant {plan.variant} did not pass the ping "
        f"health check within {plan.startup_timeout:.0f} s (last answer: {last}); its log is "
        f"{server.log_path}"
    )


def _ping(port: int) -> tuple[int | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/ping")
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return None, ""
    finally:
        conn.close()


def _tail(path: Any, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def stop_all(servers: Iterable[VariantServer]) -> None:
    servers = list(servers)
    if servers:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(_stop_and_clean, servers))


def _stop_and_clean(server: VariantServer) -> None:
    server.stop()
    if server.folder is not None:
        shutil.rmtree(server.folder, ignore_errors=True)
