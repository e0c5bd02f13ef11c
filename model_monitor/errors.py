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


def encoding_mismatch(input_encoding: str, output_encoding: str) -> str:
    """The real text for a capture whose input and output encodings differ."""
    return (
        f"Encoding mismatch: Encoding is {input_encoding} for endpointInput, but Encoding is "
        f"{output_encoding} for endpointOutput. We currently only support the same type of "
        "input and output encoding at the moment."
    )


class AnalysisError(Exception):
    """A failure with a user-facing reason; `str(error)` is the job's failure reason."""
