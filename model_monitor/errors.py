"""Why an analysis job fails, in the words the real analyzer uses where they are known.

The job writes `str(error)` as the failure reason (the container's message file), so the
message of each error is the text a user sees in `FailureReason`.
"""

from __future__ import annotations

# Texts seen in real jobs (model-monitor spec sections 5 and 6.2).
NO_DATA = "Job inputs had no data"
PREPROCESSOR_FAILED = (
    "There is an exception raised in preprocessor script. "
    "Please double check the preprocessor script."
)
PREPROCESS_HANDLER_MISSING = "Preprocess Handler not implemented correctly in customer script."
POSTPROCESS_HANDLER_MISSING = (
    "PostProcess Handler not implemented correctly in customer analysis script."
)
DATASET_FORMAT_MISSING = "Dataset format is missing"
INVALID_OUTPUT_COLUMNS_POSITION = "Invalid value for output_columns_position"

# smlocal's own limit: every column of a record gets its own state (types, moments, sketches),
# so one absurdly wide record would take minutes and gigabytes before anything fails.
MAX_COLUMNS = 10_000
MAX_COLUMNS_KEY = "smlocal_max_columns"  # the environment entry that changes it


def too_many_columns(where: str, found: int | None, limit: int) -> str:
    """The reason for a record wider than the limit (`found` None: over it, not counted)."""
    count = f"{found:,}" if found is not None else f"more than {limit:,}"
    return (
        f"{where} has {count} columns; smlocal analyses at most {limit:,} columns per record "
        f"(raise the limit with the {MAX_COLUMNS_KEY} environment entry)."
    )


def exit_call(error: SystemExit) -> str:
    """How a user script ended the process, as it would be written: `sys.exit(0)`."""
    return f"sys.exit({'' if error.code is None else repr(error.code)})"


def encoding_mismatch(input_encoding: str, output_encoding: str) -> str:
    """The real text for a capture whose input and output encodings differ.

    Quoted in aws/sagemaker-python-sdk issue #2785.
    """
    return (
        f"Encoding mismatch: Encoding is {input_encoding} for endpointInput, but Encoding is "
        f"{output_encoding} for endpointOutput. We currently only support the same type of "
        "input and output encoding at the moment."
    )


class AnalysisError(Exception):
    """A failure with a user-facing reason; `str(error)` is the job's failure reason."""
