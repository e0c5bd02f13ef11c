"""SageMaker's default quotas for automatic model tuning, refused as AWS refuses a request
past a quota: ResourceLimitExceeded, in the words of its account-level service limits.

They also keep a request from flooding the machine: every training job a tuning job runs
at once is a local process, so MaxParallelTrainingJobs 10,000 would start 10,000 of them.
The quotas (SageMaker Developer Guide, "Resource Limits for Automatic Model Tuning"):
100 tuning jobs at once, 10 training jobs at once per tuning job, 750 training jobs per
tuning job (a Grid search counts the combinations of its ranges when it gives no
MaxNumberOfTrainingJobs), 20 metrics defined (the built-in algorithm's own list, which
smlocal fills in, is not counted).
"""

from __future__ import annotations

import re
from typing import Any

from smlocal.emulator.errors import ResourceLimitExceeded, ValidationException

MAX_TUNING_JOBS = 100  # tuning jobs running at once in the account
MAX_PARALLEL = 10  # training jobs at once per tuning job
MAX_TRAINING_JOBS = 750  # training jobs per tuning job
MAX_METRICS = 20  # MetricDefinitions of a tuning job's training job definition


def exceeded(
    quota: str, limit: int, used: int, delta: int, unit: str = "Jobs"
) -> ResourceLimitExceeded:
    """AWS's refusal of a request past an account-level quota."""
    return ResourceLimitExceeded(
        f"The account-level service limit '{quota}' is {limit} {unit}, with current utilization "
        f"of {used} {unit} and a request delta of {delta} {unit}. Please use AWS Service Quotas to "
        "request an increase for this quota. If AWS Service Quotas is not available, contact "
        "AWS support to request an increase for this quota."
    )


def check_limits(config: dict[str, Any], grid_size: int | None, running: int) -> None:
    """Refuse a tuning job past a quota. `grid_size`: the Grid search's combinations (None
    for the other strategies); `running`: the tuning jobs already InProgress or Stopping."""
    if running >= MAX_TUNING_JOBS:
        raise exceeded("Number of concurrent hyperparameter tuning jobs", MAX_TUNING_JOBS,
                       running, 1)  # fmt: skip
    limits = config["ResourceLimits"]
    parallel = int(limits["MaxParallelTrainingJobs"])
    if parallel > MAX_PARALLEL:
        raise exceeded("Number of parallel training jobs per hyperparameter tuning job",
                       MAX_PARALLEL, 0, parallel)  # fmt: skip
    jobs = limits.get("MaxNumberOfTrainingJobs")
    total = int(jobs) if jobs is not None else grid_size
    if total is not None and total > MAX_TRAINING_JOBS:
        raise exceeded(f"[{config['Strategy']}] Number of training jobs per hyperparameter "
                       "tuning job", MAX_TRAINING_JOBS, 0, total)  # fmt: skip


def check_metrics(definitions: list[dict[str, str]]) -> None:
    """Refuse more metric definitions than the quota, or a Regex that does not compile
    (the training jobs would fail reading their logs)."""
    if len(definitions) > MAX_METRICS:
        raise exceeded("Number of metrics defined per hyperparameter tuning job", MAX_METRICS,
                       0, len(definitions), "Metrics")  # fmt: skip
    for found in definitions:
        try:
            re.compile(found["Regex"])
        except re.error as exc:
            raise ValidationException(
                f"The Regex of metric definition {found['Name']}, {found['Regex']!r}, is not a "
                f"valid regular expression: {exc}."
            ) from None
