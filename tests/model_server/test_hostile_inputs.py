"""Hostile requests and model files: the server answers the container's status and stays up.

Each case was found by an adversarial test; before the fixes some killed the worker
(SIGSEGV), ran for minutes, answered 200 with a cut body, or stopped gunicorn from booting.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from smlocal.model_server import xgboost_io
from smlocal.model_server.recordio_protobuf import _encode_varint, _length_delimited, frame
from smlocal.model_server.xgboost_wire import ContainerError
from tests.model_server.conftest import running
from tests.support import ServerProcess

RECORDIO = "application/x-recordio-protobuf"
RECORDIO_FAILED = (
    "Loading recordio-protobuf data failed with Exception, please ensure data is in "
    "recordio-protobuf format: <class 'ValueError'> "
)
LIBSVM_FAILED = (
    "Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n "
    "<class 'ValueError'>\n "
)


@pytest.fixture(scope="module")
def server(iris_softmax: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from running(iris_softmax, tmp_path_factory.mktemp("hostile-log"))


def post(
    server: ServerProcess, body: object, content_type: str, **kwargs: object
) -> requests.Response:
    return requests.post(
        server.url + "/invocations",
        data=body,
        headers={"Content-Type": content_type},
        timeout=kwargs.pop("timeout", 30),  # type: ignore[arg-type]
    )


def assert_still_serving(server: ServerProcess) -> None:
    assert server.alive
    assert server.log().count("Booting worker") == 1  # the one worker never died
    assert post(server, "6.2,2.9,4.3,1.3", "text/csv").text == "1.0\n"


def sparse_record(key: int, shape: int) -> bytes:
    tensor = (
        _length_delimited(1, struct.pack("<f", 1.0))
        + _length_delimited(2, _encode_varint(key))
        + _length_delimited(3, _encode_varint(shape))
    )
    value = _length_delimited(2, tensor)
    return frame(
        _length_delimited(1, _length_delimited(1, b"values") + _length_delimited(2, value))
    )


def test_a_sparse_key_of_2_64_minus_1_gets_415_not_a_segfault(server: ServerProcess) -> None:
    response = post(server, sparse_record(2**64 - 1, 68), RECORDIO)
    assert (response.status_code, response.text) == (
        415,
        RECORDIO_FAILED + "record 1 has a sparse key 18446744073709551615 outside its shape of 68",
    )
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (frame(b"\x08\x05"), "field 1 of a Record has wire type 0, not 2"),
        (
            frame(
                _length_delimited(
                    1,
                    _length_delimited(1, b"values")
                    + _length_delimited(2, _length_delimited(3, _length_delimited(1, b"\0" * 7))),
                )
            ),
            "the tensor holds 7 bytes of float64 values",
        ),
    ],
)
def test_malformed_recordio_gets_the_containers_415(
    server: ServerProcess, body: bytes, message: str
) -> None:
    response = post(server, body, RECORDIO)
    assert (response.status_code, response.text) == (415, RECORDIO_FAILED + message)
    assert_still_serving(server)


def test_a_long_varint_is_refused_at_once(server: ServerProcess) -> None:
    """Once quadratic: 300 KB took 12 s and 6 MB about 20 minutes."""
    body = frame(b"\x0a" + b"\xff" * 2_000_000 + b"\x01")
    response = post(server, body, RECORDIO, timeout=20)
    assert (response.status_code, response.text) == (
        415,
        RECORDIO_FAILED + "protobuf varint longer than 10 bytes",
    )


def test_a_chunked_body_above_6_mb_gets_413_like_a_sized_one(server: ServerProcess) -> None:
    """Werkzeug stops reading a chunked body at the limit without a word; it was cut and
    answered 200 with the predictions of the rows that fit."""
    row = b"5.1,3.5,1.4,0.2\n"
    chunks = iter([row * 10_000] * 45)  # 7.2 MB, sent chunked: a generator has no length
    response = post(server, chunks, "text/csv")
    assert (response.status_code, response.text) == (
        413,
        "request body is above the 6291456 byte (6 MB) limit",
    )
    small = post(server, iter([row * 2, row]), "text/csv")
    assert (small.status_code, small.text) == (200, "0.0\n0.0\n0.0\n")
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0 \u00b2:1", "libsvm row 1: '\u00b2:1' is not index:value"),
        ("0 \u0661:1", "libsvm row 1: '\u0661:1' is not index:value"),
        (f"0 {2**63}:1", f"libsvm row 1: '{2**63}:1' is not index:value"),
        ("0 " + "9" * 5000 + ":1", "libsvm row 1: '" + "9" * 40 + "...' is not index:value"),
    ],
)
def test_libsvm_indices_that_are_not_ascii_int64_get_415(
    server: ServerProcess, body: str, message: str
) -> None:
    response = post(server, body.encode(), "text/libsvm")
    assert (response.status_code, response.text) == (415, LIBSVM_FAILED + message)
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("pickled", "reason"),
    [
        (b"\x80\x09.", "not a readable pickle (unsupported pickle protocol: 9)"),
        (b"\x80\x04cbuiltins\nbytearray\nJ\x00\x00\x00\x01\x85R.", "bytearray"),
    ],
)
def test_a_broken_pickle_answers_ping_500_with_the_reason(
    tmp_path: Path, pickled: bytes, reason: str
) -> None:
    """Once raw exceptions escaped the loader and gunicorn shut down ("Worker failed to boot")."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "xgboost-model").write_bytes(pickled)
    for served in running(model, tmp_path, ready_status=500):
        ping = requests.get(served.url + "/ping", timeout=5)
        assert ping.status_code == 500
        assert ping.text.startswith("model failed to load: cannot load xgboost-model: ")
        assert reason in ping.text
        assert served.alive


def test_an_exception_a_decoder_failed_to_check_is_still_the_containers_415(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """parse_content_data turns every exception into 415; a slip must not become a 500."""

    def slip(body: bytes) -> None:
        raise TypeError("object of type 'int' has no len()")

    monkeypatch.setattr(xgboost_io, "feature_rows", slip)
    with pytest.raises(ContainerError) as caught:
        xgboost_io.read_request(b"x", RECORDIO, lenient=False)
    assert (caught.value.status, caught.value.message) == (
        415,
        "Loading recordio-protobuf data failed with Exception, please ensure data is in "
        "recordio-protobuf format: <class 'TypeError'> object of type 'int' has no len()",
    )
