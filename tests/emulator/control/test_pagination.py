"""The List* operations' shared filters (pure)."""

from __future__ import annotations

from smlocal.emulator.control.pagination import filtered

DOCS = [
    {"Name": "alpha", "Status": "InService", "Kind": "A", "CreationTime": 1.0},
    {"Name": "beta", "Status": "Failed", "Kind": "A", "CreationTime": 2.0},
    {"Name": "gamma", "Kind": "B", "CreationTime": 3.0},
]
EQUALS = {"StatusEquals": "Status", "TypeEquals": "Kind"}


def names(docs: list[dict[str, object]]) -> list[object]:
    return [d["Name"] for d in docs]


def test_each_exact_match_parameter_compares_with_its_document_key() -> None:
    assert names(filtered(DOCS, {"StatusEquals": "Failed"}, "Name", equals=EQUALS)) == ["beta"]
    assert names(filtered(DOCS, {"TypeEquals": "A"}, "Name", equals=EQUALS)) == ["alpha", "beta"]
    both = {"TypeEquals": "A", "StatusEquals": "InService"}
    assert names(filtered(DOCS, both, "Name", equals=EQUALS)) == ["alpha"]


def test_a_document_without_the_key_never_matches_and_absent_parameters_do_not_filter() -> None:
    assert names(filtered(DOCS, {"StatusEquals": "InService"}, "Name", equals=EQUALS)) == ["alpha"]
    assert names(filtered(DOCS, {}, "Name", equals=EQUALS)) == ["alpha", "beta", "gamma"]


def test_equals_combines_with_name_and_time_filters() -> None:
    params = {"TypeEquals": "A", "NameContains": "ET", "CreationTimeAfter": 1.5}
    assert names(filtered(DOCS, params, "Name", equals=EQUALS)) == ["beta"]
    assert names(filtered(DOCS, {"TypeEquals": "A"}, "Name")) == ["alpha", "beta", "gamma"]
