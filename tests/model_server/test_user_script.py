"""A user's inference.py (SAGEMAKER_PROGRAM) replaces the container's default handlers."""

from __future__ import annotations

import os
import shutil
import signal
import tarfile
import time
from pathlib import Path

import pytest
import requests

from tests.model_server.conftest import running
from tests.support import ServerProcess, model_server

ROWS = '{"rows": [[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]]}'


def script_failures(server: ServerProcess) -> tuple[requests.Response, requests.Response]:
    """What the script's input_fn and predict_fn raising look like to a client."""
    refused = requests.post(
        server.url + "/invocations",
        data="1,2,3,4",
        headers={"Content-Type": "text/csv"},
        timeout=10,
    )
    empty = requests.post(
        server.url + "/invocations",
        data='{"rows": [[]]}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    return refused, empty


def test_handlers_from_code_next_to_the_model(user_script: Path, tmp_path: Path) -> None:
    for server in running(user_script, tmp_path, env={"SAGEMAKER_PROGRAM": "inference.py"}):
        response = requests.post(
            server.url + "/invocations",
            data=ROWS,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json() == {"species": ["setosa", "virginica"]}
        # the script's own errors are the container's HTML 500 page; the reason is in the log
        for failed in script_failures(server):
            assert failed.status_code == 500
            assert failed.text.startswith("<!DOCTYPE HTML PUBLIC")
            assert "<title>500 Internal Server Error</title>" in failed.text
        log = server.log_path.read_text()
        assert "ValueError: this model only reads JSON, not text/csv" in log
        assert "RuntimeError: no features at all" in log


def test_lenient_servers_return_the_scripts_own_message(user_script: Path, tmp_path: Path) -> None:
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SMLOCAL_LENIENT_CONTAINERS": "1"}
    for server in running(user_script, tmp_path, env=env):
        refused, empty = script_failures(server)
        assert (refused.status_code, refused.text) == (
            500,
            "ValueError: this model only reads JSON, not text/csv",
        )
        assert (empty.status_code, empty.text) == (500, "RuntimeError: no features at all")


def test_submit_directory_as_a_tar_gz(user_script: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(user_script / "model.joblib", model)
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("inference.py", "helper.py"):
            tar.add(user_script / "code" / name, arcname=name)
    env = {"SAGEMAKER_PROGRAM": "inference", "SAGEMAKER_SUBMIT_DIRECTORY": str(archive)}
    for server in running(model, tmp_path, env=env):
        response = requests.post(
            server.url + "/invocations",
            data=ROWS,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.json() == {"species": ["setosa", "virginica"]}


def test_transform_fn_alone_and_default_model_loading(
    sklearn_classifier: Path, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "serve.py").write_text(
        "import json\n"
        "def transform_fn(model, body, content_type, accept):\n"
        "    rows = json.loads(body)\n"
        "    return json.dumps({'labels': model.predict(rows).tolist(), 'accept': accept})\n"
    )
    # No model_fn: the real scikit-learn container fails (test_sklearn_model_fn); lenient
    # containers load model.joblib themselves.
    env = {
        "SAGEMAKER_PROGRAM": "serve.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(code),
        "SMLOCAL_LENIENT_CONTAINERS": "1",
    }
    for server in running(sklearn_classifier, tmp_path, env=env):
        response = requests.post(
            server.url + "/invocations",
            data="[[6.2, 2.9, 4.3, 1.3]]",
            headers={"Content-Type": "application/json", "Accept": "*/*"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json() == {"labels": [1], "accept": "application/json"}


def test_a_broken_script_keeps_ping_unhealthy_with_the_reason(
    sklearn_classifier: Path, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text("import json\n\nraise ImportError('numpyy is missing')\n")
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(code)}
    for server in running(sklearn_classifier, tmp_path, env=env, ready_status=500):
        ping = requests.get(server.url + "/ping", timeout=5)
        assert ping.text == (
            "model failed to load: importing inference.py failed: "
            "ImportError: numpyy is missing (line 3 of inference.py)"
        )
        invoked = requests.post(server.url + "/invocations", data="[1]", timeout=5)
        assert invoked.status_code == 503
        assert invoked.text.startswith("importing inference.py failed")


def test_transform_fn_with_input_fn_is_refused(sklearn_classifier: Path, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(
        "def input_fn(b, c):\n    return b\n\ndef transform_fn(m, b, c, a):\n    return b\n"
    )
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(code)}
    for server in running(sklearn_classifier, tmp_path, env=env, ready_status=500):
        assert requests.get(server.url + "/ping", timeout=5).text == (
            "model failed to load: inference.py defines transform_fn and input_fn; define either "
            "transform_fn or input_fn/predict_fn/output_fn, as SageMaker's containers require"
        )


@pytest.mark.parametrize(
    ("source", "logged"),
    [
        (  # a training script as the entry point: argparse refuses the server's arguments
            "import argparse\n\nparser = argparse.ArgumentParser()\nparser.parse_args()\n",
            "SystemExit: 2",
        ),
        ("import os\n\nos._exit(7)\n", "Worker (pid:"),  # no exception: the process just ends
        ("import os, signal\n\nos.kill(os.getpid(), signal.SIGSEGV)\n", "was sent SIGSEGV"),
    ],
    ids=["argparse", "os-exit", "segfault"],
)
def test_a_worker_that_ends_while_loading_stops_the_server(
    sklearn_classifier: Path, tmp_path: Path, source: str, logged: str
) -> None:
    """gunicorn would replace such a worker for ever; the server stops as gunicorn does for
    a worker that raised while booting, with the reason in its log."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(source)
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(code)}
    with model_server(sklearn_classifier, tmp_path / "server.log", env=env, workers=2) as server:
        assert server.proc is not None
        assert server.proc.wait(60) == 1
        log = server.log()
    assert logged in log
    assert "Reason: Worker failed to boot." in log
    assert log.endswith(
        "smlocal serve: a worker ended before it could serve, so the server stopped; the log "
        "above says why\n"
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_server_stopped_while_its_model_loads_is_not_a_boot_failure(
    sklearn_classifier: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    """Stopping (the emulator's SIGTERM, a terminal's Ctrl-C to the whole group) while the
    script still imports ends the workers before they served: that is not a failure."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(
        "import pathlib, time\n\n"
        f"pathlib.Path({str(tmp_path / 'loading')!r}).touch()\ntime.sleep(5)\n"
        "def model_fn(model_dir):\n    return None\n"
    )
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(code)}
    with model_server(sklearn_classifier, tmp_path / "server.log", env=env) as server:
        deadline = time.monotonic() + 60
        while not (tmp_path / "loading").exists():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        os.killpg(server.pid, stop)
        assert server.proc is not None
        assert server.proc.wait(60) == 0, server.log()
    assert "Worker failed to boot." not in server.log()
    assert "Traceback" not in server.log()
