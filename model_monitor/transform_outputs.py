"""A batch transform's output records, for a model-quality execution over its captures.

With DataCaptureConfig GenerateInferenceId a transform job appends to each output record the
inference id that ground truth names (`eventMetadata.eventId`): the last but one column of a
CSV record (the last is the inference time), `SageMakerInferenceId` of a JSON object. The
records are read from the `.out` files the job's output manifests name, which the emulator
downloads into `dataset_source`; each line is one record (`AssembleWith` Line).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from smlocal.model_monitor.ground_truth import Payload

INFERENCE_ID = "SageMakerInferenceId"


def output_files(source: Path) -> list[Path]:
    """The files under the dataset source (or the source itself), in path order."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        return []
    return sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))


def inference_id(line: str, is_csv: bool) -> str | None:
    """The inference id of one output record; None when it carries none."""
    if is_csv:
        fields = next(csv.reader([line]), []) if '"' in line else line.split(",")
        return fields[-2].strip() or None if len(fields) >= 2 else None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    found = value.get(INFERENCE_ID) if isinstance(value, dict) else None
    return str(found) if found is not None else None


def output_records(
    source: Path, is_csv: bool, header: bool
) -> Iterator[tuple[str | None, Callable[[], Payload]]]:
    """(inference id, its record as a payload) of every output record under the source."""
    encoding = "CSV" if is_csv else "JSON"
    for path in output_files(source):
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip() or (header and number == 1):
                    continue
                record = Payload(line.rstrip("\r\n"), encoding)
                yield inference_id(record.data, is_csv), partial(_same, record)


def _same(record: Payload) -> Payload:
    return record
