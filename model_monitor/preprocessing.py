"""User scripts with the real container's contract: record preprocessor and post-processor.

* `preprocess_handler(inference_record)` or `preprocess_handler(inference_record, logger)` (the
  second parameter must be called `logger`) gets, per record: a `CapturedData` for captures,
  the raw line (newline included) for a CSV dataset, the parsed object for JSON lines. It
  returns a flat dict (one row, keys sorted into columns), a list of dicts (several rows) or
  `[]` / None (the record is dropped). Any exception fails the job with the real text, and so
  does a row of more than `max_columns` keys.
* `postprocess_handler()` runs with no arguments after all output files are written.

A script that ends the process (`sys.exit`, i.e. SystemExit) fails the job, saying so: the
job would otherwise end without its outputs and without a reason.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from smlocal.model_monitor.errors import (
    MAX_COLUMNS,
    POSTPROCESS_HANDLER_MISSING,
    PREPROCESS_HANDLER_MISSING,
    PREPROCESSOR_FAILED,
    AnalysisError,
    exit_call,
    too_many_columns,
)
from smlocal.model_monitor.readers import SHADOW, event_id, iter_capture_records, json_text

KeyedRow = dict[str, str | None]


class EventMetadata:
    """`eventMetadata` of a capture record."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.event_id = body.get("eventId")
        self.event_time = body.get("inferenceTime")
        self.inference_id = body.get("inferenceId")
        self.custom_attribute = body.get("customAttributes")


class EventData:
    """One side (`endpointInput` / `endpointOutput`) of a capture record."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.encoding = body.get("encoding")
        self.data = body.get("data")
        self.observedContentType = body.get("observedContentType")  # the real attribute name
        self.mode = body.get("mode")


class CapturedData:
    """A capture record as the container hands it to `preprocess_handler`."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        capture = record.get("captureData") or {}

        def side(name: str) -> EventData | None:
            return EventData(capture[name]) if name in capture else None

        metadata = record.get("eventMetadata")
        self.event_metadata = EventMetadata(metadata) if metadata is not None else None
        self.endpoint_input = side("endpointInput")
        self.endpoint_output = side("endpointOutput")
        self.batch_transform_output = side("batchTransformOutput")
        self.ground_truth = side("groundTruthData")
        self.event_version = record.get("eventVersion")
        self.event_dict = record


def load_script(path: Path) -> ModuleType:
    """Import a user script by path."""
    spec = importlib.util.spec_from_file_location(f"smlocal_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise AnalysisError(f"Cannot load script {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise AnalysisError(
            f"The script {path.name} called {exit_call(exc)} while it was loaded."
        ) from None
    return module


def postprocess_handler(path: Path) -> Callable[[], Any]:
    """The post-processor's handler, or the real error when it has none."""
    handler = getattr(load_script(path), "postprocess_handler", None)
    if not callable(handler):
        raise NotImplementedError(POSTPROCESS_HANDLER_MISSING)

    def run() -> Any:
        try:
            return handler()
        except SystemExit as exc:
            raise AnalysisError(
                f"postprocess_handler called {exit_call(exc)} instead of returning."
            ) from None

    return run


class Preprocessor:
    """A loaded record preprocessor: records in, keyed rows out."""

    def __init__(
        self, path: Path, logger: logging.Logger | None = None, max_columns: int = MAX_COLUMNS
    ) -> None:
        handler = getattr(load_script(path), "preprocess_handler", None)
        if not callable(handler):
            raise NotImplementedError(PREPROCESS_HANDLER_MISSING)
        self._handler = handler
        self._logger = logger or logging.getLogger("model_monitor.preprocessor")
        self._with_logger = "logger" in inspect.signature(handler).parameters
        self._max_columns = max_columns

    def rows(self, record: Any, where: str = "a record") -> list[KeyedRow]:
        """Apply the handler to one record (`where` names it in messages)."""
        try:
            if self._with_logger:
                result = self._handler(record, logger=self._logger)
            else:
                result = self._handler(record)
        except Exception as exc:
            self._logger.error("preprocess_handler raised:\n%s", traceback.format_exc())
            raise AnalysisError(PREPROCESSOR_FAILED) from exc
        except SystemExit as exc:
            raise AnalysisError(
                f"{PREPROCESSOR_FAILED} preprocess_handler called {exit_call(exc)} instead of "
                "returning rows."
            ) from None
        return _rows(result, f"The row preprocess_handler returned for {where}", self._max_columns)


def _rows(result: Any, where: str, limit: int) -> list[KeyedRow]:
    if result is None:
        return []
    if isinstance(result, Mapping):
        if len(result) > limit:  # before a value is converted
            raise AnalysisError(too_many_columns(where, len(result), limit))
        return [{str(k): json_text(result[k], "preprocess_handler's result") for k in result}]
    if isinstance(result, list) and all(isinstance(item, Mapping) for item in result):
        return [row for item in result for row in _rows(item, where, limit)]
    raise AnalysisError(
        f"{PREPROCESSOR_FAILED} preprocess_handler must return a flat dict, a list of dicts or "
        f"[], not {type(result).__name__}."
    )


def captured_rows(
    source: Path | str, start: datetime | None, end: datetime | None, script: Preprocessor
) -> Iterator[KeyedRow]:
    """The rows `script` makes of the capture records under `source` (a folder, a file, or an
    s3:// URI) in [start, end), file by file; shadow variants' records are left out."""
    for found in iter_capture_records(source, start, end):
        record = found.record
        if (record.get("eventMetadata") or {}).get("invocationSource") != SHADOW:
            where = f"capture record {event_id(record)} ({found})"
            yield from script.rows(CapturedData(record), where)
