"""Faults: S3 outages, killed and stopped workers, a full disk, bad configuration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.capture_sink.conftest import CREDENTIALS
from tests.capture_sink.helpers import (
    IRIS_ROW,
    capture_config,
    capture_env,
    flush,
    invoke_many,
    objects,
    records,
    request,
    start_server,
    stats,
)
from tests.capture_sink.proxy import OutageProxy
from tests.support import SMLOCAL, ServerProcess

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def proxy(s3_server):
    p = OutageProxy(s3_server.port)
    yield p
    p.close()


def invoke_ids(server: ServerProcess, prefix: str, count: int) -> list[str]:
    """Invocations tagged prefix-0..n; the ids whose response came back 200."""
    import http.client

    ok = []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for n in range(count):
        inference_id = f"{prefix}-{n}"
        try:
            conn.request("POST", "/invocations", IRIS_ROW,
                         {**CSV, "X-Amzn-SageMaker-Inference-Id": inference_id})  # fmt: skip
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            continue
        if response.status == 200:
            ok.append(inference_id)
    conn.close()
    return ok


def captured_ids(s3, bucket) -> Counter[str]:
    return Counter(r["eventMetadata"].get("inferenceId") for r in records(s3, bucket))


def test_records_survive_an_s3_outage_exactly_once(proxy, s3, bucket, iris_model, tmp_path):
    env = capture_env(capture_config(bucket), proxy.url, tmp_path / "spool",
                      SMLOCAL_CAPTURE_ROLL_SECONDS="0.3")  # fmt: skip
    server = start_server(iris_model, tmp_path, env, workers=2)
    try:
        sent = invoke_ids(server, "before", 100)
        proxy.down()
        sent += invoke_ids(server, "during", 200)
        time.sleep(1.0)  # rolls and failed upload attempts happen meanwhile
        status, _, body = request(server, "POST", "/_smlocal/capture/flush?timeout=1")
        assert status == 504
        assert "capture flush timed out after 1 s" in json.loads(body)["error"]
        during = stats(server)
        assert during["retried"] > 0
        assert during["pending_files"] > 0
        assert during["upload_errors"]  # the reason is visible, per worker
        proxy.up()
        sent += invoke_ids(server, "after", 100)
        result = flush(server)
    finally:
        server.stop()
    assert len(sent) == 400
    ids = captured_ids(s3, bucket)
    assert set(ids) == set(sent)
    assert max(ids.values()) == 1  # exactly once
    assert result["stats"]["uploaded"] == result["stats"]["spooled"] == 400
    assert result["stats"]["pending_files"] == 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_killed_worker_loses_no_answered_record(s3_server, s3, bucket, iris_model, tmp_path):
    env = capture_env(capture_config(bucket), s3_server.url, tmp_path / "spool")
    server = start_server(iris_model, tmp_path, env, workers=2)
    sent: list[str] = []
    try:
        traffic = [
            threading.Thread(target=lambda p=p: sent.extend(invoke_ids(server, p, 300)))
            for p in ("a", "b", "c")
        ]
        for t in traffic:
            t.start()
        deadline = time.monotonic() + 60
        while len(sent) == 0 and stats(server)["spooled"] < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = children(server.pid)[0]
        os.kill(victim, signal.SIGKILL)
        for t in traffic:
            t.join()
        server.wait_ready()
        result = flush(server)
    finally:
        server.stop()
    ids = captured_ids(s3, bucket)
    assert len(sent) > 100
    assert set(sent) <= set(ids)  # every answered invocation has its record
    assert max(ids.values()) == 1
    assert result["stats"]["pending_files"] == 0
    assert f"pid: {victim}" in server.log() or str(victim) in server.log()


def test_sigterm_flushes_what_is_buffered(s3_server, s3, bucket, iris_model, tmp_path):
    env = capture_env(capture_config(bucket), s3_server.url, tmp_path / "spool",
                      SMLOCAL_CAPTURE_ROLL_SECONDS="3600")  # fmt: skip
    server = start_server(iris_model, tmp_path, env, workers=2)
    try:
        assert invoke_many(server, 50) == [200] * 50
        assert objects(s3, bucket) == {}  # nothing rolled yet
    finally:
        assert server.stop() == 0
    assert len(records(s3, bucket)) == 50
    assert not any((tmp_path / "spool" / "spool").glob("*/*.jsonl"))


def test_a_restart_uploads_what_the_last_run_left(proxy, s3, bucket, iris_model, tmp_path):
    env = capture_env(capture_config(bucket), proxy.url, tmp_path / "spool")
    proxy.down()
    first = start_server(iris_model, tmp_path, env)
    try:
        assert invoke_many(first, 20) == [200] * 20
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no goodbye: the spool is all that is left
        first.stop()
    proxy.up()
    second = start_server(iris_model, tmp_path, env)
    try:
        flush(second)
    finally:
        second.stop()
    assert len(records(s3, bucket)) == 20


def test_a_full_disk_stops_capture_not_inference(s3_server, s3, bucket, iris_model, tmp_path):
    env = capture_env(capture_config(bucket), s3_server.url, tmp_path / "spool",
                      SMLOCAL_CAPTURE_DISK_THRESHOLD="0")  # fmt: skip
    server = start_server(iris_model, tmp_path, env)
    try:
        assert invoke_many(server, 30) == [200] * 30
        counts = flush(server)["stats"]
    finally:
        server.stop()
    assert (counts["sampled"], counts["spooled"], counts["dropped"]) == (30, 0, 30)
    assert objects(s3, bucket) == {}
    assert "capture is dropping records: the spool's disk is above" in server.log()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SMLOCAL_CAPTURE_CONFIG": json.dumps(capture_config("b", percentage=150))},
            "smlocal serve: SMLOCAL_CAPTURE_CONFIG: 1 validation error detected: Value '150' at "
            "'dataCaptureConfig.initialSamplingPercentage' failed to satisfy constraint: "
            "Member must have value less than or equal to 100",
        ),
        (
            {"SMLOCAL_CAPTURE_CONFIG": json.dumps(capture_config("b")),
             "SMLOCAL_ENDPOINT_NAME": ""},
            "smlocal serve: SMLOCAL_ENDPOINT_NAME is not set",
        ),
        (
            {"SMLOCAL_CAPTURE_CONFIG": json.dumps(capture_config("b")),
             "SMLOCAL_ENDPOINT_NAME": "e", "SMLOCAL_CAPTURE_FAILED": "maybe"},
            "smlocal serve: SMLOCAL_CAPTURE_FAILED='maybe' is not a boolean",
        ),
        (
            {"SMLOCAL_CAPTURE_CONFIG": json.dumps(capture_config("b")),
             "SMLOCAL_CAPTURE_SPOOL_DIR": "/proc/smlocal-spool"},
            "smlocal serve: SMLOCAL_CAPTURE_SPOOL_DIR: cannot use /proc/smlocal-spool as the "
            "capture spool",
        ),
    ],
)  # fmt: skip
def test_bad_capture_settings_stop_serve_with_a_clear_error(env, message, tmp_path):
    done = subprocess.run(
        [*SMLOCAL, "serve", "--model-dir", str(tmp_path), "--port", "0"],
        env={**os.environ, **CREDENTIALS, "SMLOCAL_ENDPOINT_NAME": "Ep", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
