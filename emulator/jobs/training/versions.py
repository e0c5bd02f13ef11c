"""What the XGBoost image's training side does differently per tag, in one table.

Sources: aws/sagemaker-xgboost-container at each tag (docker/*/Dockerfile.cpu pins the
XGBoost release; algorithm_mode/train.py prints the matrix sizes), and XGBoost 1.3.0, which
changed the default evaluation metric of `binary:logistic` from `error` to `logloss` and of
`multi:softmax`/`multi:softprob` from `merror` to `mlogloss`. smlocal trains with a newer
XGBoost, so an older image's default metric is asked for explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from smlocal.model_server.images import ImageVersion, parse_image

# Hyperparameters the newest image knows that older ones refuse as extraneous (the names in
# algorithm_mode/hyperparameter_validation.py at each tag).
_NOT_BEFORE_1_2 = frozenset(
    {"aft_loss_distribution", "aft_loss_distribution_scale", "deterministic_histogram",
     "prob_buffer_row", "sampling_method", "single_precision_histogram"}
)  # fmt: skip
_NOT_BEFORE_1_0 = _NOT_BEFORE_1_2 | {
    "interaction_constraints", "monotone_constraints", "num_parallel_tree",
    "save_model_on_termination",
}  # fmt: skip
_GONE_IN_1_7 = frozenset({"single_precision_histogram"})
_BEFORE_1_3 = {"binary:logistic": "error", "multi:softmax": "merror", "multi:softprob": "merror"}


@dataclass(frozen=True)
class TrainingBehaviour:
    """The training side of one range of image tags (from `since` up to the next row)."""

    since: ImageVersion
    xgboost: str  # the XGBoost release the image installs
    default_metrics: Mapping[str, str]  # objective -> the metric that XGBoost defaulted to
    matrix_columns: bool  # "Train matrix has N rows and M columns" rather than "N rows"
    refused: frozenset[str] = frozenset()  # hyperparameters this version does not know


BEHAVIOURS = (  # oldest first
    TrainingBehaviour(ImageVersion(0, 90, 1), "0.90", _BEFORE_1_3, False, _NOT_BEFORE_1_0),
    TrainingBehaviour(ImageVersion(1, 0, 1), "1.0.0", _BEFORE_1_3, False, _NOT_BEFORE_1_2),
    TrainingBehaviour(
        ImageVersion(1, 2, 1),
        "1.2.0",
        _BEFORE_1_3,
        True,
        frozenset({"prob_buffer_row", "sampling_method"}),
    ),
    TrainingBehaviour(ImageVersion(1, 3, 1), "1.3.3", {}, True),
    TrainingBehaviour(ImageVersion(1, 5, 1), "1.5.2", {}, True),
    TrainingBehaviour(ImageVersion(1, 7, 1), "1.7.4", {}, True, _GONE_IN_1_7),
    TrainingBehaviour(ImageVersion(3, 0, 5), "3.0.5", {}, True, _GONE_IN_1_7),
)


def training_behaviour(image: str | None) -> TrainingBehaviour:
    """The row for an image URI; the newest for an unversioned or unknown image."""
    version = parse_image(image).version if image else None
    if version is None:
        return BEHAVIOURS[-1]
    rows = [row for row in BEHAVIOURS if row.since <= version]
    return rows[-1] if rows else BEHAVIOURS[0]


def default_eval_metric(behaviour: TrainingBehaviour, params: Mapping[str, object]) -> list[str]:
    """The eval_metric to ask for when the job named none: the image's XGBoost default."""
    if params.get("eval_metric"):
        return []
    metric = behaviour.default_metrics.get(str(params.get("objective", "reg:squarederror")))
    return [metric] if metric else []
