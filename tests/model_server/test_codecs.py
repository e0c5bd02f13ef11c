"""Decoders, encoders and Accept negotiation, without a server."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smlocal.model_server.codecs import decode_csv, decode_libsvm, encode_csv, negotiate
from smlocal.model_server.errors import PayloadError, UnsupportedAccept


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "text/csv"),
        ("*/*", "text/csv"),
        ("application/json", "application/json"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("image/png, application/*", "application/json"),
    ],
)
def test_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header, ("text/csv", "application/json"), "text/csv") == expected


def test_negotiation_refuses_what_nobody_writes() -> None:
    with pytest.raises(UnsupportedAccept):
        negotiate("image/png", ("text/csv",), "text/csv")


def test_csv_trailing_newline_crlf_and_missing_values() -> None:
    rows = decode_csv(b"1,,3\r\n4,5,6\n")
    assert rows.shape == (2, 3)
    assert math.isnan(rows[0, 1])


def test_csv_empty_body_is_an_error() -> None:
    with pytest.raises(PayloadError, match=r"^CSV body has no rows$"):
        decode_csv(b"\n\n")


def test_libsvm_builds_a_sparse_matrix() -> None:
    matrix = decode_libsvm(b"1 0:1.5 3:2\n0 2:7\n")
    assert matrix.toarray().tolist() == [[1.5, 0, 0, 2], [0, 0, 7, 0]]


def test_csv_encoding_of_vectors_and_matrices() -> None:
    assert encode_csv(np.array([0.5, 2.0], dtype=np.float32)) == b"0.5\n2.0\n"
    assert encode_csv(np.array([[0.25, 0.75]])) == b"0.25,0.75\n"
    assert encode_csv(np.array([1, 2])) == b"1\n2\n"
