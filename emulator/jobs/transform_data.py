"""What a transform job does to one input file, without HTTP or S3 (pure functions).

A file is split into records (`SplitType` Line: one a line; None: the whole file), each
record filtered by `InputFilter`, the records packed into requests (`BatchStrategy`
SingleRecord: one each; MultiRecord: as many as fit in `MaxPayloadInMB`, joined by
newlines). Each answer is split back into one output record per input record when
anything needs the pairing (`JoinSource` Input, `OutputFilter`, an inference id); then the
records, or the answers as they came, are assembled (`AssembleWith` Line: each ends with a
newline; None: as they are).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smlocal.capture_sink.record import media_type
from smlocal.emulator.jobs import transform_jsonpath as jsonpath

MB = 1024 * 1024
TOO_LARGE = "Too much data for max payload size"  # the data log's words on AWS


class RecordError(Exception):
    """A record or an answer the job cannot handle; the job fails with it in its data log."""


@dataclass(frozen=True)
class Options:
    """A job's data options, with SageMaker's defaults filled in."""

    content_type: str | None = None
    accept: str | None = None
    split: str = "None"
    multi_record: bool = False
    max_payload: int = 6 * MB  # bytes; 0: no limit
    assemble_lines: bool = False
    input_filter: str | None = None
    output_filter: str | None = None
    join_input: bool = False
    inference: tuple[Callable[[], str], str] | None = None  # (new id, the job's start time)

    @property
    def pairs_records(self) -> bool:
        """True when answers are taken apart record by record."""
        return bool(self.join_input or self.output_filter or self.inference)


def is_csv(content_type: str | None) -> bool:
    """True for CSV content (anything else is handled as JSON when records are parsed)."""
    return media_type(content_type) in ("text/csv", "csv")


def split_records(data: bytes, options: Options) -> list[bytes]:
    """The records of a file: its lines (empty ones skipped), or the file as one record."""
    if options.split == "Line":
        return [line for line in data.splitlines() if line.strip()]
    return [data] if data else []


def filter_input(records: list[bytes], options: Options) -> list[bytes]:
    """Each record as InputFilter leaves it (unchanged without one)."""
    if not options.input_filter:
        return records
    steps = jsonpath.parse(options.input_filter)
    csv_input = is_csv(options.content_type)
    return [_select(steps, record, csv_input) for record in records]


def pack(records: list[bytes], options: Options) -> list[list[int]]:
    """Which records go in each request (their indexes), in order; RecordError if a record
    alone is over MaxPayloadInMB."""
    limit = options.max_payload
    requests: list[list[int]] = []
    size = 0
    for index, record in enumerate(records):
        if limit and len(record) > limit:
            raise RecordError(f"{TOO_LARGE}: a record of {len(record)} bytes, limit {limit}")
        grown = size + 1 + len(record)
        if options.multi_record and requests and (not limit or grown <= limit):
            requests[-1].append(index)
            size = grown
        else:
            requests.append([index])
            size = len(record)
    return requests


def body_of(records: list[bytes], indexes: Sequence[int]) -> bytes:
    """A request's body: its records, one a line."""
    return b"\n".join(records[i] for i in indexes)


def assemble(
    inputs: list[bytes], requests: list[list[int]], answers: list[bytes], options: Options
) -> bytes:
    """The `.out` file of one input file, from the original records and each request's answer."""
    if not options.pairs_records:
        return b"".join(_ended(a) if options.assemble_lines else a for a in answers)
    out = []
    for indexes, answer in zip(requests, answers, strict=True):
        outputs = _output_records(answer, len(indexes), options)
        for index, output in zip(indexes, outputs, strict=True):
            record = _finish(inputs[index], output, options)
            out.append(_ended(record) if options.assemble_lines else record)
    return b"".join(out)


def _ended(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def _output_records(answer: bytes, count: int, options: Options) -> list[bytes]:
    if options.split != "Line":
        return [answer.rstrip(b"\n")]
    lines = [line for line in answer.splitlines() if line.strip()]
    if len(lines) != count:
        raise RecordError(
            f"the model answered {len(lines)} records for a request of {count}: the output "
            "cannot be associated with the input records"
        )
    return lines


def _finish(source: bytes, output: bytes, options: Options) -> bytes:
    """One output record: joined with its input, filtered, with the inference id appended."""
    csv_record = is_csv(options.content_type if options.join_input else options.accept)
    value: Any = _parse(output, csv_record)
    if options.join_input:
        value = _join(_parse(source, csv_record), value, csv_record)
    if options.output_filter:
        value = jsonpath.apply(jsonpath.parse(options.output_filter), value)
    if options.inference:
        new_id, when = options.inference
        value = _with_inference(value, new_id(), when, csv_record)
    return _dump(value, csv_record)


def _join(source: Any, output: Any, csv_record: bool) -> Any:
    if csv_record:
        return [*source, *output]
    if isinstance(source, dict):  # the answer first, as in AWS's saved outputs
        return {"SageMakerOutput": output, **source}
    raise RecordError("JoinSource Input needs JSON input records that are objects")


def _with_inference(value: Any, inference_id: str, when: str, csv_record: bool) -> Any:
    if csv_record:
        return [*(value if isinstance(value, list) else [value]), inference_id, when]
    body = value if isinstance(value, dict) else {"SageMakerOutput": value}
    return {"SageMakerInferenceId": inference_id, "SageMakerInferenceTime": when, **body}


def _parse(record: bytes, csv_record: bool) -> Any:
    text = record.decode("utf-8", "replace")
    if csv_record:
        return next(csv.reader([text]), [])
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python reads
        raise RecordError(f"a record is not JSON: {text[:200]!r}") from None


def _dump(value: Any, csv_record: bool) -> bytes:
    if not csv_record:
        return json.dumps(value, separators=(",", ":")).encode()
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(value if isinstance(value, list) else [value])
    return out.getvalue().encode()


def _select(steps: list[jsonpath.Step], record: bytes, csv_record: bool) -> bytes:
    try:
        return _dump(jsonpath.apply(steps, _parse(record, csv_record)), csv_record)
    except jsonpath.JsonPathError as exc:
        raise RecordError(f"InputFilter could not be applied: {exc}") from None
