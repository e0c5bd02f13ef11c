"""The scikit-learn container has no default model_fn: without one every request is a 500.

aws/sagemaker-scikit-learn-container serving.py (v0.20.0 to v1.4-2-py312) builds its app on the
first request by importing SAGEMAKER_PROGRAM and calling model_fn; sagemaker-containers
2.8.6.post2 transformer.default_model_fn raises NotImplementedError. gunicorn answers the
exception with its own text/html 500 page and logs "Error handling request /ping".
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.model_server.conftest import running
from tests.support import SKLEARN_SCRIPT_ENV, ServerProcess, add_sklearn_script

GUNICORN_500 = "<h1><p>Internal Server Error</p></h1>"
ROW = "5.1,3.5,1.4,0.2"


def model_only(sklearn_classifier: Path, folder: Path) -> Path:
    shutil.copy(sklearn_classifier / "model.joblib", folder / "model.joblib")
    return folder


@pytest.fixture
def bare(sklearn_classifier: Path, tmp_path: Path) -> Path:
    return model_only(sklearn_classifier, tmp_path / "model")


@pytest.fixture(autouse=True)
def _folder(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()


def start(
    model_dir: Path, log_dir: Path, env: dict[str, str], ready: int
) -> Iterator[ServerProcess]:
    return running(model_dir, log_dir, env=env, ready_status=ready)


def test_no_program_fails_every_request_like_the_container(bare: Path, tmp_path: Path) -> None:
    for server in start(bare, tmp_path, {}, 500):
        ping = requests.get(server.url + "/ping", timeout=10)
        assert ping.status_code == 500
        assert ping.headers["Content-Type"] == "text/html"
        assert GUNICORN_500 in ping.text
        call = requests.post(
            server.url + "/invocations", data=ROW, headers={"Content-Type": "text/csv"}, timeout=10
        )
        assert call.status_code == 500
        assert GUNICORN_500 in call.text
        log = server.log_path.read_text(errors="replace")
        assert "Encountered an unexpected error." in log
        assert re.search(r"\[ERROR\] Error handling request (GET )?/ping", log)
        assert "AttributeError: 'NoneType' object has no attribute 'startswith'" in log


def test_script_without_model_fn_raises_not_implemented(bare: Path, tmp_path: Path) -> None:
    add_sklearn_script(bare, "def predict_fn(data, model):\n    return model.predict(data)\n")
    for server in start(bare, tmp_path, SKLEARN_SCRIPT_ENV, 500):
        ping = requests.get(server.url + "/ping", timeout=10)
        assert ping.status_code == 500
        assert GUNICORN_500 in ping.text
        log = server.log_path.read_text(errors="replace")
        assert re.search(r"\[ERROR\] Error handling request (GET )?/ping", log)
        assert "NotImplementedError: \nPlease provide a model_fn implementation." in log
        assert "Encountered an unexpected error." not in log


def test_lenient_loads_model_joblib_itself(bare: Path, tmp_path: Path) -> None:
    for server in start(bare, tmp_path, {"SMLOCAL_LENIENT_CONTAINERS": "1"}, 200):
        call = requests.post(
            server.url + "/invocations", data=ROW, headers={"Content-Type": "text/csv"}, timeout=10
        )
        assert call.status_code == 200, call.text
        assert call.json() == [0]


def test_script_with_model_fn_serves(sklearn_classifier: Path, tmp_path: Path) -> None:
    for server in start(sklearn_classifier, tmp_path, SKLEARN_SCRIPT_ENV, 200):
        call = requests.post(
            server.url + "/invocations",
            data="[[5.1, 3.5, 1.4, 0.2]]",
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert call.status_code == 200, call.text
        assert call.json() == [0]
