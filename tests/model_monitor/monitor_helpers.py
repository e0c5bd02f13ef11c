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
