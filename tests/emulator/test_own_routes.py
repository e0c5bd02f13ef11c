"""Paths under /_smlocal are smlocal's own: an unknown one is smlocal's 404 (never handed to
the embedded S3 as a bucket named `_smlocal`), and a flush names a valid endpoint."""

from __future__ import annotations

import pytest

from tests.emulator.hosting.test_capture_flush import post

ROUTES = (
    "it serves GET /_smlocal/health, POST /_smlocal/endpoints/{name}/capture/flush and the "
    "console's pages at GET /_smlocal/"
)


@pytest.mark.parametrize(
    "path",
    ["/_smlocal", "/_smlocal/", "/_smlocal/nothing", "/_smlocal/endpoints/a/b/capture/flush",
     "/_smlocal/endpoints/x/capture"],
)  # fmt: skip
def test_an_unknown_own_path_is_smlocals_404(smlocal, path) -> None:
    status, headers, answer = post(f"{smlocal.url}{path}")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert answer["Message"] == f"smlocal has no route POST {path}; {ROUTES}"


@pytest.mark.parametrize("name", ["..", "with%20space", "a_b", "-a", "a--", "%C3%BC"])
def test_a_flush_of_an_invalid_endpoint_name_is_a_validation_error(smlocal, name) -> None:
    status, headers, answer = post(f"{smlocal.url}/_smlocal/endpoints/{name}/capture/flush")
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert answer["Message"].startswith(f"1 validation error detected: Value '{name}' at ")
    assert answer["Message"].endswith(
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )


def test_an_empty_endpoint_name_is_a_validation_error(smlocal) -> None:
    status, _, answer = post(f"{smlocal.url}/_smlocal/endpoints//capture/flush")
    assert status == 400
    assert answer["Message"].startswith("1 validation error detected: Value '' at 'endpointName'")
