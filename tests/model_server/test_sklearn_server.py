"""The scikit-learn model server answers like SageMaker's scikit-learn container."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.model_server.conftest import running
from tests.support import ServerProcess


@pytest.fixture(scope="module")
def server(
    sklearn_classifier: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from running(sklearn_classifier, tmp_path_factory.mktemp("sklearn-log"))


def post(server: ServerProcess, body: bytes | str, headers: dict[str, str]) -> requests.Response:
    return requests.post(server.url + "/invocations", data=body, headers=headers, timeout=30)


def test_json_in_json_out_by_default(server: ServerProcess) -> None:
    response = post(
        server,
        json.dumps([[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]]),
        {"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == [0, 2]


def test_a_body_without_content_type_is_read_as_json(server: ServerProcess) -> None:
    response = requests.post(server.url + "/invocations", data=b"[5.1, 3.5, 1.4, 0.2]", timeout=10)
    assert response.status_code == 200
    assert response.json() == [0]


def test_a_single_csv_row_predicts(server: ServerProcess) -> None:
    response = post(server, "6.2,2.9,4.3,1.3", {"Content-Type": "text/csv", "Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.text == "1\n"


def test_npy_in_and_out(server: ServerProcess) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]]))
    response = post(
        server,
        buffer.getvalue(),
        {"Content-Type": "application/x-npy", "Accept": "application/x-npy"},
    )
    assert response.status_code == 200
    assert np.load(io.BytesIO(response.content)).tolist() == [0, 2]


def test_the_models_own_error_comes_back_as_500(server: ServerProcess) -> None:
    response = post(server, "5.1,3.5,1.4", {"Content-Type": "text/csv"})
    assert response.status_code == 500
    assert response.text == (
        "ValueError: X has 3 features, but LogisticRegression is expecting 4 features as input."
    )
    assert post(server, "5.1,3.5,1.4,0.2", {"Content-Type": "text/csv"}).json() == [0]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (
            "5.1,3.5,1.4,0.2",
            {"Content-Type": "text/libsvm"},
            415,
            "Content-Type 'text/libsvm' is not supported by the scikit-learn model server; "
            "send text/csv, application/json or application/x-npy",
        ),
        (
            "5.1,3.5,1.4,0.2",
            {"Content-Type": "text/csv", "Accept": "text/html"},
            406,
            "Accept 'text/html' names no type this model can answer with; "
            "supported: application/json, text/csv, application/x-npy",
        ),
        (
            b"not an npy file",
            {"Content-Type": "application/x-npy"},
            400,
            "body is not a NumPy .npy array: Failed to interpret file "
            "<_io.BytesIO object> as a pickle",
        ),
        (
            '{"rows": [1, 2]}',
            {"Content-Type": "application/json"},
            400,
            'JSON object needs an "instances" or a "features" member',
        ),
    ],
)
def test_bad_input_gets_a_clear_message(
    server: ServerProcess, body: str | bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = post(server, body, headers)
    assert response.status_code == status
    if status == 400 and "npy" in message:
        assert response.text.startswith("body is not a NumPy .npy array: ")
    else:
        assert response.text == message
