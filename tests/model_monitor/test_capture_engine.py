"""Monitoring runs read with Arrow and split across processes: the outputs of today's code.

* Arrow's JSON reader gives a capture file the items Python's json gives it, record by record
  (or the same failure), on every layout, and is really used where the layout allows.
* Partitions analysed in worker processes and merged in order give the state of one process,
  and of the record-by-record stream the analyzer read before, bit for bit.
* A whole monitoring run writes the files that the code before this change wrote (their
  SHA-256 below, computed with that code on the same generated captures), in one process and
  in several.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from monitor_helpers import CAPTURE, MIXED_WINDOW, capture_record, mixed_captures

from smlocal.model_monitor import capture_engine, engine, jackson
from smlocal.model_monitor.capture_engine import analyze_captures, capture_files
from smlocal.model_monitor.capture_files import CaptureSource, ReadSpec, arrow_lines, file_items
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.job import run_analysis
from smlocal.model_monitor.profile import build_profile, column_order
from smlocal.model_monitor.readers import capture_items, iter_capture_records
from smlocal.model_monitor.state import DatasetState
from smlocal.model_monitor.statistics import statistics_document

REAL_CAPTURES = Path("/work/shared/reference/real-captures")
START, END = datetime(2022, 4, 18, 0, tzinfo=UTC), datetime(2022, 4, 18, 1, tzinfo=UTC)
WINDOW = ReadSpec(START, END)

# SHA-256 of the files a monitoring run over `mixed_captures(folder, 110, 800)` in
# MIXED_WINDOW writes against the baseline of `mixed_captures(folder, 3, 700, seed=8)`,
# computed with the code before captures were read by Arrow and split across processes.
GOLDEN = {
    "constraint_violations.json": "e9417452f45918da4b21793141618f3420cf192dee759ba19bd46dc654e73609",
    "constraints.json": "57be27e8037c0156ed2b5e3b68a44af43e6ba361a16a0287e7baca535b7c012e",
    "statistics.json": "df26d592c4c7c2c1a12663967964218895d0abb4502326c50566e8f32bb70c1f",
}


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def _csv(inputs: str, output: str, **extra: Any) -> str:
    return _line(capture_record(inputs, output, **extra))


def _edited(change: Callable[[dict[str, Any]], None]) -> str:
    record = capture_record("1,2", "0.5")
    change(record)
    return _line(record)


def _drop_output(record: dict[str, Any]) -> None:
    del record["captureData"]["endpointOutput"]


def _null_output(record: dict[str, Any]) -> None:
    record["captureData"]["endpointOutput"] = None


def _lower_case(record: dict[str, Any]) -> None:
    for side in record["captureData"].values():
        side["encoding"] = "csv"


def _no_time(record: dict[str, Any]) -> None:
    del record["eventMetadata"]["inferenceTime"]


def _time_like_extras(record: dict[str, Any]) -> None:
    record["eventMetadata"]["customAttributes"] = ["2022-04-18T00:00:00Z"]
    record["captureData"]["batchTransformOutput"] = {"mode": "2022-04-18", "data": "x"}


def _number_data(record: dict[str, Any]) -> None:
    record["captureData"]["endpointInput"]["data"] = 5


# (name, file text, spec, whether Arrow reads it: True, False, or None for either)
CASES: list[tuple[str, str, ReadSpec, bool | None]] = [
    ("plain CSV", "\n".join(_csv(f"{i},{i * 2}", f"0.{i}") for i in range(5)), ReadSpec(), True),
    (
        "empty fields and line ends",
        "\n".join(
            [
                _csv("1,,3", "0.5\n"),
                _csv("4,5,6\r\n", ""),
                _csv("", "0.25\r\n"),
                _csv(",", ","),
                _csv("7,8,9", "\n"),
            ]
        ),
        ReadSpec(),
        True,
    ),
    (
        "a side missing, null, or lower-case",
        "\n".join(_edited(e) for e in (_drop_output, _null_output, _lower_case)),
        ReadSpec(),
        True,
    ),
    (
        "shadow traffic with mismatched encodings",
        "\n".join(
            [
                _csv("1,2", "0.5"),
                _csv("3,4", "{}", output_encoding="JSON", invocationSource="ShadowExperiment"),
            ]
        ),
        ReadSpec(),
        True,
    ),
    (
        "the input side only",
        "\n".join(_csv(f"{i},x", "0.5") for i in range(3)),
        ReadSpec(index_names=("endpointInput",)),
        True,
    ),
    (
        "times at the window's edges",
        "\n".join(
            [
                *(
                    _csv(str(i), "0.5", when=when)
                    for i, when in enumerate(
                        [
                            "2022-04-17T23:59:59.999999Z",
                            "2022-04-18T00:00:00Z",
                            "2022-04-18T00:00:00.5Z",
                            "2022-04-18T00:59:59.999999Z",
                            "2022-04-18T01:00:00Z",
                        ]
                    )
                ),
                _edited(_no_time),
            ]
        ),
        WINDOW,
        True,
    ),
    (
        "times with an offset",
        "\n".join(
            _csv(str(i), "0.5", when=when)
            for i, when in enumerate(["2022-04-18T01:30:00+01:00", "2022-04-18T00:30:00+01:00"])
        ),
        WINDOW,
        False,
    ),
    ("an impossible date", _csv("1", "0.5", when="2022-04-31T00:10:00Z"), WINDOW, False),
    ("time-like strings elsewhere", _edited(_time_like_extras), WINDOW, True),
    (
        "non-ASCII payloads, escaped or not",
        _csv("café,1", "0.5")
        + "\n"
        + json.dumps(capture_record("naïve,2", "0.5"), ensure_ascii=False),
        ReadSpec(),
        True,
    ),
    ("multi-line CSV", _csv("1,2\n3,4", "0.1\n0.2"), ReadSpec(), False),
    (
        "JSON payloads",
        _csv('{"a": 1, "b": 2.5}', '{"score": 0.5}', encoding="JSON"),
        ReadSpec(),
        False,
    ),
    ("an encoding mismatch", _csv("1,2", "{}", output_encoding="JSON"), ReadSpec(), False),
    ("BASE64", _csv("AAAA", "AAAA", encoding="BASE64"), ReadSpec(), False),
    ("too many columns", _csv("1,2,3", "0.5"), ReadSpec(max_columns=3), False),
    ("a field of the wrong type", _edited(_number_data), ReadSpec(), False),
    ("a broken line", _csv("1", "0.5") + "\n{not json", ReadSpec(), False),
    ("a blank line", _csv("1", "0.5") + "\n\n" + _csv("2", "0.5"), ReadSpec(), False),
    ("two records on a line", _csv("1", "0.5") + " " + _csv("2", "0.5"), ReadSpec(), False),
    ("a repeated key", '{"eventVersion":"0","eventVersion":"1"}', ReadSpec(), False),
    ("not an object", "[1, 2]", ReadSpec(), False),
    ("NaN in a field nobody reads", _csv("1", "0.5")[:-1] + ',"x":NaN}', ReadSpec(), None),
    ("an empty file", "", ReadSpec(), True),
]


def _both_ways(path: Path, spec: ReadSpec) -> tuple[Any, Any]:
    """(items or failure) read here, and read record by record as the analyzer did before."""

    def attempt(read: Callable[[], list[Any]]) -> Any:
        try:
            return read()
        except AnalysisError as exc:
            return f"failed: {exc}"

    source = CaptureSource(str(path), path.stat().st_size, None)
    ours = attempt(lambda: list(file_items(source, spec)))
    records = iter_capture_records(path, spec.start, spec.end)
    theirs = attempt(
        lambda: list(capture_items(records, spec.index_names, max_columns=spec.max_columns))
    )
    return ours, theirs


@pytest.mark.parametrize(("name", "text", "spec", "arrow"), CASES, ids=[c[0] for c in CASES])
def test_arrow_reads_a_capture_file_as_python_does(
    tmp_path: Path, name: str, text: str, spec: ReadSpec, arrow: bool | None
) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_text(text + "\n" if text else "", encoding="utf-8")
    ours, theirs = _both_ways(path, spec)
    assert ours == theirs
    if arrow is not None:
        assert (arrow_lines(path.read_bytes(), spec) is not None) == arrow


@pytest.mark.parametrize("path", sorted(REAL_CAPTURES.glob("*.jsonl")), ids=lambda p: p.name[:2])
def test_real_capture_files_read_alike(path: Path) -> None:
    ours, theirs = _both_ways(path, ReadSpec())
    assert ours == theirs
    csv = b'"encoding":"JSON"' not in path.read_bytes()
    assert (arrow_lines(path.read_bytes(), ReadSpec()) is not None) == csv


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 70,000 rows in the window, in 110 files of every layout (see mixed_captures)."""
    return mixed_captures(tmp_path_factory.mktemp("mixed"), 110, 800)


def _document(state: DatasetState) -> str:
    order = column_order(list(state.columns), "positional")
    return jackson.dumps(statistics_document(build_profile(state, order)))


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder, where workers leave the lines they read for each other."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_partitions_in_processes_give_the_state_of_one_pass(mixed: Path, scratch: Path) -> None:
    start, end = (datetime.fromisoformat(t) for t in MIXED_WINDOW.values())
    spec = ReadSpec(start, end)
    files = capture_files(mixed, spec)
    rows = 16_384  # five partitions, most of them across files of different layouts
    records = iter_capture_records(mixed, start, end)
    before = engine.analyze_rows(capture_items(records), partition_rows=rows)
    one = analyze_captures(files, spec, workers=1, partition_rows=rows)
    done: list[int] = []
    several = analyze_captures(
        files, spec, workers=2, partition_rows=rows, parallel_bytes=0, progress=done.append
    )
    full, rest = divmod(before.rows, rows)
    assert full >= 4
    assert done == [rows] * full + ([rest] if rest else [])
    assert _document(one) == _document(before)
    assert _document(several) == _document(before)
    assert not list(scratch.iterdir())  # the workers' files are gone


@pytest.mark.parametrize(
    "lines",
    [
        ["1,2.5,a", ",,", "x,,y", "\ufeff1,2,3"],
        ["0.5"],
        ["1,2", "3"],  # a short line: padded the way engine.chunks pads it
    ],
)
def test_lines_held_in_arrow_make_the_chunk_python_strings_make(lines: list[str]) -> None:
    ours = capture_engine.partition_state([pa.array(lines, pa.string())], True, ("a",))
    theirs = engine.analyze_rows(lines, watch=pa.array(["a"]))
    assert _document(ours) == _document(theirs)
    uniform = len({line.count(",") for line in lines}) == 1
    assert (capture_engine._lines_chunk(pa.array(lines)) is not None) == uniform


def _run(
    folder: Path, output: Path, baseline: Path | None = None, workers: int = 1, **env: str
) -> dict[str, str]:
    """Run a job on captures; the SHA-256 of each file it wrote."""
    environment = {
        "dataset_source": str(folder),
        "dataset_format": CAPTURE,
        "output_path": str(output),
        **env,
    }
    if baseline is not None:
        environment["baseline_statistics"] = str(baseline / "statistics.json")
        environment["baseline_constraints"] = str(baseline / "constraints.json")
    result = run_analysis(environment, workers=workers)
    assert result.status != "Failed", result.message
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(output.iterdir())}


def test_a_monitoring_run_writes_the_files_of_the_code_before(
    mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(mixed_captures(tmp_path / "train", 3, 700, seed=8), tmp_path / "baseline")
    one = _run(mixed, tmp_path / "one", tmp_path / "baseline", **MIXED_WINDOW)
    monkeypatch.setattr(capture_engine, "PARALLEL_BYTES", 0)
    several = _run(mixed, tmp_path / "two", tmp_path / "baseline", 2, **MIXED_WINDOW)
    assert one == GOLDEN
    assert several == GOLDEN


def test_a_failure_in_a_later_file_is_reported_as_one_process_reports_it(
    tmp_path: Path, scratch: Path
) -> None:
    folder = mixed_captures(tmp_path / "c", 6, 300)
    files = sorted(folder.rglob("*.jsonl"))
    with files[2].open("a", encoding="utf-8") as out:
        out.write(_csv("1,2", "{}", output_encoding="JSON") + "\n")
    with files[4].open("a", encoding="utf-8") as out:
        out.write("{broken\n")
    spec = ReadSpec()
    found = capture_files(folder, spec)
    with pytest.raises(AnalysisError) as one:
        analyze_captures(found, spec, workers=1, partition_rows=300)
    with pytest.raises(AnalysisError) as several:
        analyze_captures(found, spec, workers=2, partition_rows=300, parallel_bytes=0)
    assert str(several.value) == str(one.value)
    assert str(one.value).startswith("Encoding mismatch")
    assert not list(scratch.iterdir())


def test_small_runs_stay_in_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_processes(*args: object) -> DatasetState:
        raise AssertionError("worker processes started for a small run")

    monkeypatch.setattr(capture_engine, "_in_processes", no_processes)
    folder = mixed_captures(tmp_path / "c", 4, 200)
    spec = ReadSpec()
    state = analyze_captures(capture_files(folder, spec), spec, workers=2)
    assert state.rows > 0
    monkeypatch.setattr(capture_engine, "PARALLEL_BYTES", 0)
    with pytest.raises(AssertionError, match="worker processes started"):
        analyze_captures(capture_files(folder, spec), spec, workers=2)


def test_captures_on_s3_are_read_here_and_analysed_in_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto import mock_aws

    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    folder = mixed_captures(tmp_path / "c", 12, 400)
    spec = ReadSpec(*(datetime.fromisoformat(t) for t in MIXED_WINDOW.values()))
    local = analyze_captures(capture_files(folder, spec), spec, workers=1, partition_rows=1)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="captures")
        for path in folder.rglob("*.jsonl"):
            s3.upload_file(str(path), "captures", f"data/{path.relative_to(folder)}")
        found = capture_files("s3://captures/data", spec)
        assert all(f.uri.startswith("s3://captures/data/endpoint/") for f in found)
        remote = analyze_captures(found, spec, workers=2, partition_rows=1, parallel_bytes=0)
    assert _document(remote) == _document(local)
