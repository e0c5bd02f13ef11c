"""Training jobs for SageMaker's built-in XGBoost algorithm (algorithm mode).

The emulator plays SageMaker's part (`manager`, `workspace`): it downloads the channels
into a job folder laid out like `/opt/ml`, runs the algorithm in a child process, then
tars and uploads `model/` as `{S3OutputPath}/{TrainingJobName}/output/model.tar.gz`.
The child (`xgboost_algorithm`) plays the container's part: it validates hyperparameters
and channels, reads CSV or libsvm, trains with the installed XGBoost, prints one metric
line per round, and writes `model/xgboost-model`, or `output/failure` when it cannot.

This module stays light: the child imports it before anything else.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the job's input (hyperparameters, channels, data): a ClientError."""

    prefix = "ClientError"

    @property
    def reason(self) -> str:
        """The FailureReason SageMaker shows for it."""
        return f"{self.prefix}: {self}"


class AlgorithmError(UserError):
    """The algorithm failed for a reason the input does not explain."""

    prefix = "AlgorithmError"
