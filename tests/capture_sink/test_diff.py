"""`smlocal captures diff`: pairing production and shadow records and comparing answers."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from smlocal.capture_sink.diff import diff_captures, difference, numbers, render


def record(request: str, answer: str, *, inference_id: str | None = None, shadow: bool = False,
           encoding: str = "CSV") -> dict:  # fmt: skip
    def side(data: str, mode: str) -> dict:
        stored = base64.b64encode(data.encode()).decode() if encoding == "BASE64" else data
        return {"observedContentType": "text/csv", "mode": mode, "data": stored,
                "encoding": encoding}  # fmt: skip

    metadata: dict = {"eventId": f"e-{request}-{answer}-{shadow}"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = "2026-12-06T10:00:00Z"
    if shadow:
        metadata["invocationSource"] = "ShadowExperiment"
    return {
        "captureData": {"endpointInput": side(request, "INPUT"),
                        "endpointOutput": side(answer, "OUTPUT")},
        "eventMetadata": metadata,
        "eventVersion": "0",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.0\n2.0\n", [1.0, 2.0]),
        ("0.1,0.9", [0.1, 0.9]),
        ("[1, 2]", [1.0, 2.0]),
        ('{"predictions": [{"score": 0.5}, {"score": 1}]}', [0.5, 1.0]),
        ('{"label": "cat"}', None),
        ("cat", None),
        ("[true]", None),
        ("", None),
    ],
)
def test_numbers_of_answers(text: str, expected: list[float] | None) -> None:
    assert numbers(text) == expected


def test_difference_is_the_largest_gap_beyond_the_tolerance() -> None:
    assert difference("1.0\n2.0", "[1, 2]", 0.0) == 0.0
    assert difference("0.5", "0.75", 0.0) == 0.25
    assert difference("0.5", "0.75", 0.3) == 0.0
    assert difference("1,2", "1", 0.0) == float("inf")  # lengths differ
    assert difference(" cat\n", "cat", 0.0) == 0.0
    assert difference("cat", "dog", 0.0) == float("inf")
    assert difference(None, "1", 0.0) == float("inf")


def test_pairs_by_inference_id_then_by_request_in_order() -> None:
    production = [
        record("1,2", "0", inference_id="a"),
        record("1,2", "1", inference_id="b"),
        record("3,4", "5"),
        record("3,4", "6"),  # the second of the same payload pairs with the second shadow one
        record("7,8", "9"),  # no shadow copy: unmatched
    ]
    shadow = [
        record("1,2", "1", inference_id="b", shadow=True),
        record("1,2", "0.5", inference_id="a", shadow=True),
        record("3,4", "5", shadow=True, encoding="BASE64"),
        record("3,4", "7", shadow=True),
        record("9,9", "1", shadow=True),  # no production record: unmatched
    ]
    report = diff_captures(production, shadow, top=5)
    assert (report.production_records, report.shadow_records) == (5, 5)
    assert report.matched == 4
    assert (report.unmatched_production, report.unmatched_shadow) == (1, 1)
    assert report.disagreements == 2
    assert report.disagreement_rate == 0.5
    assert [(p.key, p.difference) for p in report.largest] == [("input", 1.0), ("a", 0.5)]
    assert diff_captures(production, shadow, tolerance=1.0).disagreements == 0
    assert diff_captures(production, shadow, top=1).largest[0].difference == 1.0
    text = render(report)
    assert "matched pairs:       4" in text
    assert "disagreements:       2 (50.00% of matched, tolerance 0)" in text


def test_nothing_matched_has_no_rate() -> None:
    report = diff_captures([record("1", "1")], [])
    assert report.disagreement_rate is None
    assert report.describe()["disagreementRate"] is None
    assert "disagreements:       0" in render(report)


def _write(folder: Path, records: list[dict]) -> None:
    hour = folder / "2026" / "12" / "06" / "10"
    hour.mkdir(parents=True)
    (hour / "00-00-000-x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_the_command_on_a_folder_splits_by_invocation_source(tmp_path: Path) -> None:
    _write(tmp_path / "ep" / "Prod", [record("1,2", "0.25"), record("3,4", "1")])
    _write(tmp_path / "ep" / "Shadow", [record("1,2", "0.5", shadow=True),
                                         record("3,4", "1", shadow=True)])  # fmt: skip
    command = [sys.executable, "-m", "smlocal.emulator.cli", "captures", "diff"]
    one = subprocess.run([*command, str(tmp_path / "ep"), "--json"], capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    report = json.loads(one.stdout)
    assert report["matchedPairs"] == 2
    assert report["disagreements"] == 1
    assert report["largestDifferences"][0]["difference"] == 0.25
    two = subprocess.run(
        [*command, str(tmp_path / "ep" / "Prod"), str(tmp_path / "ep" / "Shadow"),
         "--tolerance", "0.3"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "disagreements:       0" in two.stdout
    missing = subprocess.run([*command, str(tmp_path / "nope")], capture_output=True,
                             text=True, timeout=120, check=False)  # fmt: skip
    assert missing.returncode == 2
    assert "smlocal captures diff:" in missing.stderr
    (tmp_path / "bad" / "2026" / "12" / "06" / "10").mkdir(parents=True)
    (tmp_path / "bad" / "2026" / "12" / "06" / "10" / "x.jsonl").write_text("not json\n")
    bad = subprocess.run([*command, str(tmp_path / "bad")], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert bad.returncode == 1
    negative = subprocess.run([*command, str(tmp_path / "ep"), "--tolerance", "-1"],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert negative.returncode != 0
    assert "must not be negative" in negative.stderr


def test_damaged_records_are_unmatched_not_a_crash() -> None:
    """Sections that are not objects, or a non-text payload, pair with nothing (they used to
    raise AttributeError out of the command)."""
    damaged = [
        {"captureData": "zz", "eventMetadata": "yy"},
        {"captureData": {"endpointInput": {"data": [1, 2]}}, "eventMetadata": {"eventId": 3}},
        {"captureData": {"endpointInput": ["x"], "endpointOutput": 7}, "eventMetadata": None},
    ]
    shadow = [*damaged, record("1", "1", shadow=True)]
    report = diff_captures([*damaged, record("1", "1")], shadow)
    assert (report.production_records, report.shadow_records) == (4, 4)
    assert (report.matched, report.disagreements) == (1, 0)


def test_nan_and_infinite_answers_rank_as_different_values_and_stay_json() -> None:
    assert difference("nan", "nan", 0.0) == 0.0
    assert difference("inf", "inf", 0.0) == 0.0
    assert difference("1,nan", "1,2", 0.0) == float("inf")
    deep = "[" * 100_000 + "1" + "]" * 100_000  # a hostile answer: no RecursionError
    assert numbers(deep) is None
    assert difference(deep, deep, 0.0) == 0.0
    assert difference(deep, "1", 0.0) == float("inf")
    assert difference("1e308,-1e308", "-1e308,1e308", 0.0) == float("inf")  # overflows
    report = diff_captures(
        [record("1", "nan"), record("2", "0.5"), record("3", "inf")],
        [record("1", "1", shadow=True), record("2", "0.25", shadow=True),
         record("3", "-inf", shadow=True)],
    )  # fmt: skip
    assert report.disagreements == 3
    assert [p.difference for p in report.largest] == [float("inf"), float("inf"), 0.25]
    json.loads(json.dumps(report.describe(), allow_nan=False))


def test_the_command_survives_hostile_files_and_writes_nothing(tmp_path: Path) -> None:
    hour = tmp_path / "ep" / "2026" / "12" / "06" / "10"
    hour.mkdir(parents=True)
    lines = [json.dumps(record("1", "1")), json.dumps(record("1", "2", shadow=True)),
             json.dumps({"captureData": "zz", "eventMetadata": {"inferenceTime":
                                                               "2026-12-06T10:00:00Z"}})]  # fmt: skip
    (hour / "00-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    command = [sys.executable, "-m", "smlocal.emulator.cli", "captures", "diff"]
    ok = subprocess.run([*command, str(tmp_path / "ep"), "--json"], capture_output=True,
                        text=True, timeout=120, check=False, cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["disagreements"] == 1
    (hour / "00-00-000-x.jsonl").write_text("\n".join(lines) + '\n{"captureData": {"endp')
    truncated = subprocess.run([*command, str(tmp_path / "ep")], capture_output=True,
                               text=True, timeout=120, check=False, cwd=tmp_path)  # fmt: skip
    assert truncated.returncode == 1
    assert "Traceback" not in truncated.stderr
    nan = subprocess.run([*command, str(tmp_path / "ep"), "--tolerance", "nan"],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert nan.returncode != 0
    assert "must not be negative" in nan.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before
