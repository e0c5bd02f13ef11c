"""What the analyzer job shares with whoever runs it: statuses, file names, exit messages and
the `dataset_format` documents.

Standard library only, so the command line and the emulator can use it without loading the
analysis modules.
"""

from __future__ import annotations

import json

COMPLETED, WITH_VIOLATIONS, FAILED = "Completed", "CompletedWithViolations", "Failed"
STATISTICS, CONSTRAINTS, VIOLATIONS = (
    "statistics.json",
    "constraints.json",
    "constraint_violations.json",
)


def exit_message(violations: int) -> str:
    """The analyzer's `ExitMessage` for a job that completed with that many violations."""
    if not violations:
        return f"{COMPLETED}: Job completed successfully with no violations."
    return f"{WITH_VIOLATIONS}: Job completed successfully with {violations} violations."


def status_of(exit_message: str) -> str:
    """The monitoring execution status a completed job's exit message stands for."""
    return WITH_VIOLATIONS if exit_message.startswith(f"{WITH_VIOLATIONS}:") else COMPLETED


def dataset_format(kind: str, header: bool = True) -> str:
    """The `dataset_format` environment value for csv, json (lines) or Data Capture files."""
    if kind == "csv":
        return json.dumps({"csv": {"header": header, "output_columns_position": "START"}})
    if kind == "json":
        return json.dumps({"json": {"lines": True}})
    return json.dumps(
        {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
    )
