"""Model-quality metrics, as the analyzer's `statistics.json` holds them, with scikit-learn.

One function per problem type turns (labels, predictions[, scores]) into the metrics section
of the statistics file, its keys in the order the real files list them:
`binary_classification_metrics`, `multiclass_classification_metrics`, `regression_metrics`.
Each scalar metric is `{"value", "standard_deviation"}`. Like Model Monitor, the standard
deviation is only computed from 200 samples up: the sample standard deviation of the metric
over five random samples of about 80% of the records (seeded, so a job is reproducible),
else "NaN". The "best constant classifier" predicts the
most frequent true label for every record (its ties broken by the smaller label).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MIN_FOR_DEVIATION = 200
SAMPLES, SAMPLE_FRACTION, SEED = 5, 0.8, 0
MAX_CURVE_POINTS = 1000
BINARY, MULTICLASS, REGRESSION = (
    "BinaryClassification",
    "MulticlassClassification",
    "Regression",
)
SECTIONS = {
    BINARY: "binary_classification_metrics",
    MULTICLASS: "multiclass_classification_metrics",
    REGRESSION: "regression_metrics",
}
Metric = Callable[[NDArray[Any], NDArray[Any], NDArray[Any]], float]


@dataclass(frozen=True)
class Labelled:
    """The merged records: true labels, predicted labels and (binary) positive scores."""

    truth: NDArray[Any]
    predicted: NDArray[Any]
    scores: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.truth)


def _measure(metric: Metric, data: Labelled) -> dict[str, Any]:
    """`{"value", "standard_deviation"}` of one metric."""
    scores = data.predicted if data.scores is None else data.scores
    value = metric(data.truth, data.predicted, scores)
    deviation: float | str = "NaN"
    count = len(data)
    if count >= MIN_FOR_DEVIATION:
        rng = np.random.default_rng(SEED)
        values = []
        for _ in range(SAMPLES):
            pick = rng.random(count) < SAMPLE_FRACTION  # each record kept with p=0.8, as Spark
            values.append(metric(data.truth[pick], data.predicted[pick], scores[pick]))
        finite = [v for v in values if math.isfinite(v)]
        deviation = float(np.std(finite, ddof=1)) if len(finite) == SAMPLES else "NaN"
    return {"value": _number(value), "standard_deviation": deviation}


def _number(value: float) -> float | str:
    return float(value) if math.isfinite(value) else "NaN"


def _majority(truth: NDArray[Any]) -> Any:
    values, counts = np.unique(truth, return_counts=True)
    return values[int(np.argmax(counts))]


def _constant(metric: Metric) -> Metric:
    """The metric of the best constant classifier: the majority label everywhere."""

    def constant(truth: NDArray[Any], _: NDArray[Any], scores: NDArray[Any]) -> float:
        guess = np.full(len(truth), _majority(truth), dtype=truth.dtype)
        return metric(truth, guess, guess)

    return constant


def confusion_matrix(truth: NDArray[Any], predicted: NDArray[Any]) -> dict[str, dict[str, int]]:
    """`{actual: {predicted: count}}` over every label seen on either side."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    labels = np.unique(np.concatenate([truth, predicted]))
    counts = sk_confusion(truth, predicted, labels=labels)
    names = [label_text(label) for label in labels]
    return {
        actual: {name: int(count) for name, count in zip(names, row, strict=True)}
        for actual, row in zip(names, counts, strict=True)
    }


def label_text(label: Any) -> str:
    """A label as the confusion matrix names it: `1` for 1.0, else as given."""
    if isinstance(label, float | np.floating) and float(label).is_integer():
        return str(int(label))
    return str(label)


def _rates(truth: NDArray[Any], predicted: NDArray[Any]) -> tuple[float, float, float, float]:
    """(tp, fn, tn, fp) of the positive label 1."""
    actual, guess = truth == 1, predicted == 1
    return (
        float(np.sum(actual & guess)),
        float(np.sum(actual & ~guess)),
        float(np.sum(~actual & ~guess)),
        float(np.sum(~actual & guess)),
    )


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else math.nan


def _binary_metrics() -> dict[str, Metric]:
    from sklearn import metrics as sk

    def rate(pick: Callable[[float, float, float, float], float]) -> Metric:
        return lambda t, p, _: pick(*_rates(t, p))

    labels = {"labels": [0.0, 1.0], "pos_label": 1.0, "zero_division": 0.0}  # one label seen

    def fbeta(beta: float) -> Metric:
        return lambda t, p, _: float(sk.fbeta_score(t, p, beta=beta, **labels))

    def auc(t: NDArray[Any], _: NDArray[Any], s: NDArray[Any]) -> float:
        return float(sk.roc_auc_score(t, s)) if len(np.unique(t)) == 2 else math.nan

    return {
        "recall": lambda t, p, _: float(sk.recall_score(t, p, **labels)),
        "precision": lambda t, p, _: float(sk.precision_score(t, p, **labels)),
        "accuracy": lambda t, p, _: float(sk.accuracy_score(t, p)),
        "true_positive_rate": rate(lambda tp, fn, tn, fp: _ratio(tp, tp + fn)),
        "true_negative_rate": rate(lambda tp, fn, tn, fp: _ratio(tn, tn + fp)),
        "false_positive_rate": rate(lambda tp, fn, tn, fp: _ratio(fp, fp + tn)),
        "false_negative_rate": rate(lambda tp, fn, tn, fp: _ratio(fn, fn + tp)),
        "auc": auc,
        "f0_5": fbeta(0.5),
        "f1": fbeta(1.0),
        "f2": fbeta(2.0),
    }


BINARY_ORDER = (
    "recall", "precision", "accuracy", "recall_best_constant_classifier",
    "precision_best_constant_classifier", "accuracy_best_constant_classifier",
    "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
    "receiver_operating_characteristic_curve", "precision_recall_curve", "auc", "f0_5", "f1",
    "f2", "f0_5_best_constant_classifier", "f1_best_constant_classifier",
    "f2_best_constant_classifier",
)  # fmt: skip


def binary_classification(data: Labelled) -> dict[str, Any]:
    """`binary_classification_metrics` (labels 0/1; scores are P(label 1))."""
    metrics = _binary_metrics()
    constants = ("recall", "precision", "accuracy", "f0_5", "f1", "f2")
    metrics.update({f"{n}_best_constant_classifier": _constant(metrics[n]) for n in constants})
    section: dict[str, Any] = {"confusion_matrix": confusion_matrix(data.truth, data.predicted)}
    scores = data.predicted.astype(np.float64) if data.scores is None else data.scores
    curves = curve_points(data.truth, scores)
    for name in BINARY_ORDER:
        section[name] = curves[name] if name in curves else _measure(metrics[name], data)
    return section


def curve_points(truth: NDArray[Any], scores: NDArray[np.float64]) -> dict[str, Any]:
    """The ROC and precision-recall curves: one point per distinct score, highest first (at
    most MAX_CURVE_POINTS, evenly picked), ROC from (0, 0) to (1, 1), PR from recall 0."""
    from sklearn.metrics import roc_curve

    if len(np.unique(truth)) < 2:
        empty: dict[str, list[float]] = {}
        return {
            "receiver_operating_characteristic_curve": empty
            | {"false_positive_rates": [], "true_positive_rates": []},
            "precision_recall_curve": empty | {"precisions": [], "recalls": []},
        }
    fpr, tpr, _ = roc_curve(truth, scores, drop_intermediate=False)
    positives = float(np.sum(truth == 1))
    true_positives, false_positives = tpr[1:] * positives, fpr[1:] * (len(truth) - positives)
    precision = true_positives / (true_positives + false_positives)
    precision, recall = np.r_[precision[:1], precision], np.r_[0.0, tpr[1:]]
    return {
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": _thin(np.r_[fpr, 1.0]),
            "true_positive_rates": _thin(np.r_[tpr, 1.0]),
        },
        "precision_recall_curve": {"precisions": _thin(precision), "recalls": _thin(recall)},
    }


def _thin(values: NDArray[Any]) -> list[float]:
    if len(values) > MAX_CURVE_POINTS:
        keep = np.linspace(0, len(values) - 1, MAX_CURVE_POINTS).round().astype(int)
        values = values[keep]
    return [float(v) for v in values]


MULTICLASS_ORDER = (
    "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1",
    "weighted_f2",
)  # fmt: skip


def _multiclass_metrics() -> dict[str, Metric]:
    from sklearn import metrics as sk

    def weighted(score: Callable[..., Any], **options: Any) -> Metric:
        def metric(t: NDArray[Any], p: NDArray[Any], _: NDArray[Any]) -> float:
            seen = np.unique(np.concatenate([t, p]))
            return float(score(t, p, labels=seen, average="weighted", zero_division=0.0, **options))

        return metric

    return {
        "accuracy": lambda t, p, _: float(sk.accuracy_score(t, p)),
        "weighted_recall": weighted(sk.recall_score),
        "weighted_precision": weighted(sk.precision_score),
        "weighted_f0_5": weighted(sk.fbeta_score, beta=0.5),
        "weighted_f1": weighted(sk.fbeta_score, beta=1.0),
        "weighted_f2": weighted(sk.fbeta_score, beta=2.0),
    }


def multiclass_classification(data: Labelled) -> dict[str, Any]:
    """`multiclass_classification_metrics` (labels as text)."""
    metrics = _multiclass_metrics()
    section: dict[str, Any] = {"confusion_matrix": confusion_matrix(data.truth, data.predicted)}
    for name in MULTICLASS_ORDER:
        section[name] = _measure(metrics[name], data)
    for name in MULTICLASS_ORDER:
        best = f"{name}_best_constant_classifier"
        section[best] = _measure(_constant(metrics[name]), data)
    return section


def regression(data: Labelled) -> dict[str, Any]:
    """`regression_metrics`: mae, mse, rmse, r2."""
    from sklearn import metrics as sk

    def r2(t: NDArray[Any], p: NDArray[Any], _: NDArray[Any]) -> float:
        return float(sk.r2_score(t, p)) if len(t) > 1 and np.ptp(t) > 0 else math.nan

    metrics: dict[str, Metric] = {
        "mae": lambda t, p, _: float(sk.mean_absolute_error(t, p)),
        "mse": lambda t, p, _: float(sk.mean_squared_error(t, p)),
        "rmse": lambda t, p, _: math.sqrt(float(sk.mean_squared_error(t, p))),
        "r2": r2,
    }
    return {name: _measure(metric, data) for name, metric in metrics.items()}


COMPUTE: dict[str, Callable[[Labelled], dict[str, Any]]] = {
    BINARY: binary_classification,
    MULTICLASS: multiclass_classification,
    REGRESSION: regression,
}


def scalar_metrics(section: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, value, standard deviation) of every scalar metric of a section, in order."""
    return [
        (name, metric["value"], metric["standard_deviation"])
        for name, metric in section.items()
        if isinstance(metric, dict) and "value" in metric
    ]


def metric_names(problem_type: str) -> Sequence[str]:
    """The scalar metrics a problem type's statistics hold."""
    if problem_type == BINARY:
        return [n for n in BINARY_ORDER if not n.endswith("_curve")]
    if problem_type == MULTICLASS:
        return [*MULTICLASS_ORDER, *(f"{n}_best_constant_classifier" for n in MULTICLASS_ORDER)]
    return ["mae", "mse", "rmse", "r2"]
