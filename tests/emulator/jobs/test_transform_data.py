"""Batch transform's record handling and JSONPath subset, as pure functions."""

from __future__ import annotations

import json

import pytest

from smlocal.emulator.jobs import transform_data as data
from smlocal.emulator.jobs.transform_jsonpath import JsonPathError, apply, parse

RECORD = {"id": 7, "features": [1, 2, 3], "meta": {"a": "x"}}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("$", RECORD, RECORD),
        ("$.features", RECORD, [1, 2, 3]),
        ("$['id','features']", RECORD, {"id": 7, "features": [1, 2, 3]}),
        ("$.meta.a", RECORD, "x"),
        ("$.features[0]", RECORD, 1),
        ("$.features[-1]", RECORD, 3),
        ("$.features[1:]", RECORD, [2, 3]),
        ("$.features[:2]", RECORD, [1, 2]),
        ("$[0,-1]", ["a", "b", "c"], ["a", "c"]),
        ("$[0,2:]", ["a", "b", "c", "d"], ["a", "c", "d"]),
        ("$[*]", ["a", "b"], ["a", "b"]),
        ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ],
)
def test_the_subset_selects_what_sagemaker_documents(
    path: str, value: object, expected: object
) -> None:
    assert apply(parse(path), value) == expected


@pytest.mark.parametrize("path", ["features", "$..id", "$[?(@.id)]", "$.a b", "$[x]"])
def test_paths_outside_the_subset_are_refused(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse(path)


def test_a_missing_member_or_index_is_an_error() -> None:
    with pytest.raises(JsonPathError, match="no nope"):
        apply(parse("$.nope"), RECORD)
    with pytest.raises(JsonPathError, match="out of range"):
        apply(parse("$[5]"), ["a"])


def test_multi_record_packs_up_to_the_limit_and_single_record_one_each() -> None:
    records = [b"x" * 10] * 5
    multi = data.Options(split="Line", multi_record=True, max_payload=32)
    assert data.pack(records, multi) == [[0, 1, 2], [3, 4]]  # 10 + 11 + 11 = 32 bytes
    single = data.Options(split="Line", max_payload=32)
    assert data.pack(records, single) == [[0], [1], [2], [3], [4]]
    with pytest.raises(data.RecordError, match="Too much data for max payload size"):
        data.pack([b"x" * 33], multi)
    assert data.pack([b"x" * 100] * 2, data.Options(multi_record=True, max_payload=0)) == [[0, 1]]


def test_csv_join_filter_and_inference_id_are_appended_last() -> None:
    options = data.Options(
        content_type="text/csv", split="Line", join_input=True, output_filter="$[0,-1]",
        inference=(lambda: "id-1", "2024-01-19T19:25:34Z"), assemble_lines=True,
    )  # fmt: skip
    inputs = [b"a,1,2", b"b,3,4"]
    out = data.assemble(inputs, [[0, 1]], [b"0.5\n0.7\n"], options)
    assert out == b"a,0.5,id-1,2024-01-19T19:25:34Z\nb,0.7,id-1,2024-01-19T19:25:34Z\n"


def test_json_inference_id_comes_first_and_output_under_sagemaker_output() -> None:
    options = data.Options(
        content_type="application/json", accept="application/json",
        inference=(lambda: "id-2", "2024-01-19T19:25:34Z"),
    )  # fmt: skip
    out = data.assemble([b'{"x": 1}'], [[0]], [b'{"predictions": [1]}'], options)
    assert out == (
        b'{"SageMakerInferenceId":"id-2","SageMakerInferenceTime":"2024-01-19T19:25:34Z",'
        b'"predictions":[1]}'
    )
    joined = data.Options(content_type="application/json", join_input=True)
    assert data.assemble([b'{"x": 1}'], [[0]], [b"[0.5]"], joined) == (
        b'{"SageMakerOutput":[0.5],"x":1}'
    )


def test_answers_that_cannot_be_paired_with_their_records_fail() -> None:
    options = data.Options(content_type="text/csv", split="Line", join_input=True)
    with pytest.raises(data.RecordError, match="answered 1 records for a request of 2"):
        data.assemble([b"a", b"b"], [[0, 1]], [b"0.5\n"], options)


def test_json_join_with_an_inference_id_orders_keys_as_the_real_output() -> None:
    """AWS's Clarify batch-transform notebook printed `{"SageMakerInferenceId": ...,
    "SageMakerInferenceTime": ..., "SageMakerOutput": {...}, ...}` for a joined JSON file."""
    options = data.Options(
        content_type="application/json", join_input=True,
        inference=(lambda: "id-3", "2024-01-19T19:25:34Z"),
    )  # fmt: skip
    out = data.assemble([b'{"instances": [[1, 2]]}'], [[0]], [b'{"predictions": [0]}'], options)
    assert list(json.loads(out)) == [
        "SageMakerInferenceId",
        "SageMakerInferenceTime",
        "SageMakerOutput",
        "instances",
    ]


def test_a_record_nested_too_deep_to_parse_is_a_record_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    options = data.Options(split="Line", content_type="application/json", input_filter="$[0]")
    with pytest.raises(data.RecordError, match="a record is not JSON"):
        data.filter_input([deep], options)
