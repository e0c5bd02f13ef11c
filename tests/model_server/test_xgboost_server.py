"""The XGBoost model server answers like SageMaker's built-in XGBoost container."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import xgboost as xgb

from smlocal.model_server.xgboost_wire import FLASK_500
from tests.model_server.conftest import iris, running
from tests.support import ServerProcess

IRIS_ROWS = "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3"


@pytest.fixture(scope="module")
def softmax_server(
    iris_softmax: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from running(iris_softmax, tmp_path_factory.mktemp("softmax-log"))


def post(server: ServerProcess, body: bytes | str, **headers: str) -> requests.Response:
    return requests.post(
        server.url + "/invocations",
        data=body,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        timeout=30,
    )


def booster_predictions(model_dir: Path, rows: np.ndarray) -> list[float]:
    booster = xgb.Booster()
    booster.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    return booster.predict(xgb.DMatrix(rows)).tolist()


def test_ping_answers_once_the_model_is_loaded(softmax_server: ServerProcess) -> None:
    response = requests.get(softmax_server.url + "/ping", timeout=5)
    assert response.status_code == 200
    assert response.content == b""


def test_csv_rows_get_one_class_label_per_line(
    softmax_server: ServerProcess, iris_softmax: Path
) -> None:
    response = post(softmax_server, IRIS_ROWS, Content_Type="text/csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = np.array([[float(v) for v in line.split(",")] for line in IRIS_ROWS.splitlines()])
    expected = booster_predictions(iris_softmax, rows)
    assert response.text == "".join(f"{v!r}\n" for v in expected)
    assert response.text == "0.0\n1.0\n2.0\n"


def test_json_accept_gives_scores(softmax_server: ServerProcess) -> None:
    response = post(
        softmax_server, "7.7,3.0,6.1,2.3", Content_Type="text/csv", Accept="application/json"
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"predictions": [{"score": 2.0}]}


JSON_REFUSED = (
    "application/json is not an accepted ContentType: csv, libsvm, parquet, recordio-protobuf, "
    "text/csv, text/libsvm, text/x-libsvm, application/x-parquet, application/x-recordio-protobuf."
)


def test_json_requests_are_refused_as_the_container_refuses_them(
    softmax_server: ServerProcess,
) -> None:
    """aws/sagemaker-xgboost-container data_utils.get_content_type, every tag 0.90-1 to 3.0-5."""
    response = post(softmax_server, "[[5.1, 3.5, 1.4, 0.2]]", Content_Type="application/json")
    assert (response.status_code, response.text) == (415, JSON_REFUSED)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"  # flask.Response's


@pytest.mark.parametrize(
    "body",
    [
        [5.1, 3.5, 1.4, 0.2],
        [[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]],
        {"instances": [[5.1, 3.5, 1.4, 0.2], {"features": [7.7, 3.0, 6.1, 2.3]}]},
        {"features": [5.1, 3.5, 1.4, 0.2]},
    ],
)
def test_lenient_containers_read_json_in_the_common_shapes(
    lenient_server: ServerProcess, body: object
) -> None:
    response = post(lenient_server, json.dumps(body), Content_Type="application/json")
    assert response.status_code == 200
    assert response.text in ("0.0\n", "0.0\n2.0\n")


@pytest.fixture(scope="module")
def lenient_server(
    iris_softmax: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {"SMLOCAL_LENIENT_CONTAINERS": "1"}
    yield from running(iris_softmax, tmp_path_factory.mktemp("lenient-log"), env=env)


def test_libsvm_rows_with_and_without_label(softmax_server: ServerProcess) -> None:
    body = "0 0:5.1 1:3.5 2:1.4 3:0.2\n2:6.1 3:2.3 0:7.7 1:3.0\n"
    response = post(softmax_server, body, Content_Type="text/libsvm")
    assert response.status_code == 200
    assert response.text == "0.0\n2.0\n"


def test_one_column_fewer_is_taken_a_label_column_only_when_lenient(
    softmax_server: ServerProcess, lenient_server: ServerProcess
) -> None:
    """serve_utils.predict accepts x == y or x == y + 1 columns; lenient drops a label column."""
    assert post(softmax_server, "7.7,3.0,6.1", Content_Type="text/csv").status_code == 200
    labelled = post(softmax_server, "2,7.7,3.0,6.1,2.3", Content_Type="text/csv")
    assert labelled.status_code == 400
    assert post(lenient_server, "2,7.7,3.0,6.1,2.3", Content_Type="text/csv").text == "2.0\n"


def test_missing_values_are_allowed(softmax_server: ServerProcess) -> None:
    response = post(softmax_server, "5.1,,1.4,0.2", Content_Type="text/csv")
    assert response.status_code == 200


def test_an_empty_body_gets_204(softmax_server: ServerProcess) -> None:
    response = post(softmax_server, b"", Content_Type="text/csv")
    assert response.status_code == 204
    assert response.content == b""


CSV_FAILED = "Loading csv data failed with Exception, please ensure data is in csv format:\n "
LIBSVM_FAILED = (
    "Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n "
)


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (
            "5.1,3.5",
            {"Content-Type": "application/x-image"},
            415,
            "application/x-image is not an accepted ContentType: csv, libsvm, parquet, "
            "recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, application/x-parquet, "
            "application/x-recordio-protobuf.",
        ),
        (
            "5.1,3.5",
            {"Content-Type": "application/x-parquet"},
            415,
            "Content-type application/x-parquet is not supported.",
        ),
        (
            "5.1,3.5",
            {"Content-Type": "text/csv; label_size=2"},
            415,
            "text/csv; label_size=2 is not an accepted csv ContentType. "
            "Optional parameter label_size must be equal to 1",
        ),
        (
            "5.1,3.5,1.4,0.2",
            {"Content-Type": "text/csv", "Accept": "image/png"},
            406,
            "Accept type image/png is not supported. Please use supported accept types: "
            "['application/json', 'application/jsonlines', 'application/x-recordio-protobuf', "
            "'text/csv'].",
        ),
        (
            "5.1,3.5,1.4,0.2",
            {"Content-Type": "text/csv", "Accept": "text/csv, application/json"},
            406,
            "Accept type text/csv, application/json is not supported. Please use supported "
            "accept types: ['application/json', 'application/jsonlines', "
            "'application/x-recordio-protobuf', 'text/csv'].",
        ),
        (
            "5.1,3.5,1.4,0.2",
            {"Content-Type": "text/csv", "Accept": "application/jsonlines"},
            500,
            FLASK_500,
        ),
        (
            "5.1,3.5,1.4,0.2\n6.2,2.9,x,1.3",
            {"Content-Type": "text/csv"},
            415,
            f"{CSV_FAILED}<class 'ValueError'>\n CSV row 2, column 3: 'x' is not a number",
        ),
        (
            "5.1,3.5,1.4,0.2\n6.2,2.9,1.3",
            {"Content-Type": "text/csv"},
            415,
            f"{CSV_FAILED}<class 'ValueError'>\n CSV row 2 has 3 values but row 1 has 4",
        ),
        (
            "5.1,3.5",
            {"Content-Type": "text/csv"},
            400,
            "Unable to evaluate payload provided: Feature size of csv inference data 2 is not "
            "consistent with feature size of trained model 4.",
        ),
        (
            "0 0:5.1 nine:1",
            {"Content-Type": "text/libsvm"},
            415,
            f"{LIBSVM_FAILED}<class 'ValueError'>\n libsvm row 1: 'nine:1' is not index:value",
        ),
        (
            "0 0:5.1 7:1.0",
            {"Content-Type": "text/libsvm"},
            400,
            "Unable to evaluate payload provided: Feature size of libsvm inference data 8 is "
            "larger than feature size of trained model 4.",
        ),
        (
            b"\xff\xfe5,1",
            {"Content-Type": "text/csv"},
            415,
            f"{CSV_FAILED}<class 'UnicodeDecodeError'>\n CSV body is not UTF-8 text (byte 0)",
        ),
    ],
)
def test_bad_input_gets_a_clear_message(
    softmax_server: ServerProcess,
    body: str | bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    response = requests.post(
        softmax_server.url + "/invocations", data=body, headers=headers, timeout=10
    )
    assert (response.status_code, response.text) == (status, message)


def test_a_body_above_6_mb_gets_413_and_the_worker_lives_on(softmax_server: ServerProcess) -> None:
    pid_before = requests.get(softmax_server.url + "/ping", timeout=5).status_code
    body = ("5.1,3.5,1.4,0.2\n" * 400_000).encode()  # 6.4 MB
    response = post(softmax_server, body, Content_Type="text/csv")
    assert response.status_code == 413
    assert response.text == (
        f"request body of {len(body)} bytes is above the 6291456 byte (6 MB) limit"
    )
    assert pid_before == 200
    assert post(softmax_server, "5.1,3.5,1.4,0.2", Content_Type="text/csv").text == "0.0\n"


def test_bad_requests_never_take_the_worker_down(softmax_server: ServerProcess) -> None:
    for _ in range(20):
        post(softmax_server, "garbage", Content_Type="text/csv")
        post(softmax_server, b"\x00\x01", Content_Type="application/x-recordio-protobuf")
    assert softmax_server.alive
    assert softmax_server.log().count("Booting worker") == 1  # no worker was replaced
    assert post(softmax_server, "6.2,2.9,4.3,1.3", Content_Type="text/csv").text == "1.0\n"


def test_softprob_answers_a_probability_row_per_line(iris_softprob: Path, tmp_path: Path) -> None:
    for server in running(iris_softprob, tmp_path):
        response = post(server, "5.1,3.5,1.4,0.2\n7.7,3.0,6.1,2.3", Content_Type="text/csv")
        lines = response.text.splitlines()
        assert len(lines) == 2
        probabilities = [[float(v) for v in line.split(",")] for line in lines]
        assert all(len(p) == 3 and abs(sum(p) - 1) < 1e-5 for p in probabilities)
        assert probabilities[0].index(max(probabilities[0])) == 0
        as_json = post(
            server, "5.1,3.5,1.4,0.2", Content_Type="text/csv", Accept="application/json"
        ).json()
        assert len(as_json["predictions"][0]["score"]) == 3


def test_binary_logistic_from_a_pickled_booster(binary_logistic: Path, tmp_path: Path) -> None:
    for server in running(binary_logistic, tmp_path):
        response = post(server, "5.1,3.5,1.4,0.2\n7.7,3.0,6.1,2.3", Content_Type="text/csv")
        low, high = (float(v) for v in response.text.split())
        assert 0 < low < 0.5 < high < 1


def test_regression_from_a_ubj_file_answers_values(regression: Path, tmp_path: Path) -> None:
    features, _ = iris()
    booster = xgb.Booster()
    booster.load_model(str(regression / "model.ubj"))
    expected = booster.predict(xgb.DMatrix(features[:2, :3]))
    for server in running(regression, tmp_path):
        body = "\n".join(",".join(str(v) for v in row) for row in features[:2, :3])
        response = post(server, body, Content_Type="text/csv", Accept="application/json")
        assert response.headers["Content-Type"] == "application/json"
        scores = [p["score"] for p in response.json()["predictions"]]
        assert scores == expected.tolist()
