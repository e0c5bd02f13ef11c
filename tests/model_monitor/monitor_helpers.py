"""Helpers for the analyzer tests: datasets, capture records and result files."""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from smlocal.model_monitor.job import JobResult

DATA = Path(__file__).parent / "data"
CHURN = DATA / "churn-training-dataset-with-header.csv"
CHURN_TRAFFIC = DATA / "churn-test_sample.csv"
CSV_WITH_HEADER = json.dumps({"csv": {"header": True, "output_columns_position": "START"}})
CAPTURE = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)

# The SDK prints a deprecation banner as a warning on import unless told not to.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def capture_record(
    inputs: str,
    output: str,
    *,
    when: str = "2022-04-18T00:21:48Z",
    encoding: str = "CSV",
    output_encoding: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """A Data Capture record as SageMaker writes it."""
    types = {"CSV": "text/csv", "JSON": "application/json", "BASE64": "image/png"}
    out_encoding = output_encoding or encoding
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": types[encoding],
                "mode": "INPUT",
                "data": inputs,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": types[out_encoding],
                "mode": "OUTPUT",
                "data": output,
                "encoding": out_encoding,
            },
        },
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": when, **metadata},
        "eventVersion": "0",
    }


def write_captures(folder: Path, records: Iterable[Mapping[str, Any]], hour: str) -> Path:
    """Records into `folder/endpoint/AllTraffic/yyyy/mm/dd/hh/…jsonl` (hour as `2022/04/18/00`)."""
    target = folder / "endpoint" / "AllTraffic" / hour
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"21-48-903-{uuid.uuid4()}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def write_csv(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = ()) -> Path:
    """A small CSV file."""
    lines = [",".join(header)] if header else []
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


Runner = Callable[..., JobResult]


def violations(result_folder: Path) -> list[dict[str, str]]:
    """The entries of a run's constraint_violations.json."""
    text = (result_folder / "constraint_violations.json").read_text(encoding="utf-8")
    entries: list[dict[str, str]] = json.loads(text)["violations"]
    return entries


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    """Edit a JSON file the way the SDK saves one: compact, on one line."""
    body = json.loads(path.read_text(encoding="utf-8"))
    change(body)
    path.write_text(json.dumps(body), encoding="utf-8")


def classic_baseline(folder: Path, baseline: Runner) -> None:
    """A baseline from a CSV with a header and two integer columns, a and b."""
    rows = [(i % 7, i % 11) for i in range(200)]
    assert baseline(write_csv(folder / "train.csv", rows, ("a", "b"))).status == "Completed"


def classic_captures(folder: Path) -> Path:
    """Captured traffic where b (the input) is half integers and half values like 3.50."""
    values = ["3", "3.50", "4", "4.25", "5", "0.50"]
    records = [capture_record(b, str(i % 7)) for i, b in enumerate(values * 10)]
    write_captures(folder, records, "2022/04/18/00")
    return folder


def run_job(dataset: Path, output: Path, baseline: Path | None = None, **env: str) -> JobResult:
    """A baseline job on a CSV with a header, or with `baseline` (a baseline job's output
    folder) a monitoring execution against it."""
    from smlocal.model_monitor.job import run_analysis

    environment = {
        "dataset_source": str(dataset),
        "dataset_format": CSV_WITH_HEADER,
        "output_path": str(output),
        **env,
    }
    if baseline is not None:
        environment["baseline_statistics"] = str(baseline / "statistics.json")
        environment["baseline_constraints"] = str(baseline / "constraints.json")
    return run_analysis(environment)


# Columns of the churn data that `churn_traffic(..., faults=True)` breaks, and how.
CHURN_FAULTS = {
    "Day Mins": "baseline_drift_check",  # every value shifted up by 150
    "Account Length": "data_type_check",  # every fourth value gets a fraction
    "Eve Calls": "completeness_check",  # every tenth value left empty
}


def churn_traffic(path: Path, *, rows: int = 400, faults: bool = True) -> Path:
    """Rows of the churn training data as current data, broken as `CHURN_FAULTS` says."""
    import csv

    with CHURN.open(encoding="utf-8", newline="") as handle:
        header, *records = list(csv.reader(handle))
    column = {name: header.index(name) for name in CHURN_FAULTS}
    out = [header]
    for i, record in enumerate(records[:rows]):
        row = list(record)
        if faults:
            row[column["Day Mins"]] = f"{float(row[column['Day Mins']]) + 150:.1f}"
            if i % 4 == 0:
                row[column["Account Length"]] += ".5"
            if i % 10 == 0:
                row[column["Eve Calls"]] = ""
        out.append(row)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(out)
    return path


# The seed workshop's monitoring data (aws-samples/amazon-sagemaker-from-idea-to-production):
# the bank-marketing rows one-hot encoded into 59 integer columns, no header, no label.
ONE_HOT_GROUPS = (12, 4, 8, 3, 3, 3, 2, 10, 5, 3)  # job, marital, ..., poutcome: 53 columns

# The workshop's record preprocessor does this: floats for the first three columns, integers
# for the rest, input only (written here afresh).
WORKSHOP_PREPROCESSOR = """\
def preprocess_handler(inference_record):
    values = inference_record.endpoint_input.data.split(",")
    return {f"_c{i}": float(v) if i < 3 else int(float(v)) for i, v in enumerate(values)}
"""


def bank_row(rng: random.Random) -> list[int]:
    """age, campaign, pdays, previous, no_previous_contact, not_working, one-hot groups."""
    contacted = rng.random() < 0.04
    pdays = rng.randrange(0, 27) if contacted else 999
    row = [
        min(98, max(17, round(rng.gauss(40, 10.4)))),
        min(56, 1 + int(rng.expovariate(0.5))),
        pdays,
        rng.randrange(1, 7) if contacted else int(rng.random() < 0.1),
        int(pdays == 999),
        int(rng.random() < 0.07),
    ]
    for size in ONE_HOT_GROUPS:
        weights = [1 + (i * 7) % 5 for i in range(size)]
        chosen = rng.choices(range(size), weights)[0]
        row += [int(i == chosen) for i in range(size)]
    return row


# Hour folders of `mixed_captures`, and which one each file goes to (by number, in turn):
# one before the window 2022-04-18T00:00/02:00, two in it, one after.
MIXED_HOURS = ("2022/04/17/23", "2022/04/18/00", "2022/04/18/01", "2022/04/18/02")
_MIXED_PATTERN = (1, 1, 2, 2, 1, 2, 0, 3, 1, 2)
MIXED_WINDOW = {"start_time": "2022-04-18T00:00:00Z", "end_time": "2022-04-18T02:00:00Z"}


def _mixed_payloads(rng: random.Random, kind: str) -> tuple[str, str, str]:
    """(encoding, input, output) of one record of a `mixed_captures` file."""
    score = f"{rng.random():.6f}"
    a = "n/a" if rng.random() < 0.001 else str(rng.randrange(50))
    b, c = f"{rng.gauss(0, 1):.4f}", rng.choice(["red", "green", "blue"])
    d = "" if rng.random() < 0.1 else str(rng.randrange(3))
    if kind == "json":
        return "JSON", json.dumps({"a": int(rng.randrange(50)), "b": float(b), "c": c}), score
    if kind == "multi":
        return "CSV", f"{a},{b},{c},{d}\n{a},{c},{b},{d}\n", f"{score}\n0.5"
    extra = f",{rng.randrange(9)}" if kind == "csv+" and rng.random() < 0.01 else ""
    return "CSV", f"{a},{b},{c},{d}{extra}", score + ("\n" if rng.random() < 0.5 else "")


def _mixed_record(rng: random.Random, kind: str, hour: str, index: int) -> dict[str, Any]:
    encoding, inputs, output = _mixed_payloads(rng, kind)
    year, month, day, hh = hour.split("/")
    minute = 59 if index % 97 == 0 else (index // 60) % 60  # the odd one runs past its hour
    late = int(hh) + 1 if index % 97 == 0 and index % 2 else int(hh)
    fraction = f".{index % 1000:03d}" if index % 3 else ""
    when = f"{year}-{month}-{day}T{late:02d}:{minute:02d}:{index % 60:02d}{fraction}Z"
    if hh == "23" and late == 24:
        when = f"{year}-{month}-{int(day) + 1:02d}T00:00:{index % 60:02d}Z"
    shadow = {"invocationSource": "ShadowExperiment"} if index % 53 == 0 else {}
    mismatch = "JSON" if shadow and encoding == "CSV" else None  # shadow records are skipped
    record = capture_record(
        inputs, output, when=when, encoding=encoding, output_encoding=mismatch, **shadow
    )
    record["eventMetadata"]["eventId"] = f"{hour}-{index}"
    return record


def mixed_captures(folder: Path, files: int, per_file: int, seed: int = 7) -> Path:
    """Deterministic captures in every layout a monitoring run reads, in `MIXED_HOURS`:
    single-line CSV (empty fields, the odd word, a trailing newline or not, an extra column
    now and then in every thirteenth file),
    multi-line CSV (every eleventh file), JSON payloads (every seventh), shadow traffic, and
    records either side of `MIXED_WINDOW`."""
    rng = random.Random(seed)
    for number in range(files):
        hour = MIXED_HOURS[_MIXED_PATTERN[number % len(_MIXED_PATTERN)]]
        kind = "json" if number % 7 == 3 else "multi" if number % 11 == 5 else "csv"
        kind += "+" if kind == "csv" and number % 13 == 0 else ""  # an extra column at times
        records = [_mixed_record(rng, kind, hour, i) for i in range(per_file)]
        target = folder / "endpoint" / "AllTraffic" / hour
        target.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        (target / f"{number:05d}.jsonl").write_text(lines, encoding="utf-8")
    return folder
