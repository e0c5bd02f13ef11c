"""What differs between the XGBoost container's image versions, through a gunicorn server each."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import xgboost as xgb

from smlocal.model_server.recordio_protobuf import dense_feature_records, feature_rows, records
from tests.model_server.conftest import iris, running, train
from tests.support import ServerProcess

ROWS = "5.1,3.5,1.4,0.2\n7.7,3.0,6.1,2.3"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:{}"


def serve(model_dir: Path, log_dir: Path, tag: str, **env: str) -> Iterator[ServerProcess]:
    yield from running(model_dir, log_dir, env={"SMLOCAL_IMAGE": IMAGE.format(tag), **env})


def post(server: ServerProcess, body: bytes | str, **headers: str) -> requests.Response:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    return requests.post(server.url + "/invocations", data=body, headers=headers, timeout=10)


def probabilities(model_dir: Path) -> list[float]:
    booster = pickle.loads((model_dir / "xgboost-model").read_bytes())  # the fixture's own pickle
    rows = np.array([[float(v) for v in line.split(",")] for line in ROWS.splitlines()])
    return booster.predict(xgb.DMatrix(rows)).tolist()


@pytest.fixture(scope="module")
def binary_0902(
    binary_logistic: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("0902")
    yield from serve(binary_logistic, log, "0.90-2-cpu-py3", SAGEMAKER_INFERENCE_OUTPUT="x")


@pytest.fixture(scope="module")
def selectable_17(
    binary_logistic: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("17")
    keys = "predicted_label, Probabilities,labels,predicted_score"
    yield from serve(binary_logistic, log, "1.7-1", SAGEMAKER_INFERENCE_OUTPUT=keys)


def test_090_ignores_accept_and_selectable_output(
    binary_0902: ServerProcess, binary_logistic: Path
) -> None:
    """0.90-x serve.py has no Accept handling and no SAGEMAKER_INFERENCE_OUTPUT."""
    low, high = probabilities(binary_logistic)
    for accept in ("application/json", "image/png", "text/csv"):
        response = post(binary_0902, ROWS, Content_Type="text/csv", Accept=accept)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.text == f"{low!r},{high!r}"


def test_selectable_output_in_each_accept(
    selectable_17: ServerProcess, binary_logistic: Path
) -> None:
    """serve_utils.get_selected_predictions: the code's key order, NaN for keys the objective
    lacks, lists quoted in CSV, no trailing newline in CSV, one object per line in jsonlines."""
    low, high = probabilities(binary_logistic)
    rows = [
        {
            "predicted_label": int(p > 0.5),
            "labels": [0, 1],
            "probabilities": [1.0 - p, p],
            "predicted_score": float("nan"),
        }
        for p in (low, high)
    ]
    as_json = post(selectable_17, ROWS, Content_Type="text/csv", Accept="application/json")
    assert as_json.headers["Content-Type"] == "application/json"
    assert as_json.text == json.dumps({"predictions": rows})
    as_lines = post(selectable_17, ROWS, Content_Type="text/csv", Accept="application/jsonlines")
    assert as_lines.text == "".join(json.dumps(r) + "\n" for r in rows)
    as_csv = post(selectable_17, ROWS, Content_Type="text/csv")
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv.text == "\n".join(
        f'{r["predicted_label"]},"{r["probabilities"]}","[0, 1]",nan' for r in rows
    )
    as_recordio = post(
        selectable_17, ROWS, Content_Type="text/csv", Accept="application/x-recordio-protobuf"
    )
    assert as_recordio.headers["Content-Type"] == "application/x-recordio-protobuf"
    framed = list(records(as_recordio.content))
    assert len(framed) == 2
    assert framed[1].startswith(framed[0])  # the buffer is never reset


def test_recordio_protobuf_rows_predict_as_csv_rows(
    selectable_17: ServerProcess, binary_0902: ServerProcess
) -> None:
    features = np.array([[float(v) for v in line.split(",")] for line in ROWS.splitlines()])
    body = dense_feature_records(features)
    assert feature_rows(body).tolist() == features.astype(np.float32).tolist()
    for server in (selectable_17, binary_0902):
        via_recordio = post(server, body, Content_Type="application/x-recordio-protobuf")
        via_csv = post(server, ROWS, Content_Type="text/csv")
        assert via_recordio.status_code == 200, via_recordio.text
        assert via_recordio.content == via_csv.content


def test_no_content_type_is_libsvm(binary_0902: ServerProcess, binary_logistic: Path) -> None:
    low, _ = probabilities(binary_logistic)
    response = requests.post(
        binary_0902.url + "/invocations", data=b"0:5.1 1:3.5 2:1.4 3:0.2", timeout=10
    )
    assert response.text == repr(low)


def test_a_key_the_objective_lacks_is_nan(regression: Path, tmp_path: Path) -> None:
    for server in serve(regression, tmp_path, "1.0-1", SAGEMAKER_INFERENCE_OUTPUT="raw_score"):
        response = post(server, "5.1,3.5,1.4", Content_Type="text/csv")
        assert (response.status_code, response.text) == (200, "nan")


def test_an_objective_selectable_output_does_not_know_answers_500(tmp_path: Path) -> None:
    features, _ = iris()
    folder = tmp_path / "model"
    folder.mkdir()
    train({"objective": "count:poisson"}, features[:, :3], features[:, 3]).save_model(
        str(folder / "model.json")
    )
    for server in serve(folder, tmp_path, "1.7-1", SAGEMAKER_INFERENCE_OUTPUT="predicted_score"):
        response = post(server, "5.1,3.5,1.4", Content_Type="text/csv")
        assert (response.status_code, response.text) == (
            500,
            "Objective `count:poisson` unsupported for selectable inference predictions.",
        )


def test_the_default_accept_is_used_as_set(regression: Path, tmp_path: Path) -> None:
    """_parse_accept returns SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT unchecked: .npy encodes."""
    env = {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/x-npy"}
    for server in serve(regression, tmp_path, "1.5-1", **env):
        response = post(server, "5.1,3.5,1.4", Content_Type="text/csv")
        assert response.headers["Content-Type"] == "application/x-npy"
        assert np.load(io.BytesIO(response.content)).shape == (1,)
        asked = "application/x-npy; q=1"  # sent by the client (not as the default), it is checked
        refused = post(server, "5.1,3.5,1.4", Content_Type="text/csv", Accept=asked)
        assert refused.status_code == 406


@pytest.mark.parametrize("tag", ["0.90-1-cpu-py3", "1.7-1"])
def test_batch_mode_answers_one_line_per_prediction(
    binary_logistic: Path, tmp_path: Path, tag: str
) -> None:
    """SAGEMAKER_BATCH (set by transform jobs): "\\n".join(preds) + "\\n" on every tag, JSON
    Accept included (serve.py parses Accept, then writes the lines anyway)."""
    low, high = probabilities(binary_logistic)
    for server in serve(binary_logistic, tmp_path, tag, SAGEMAKER_BATCH="true"):
        answer = post(server, ROWS, content_type="text/csv", accept="text/csv")
        assert answer.status_code == 200
        assert answer.text == f"{low}\n{high}\n"
        if tag == "1.7-1":
            as_json = post(server, ROWS, content_type="text/csv", accept="application/json")
            assert as_json.text == f"{low}\n{high}\n"
            assert as_json.headers["Content-Type"] == "application/json"


def test_batch_mode_ends_selected_csv_with_a_newline(binary_logistic: Path, tmp_path: Path) -> None:
    for server in serve(
        binary_logistic, tmp_path, "1.7-1", SAGEMAKER_BATCH="1",
        SAGEMAKER_INFERENCE_OUTPUT="predicted_label",
    ):  # fmt: skip
        answer = post(server, ROWS, content_type="text/csv", accept="text/csv")
        assert answer.text.endswith("\n")
        assert len(answer.text.splitlines()) == 2
