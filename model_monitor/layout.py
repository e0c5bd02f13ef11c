"""Whether the baseline's columns line up with the analysed rows, said in plain words.

A monitoring run names the current columns after the baseline's features by position, and a
captured CSV row is the model's output followed by the inputs (as the real analyzer reads
it). A baseline of the features alone is therefore one column short: every check compares a
baseline feature with its neighbour, the last captured column is an `extra_column_check`,
and real drift can pass unseen.

The real analyzer does not fail on this, and neither does smlocal: the
`missing_column_check` / `extra_column_check` violations stay exactly as they are. What
smlocal adds (docs/fidelity.md) is this explanation, as a line of the job's log, a warning
of `smlocal monitor run` and a note at the top of the HTML report.
"""

from __future__ import annotations

from smlocal.model_monitor.environment import CAPTURE, AnalyzerInput
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.readers import INPUT, iter_capture_records, record_rows

LOG_SOURCE = "smlocal"  # the log line is smlocal's own, not one of the real analyzer's
ADVICE = (
    "baseline the training data with the label or prediction column first, "
    "as the captured rows are laid out"
)
BY_POSITION = (
    "Columns are matched by position, so each check compares a baseline column with the "
    "column in its place."
)

# What the current rows are, as far as the caller knows.
CAPTURED, PREPROCESSED, DATASET, UNKNOWN = "captured", "preprocessed", "dataset", "unknown"


def _captured(current: int, outputs: int | None) -> tuple[str, str]:
    """The captured rows' layout in words, and the advice that fits it."""
    if outputs is None:
        return "the model's output followed by the inputs", ADVICE
    if outputs == 0:
        return f"{current} inputs; the output is not captured", (
            "baseline the inputs alone, as the captured rows are laid out"
        )
    if outputs >= current:
        return "the model's output alone; the input is not captured", ADVICE
    output = "the model's output" if outputs == 1 else f"the model's output, {outputs} columns,"
    return f"{output} followed by {current - outputs} inputs", ADVICE


def mismatch(
    baseline: int, current: int, *, kind: str = UNKNOWN, outputs: int | None = None
) -> str | None:
    """The explanation when `baseline` and `current` column counts differ, else None.

    `outputs` is the number of output columns of a captured row, when known.
    """
    if baseline in (current, 0):
        return None
    head = f"The baseline has {baseline} columns and"
    if kind == CAPTURED:
        layout, advice = _captured(current, outputs)
        return f"{head} the captured rows {current} ({layout}): {advice}. {BY_POSITION}"
    if kind == PREPROCESSED:
        return f"{head} the rows of the record preprocessor {current}. {BY_POSITION}"
    if kind == DATASET:
        return f"{head} the dataset {current}. {BY_POSITION}"
    return (
        f"{head} the current data {current} (a captured row is the model's output followed "
        f"by the inputs): {ADVICE}. {BY_POSITION}"
    )


def capture_outputs(job: AnalyzerInput) -> int | None:
    """Output columns of the first captured record in the job's window that has a row."""
    names = job.dataset_format.index_names
    limit = job.max_columns
    try:
        for found in iter_capture_records(job.dataset_source, job.start_time, job.end_time):
            if rows := record_rows(found, names, max_columns=limit):
                inputs = record_rows(found, (INPUT,), max_columns=limit) if INPUT in names else []
                return len(rows[0]) - (len(inputs[0]) if inputs else 0)
    except AnalysisError:
        return None
    return None


def explain(job: AnalyzerInput, baseline: int, current: int) -> str | None:
    """The explanation for a job whose baseline has `baseline` columns and data `current`."""
    if baseline in (current, 0):
        return None
    if job.dataset_format.kind != CAPTURE:
        return mismatch(baseline, current, kind=DATASET)
    if job.record_preprocessor_script:
        return mismatch(baseline, current, kind=PREPROCESSED)
    return mismatch(baseline, current, kind=CAPTURED, outputs=capture_outputs(job))
