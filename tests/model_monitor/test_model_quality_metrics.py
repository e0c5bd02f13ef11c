"""Model-quality metrics, constraints and violations against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smlocal.model_monitor.quality_constraints import camel, check, cloudwatch_metrics, suggest
from smlocal.model_monitor.quality_metrics import (
    BINARY,
    MULTICLASS,
    REGRESSION,
    Labelled,
    binary_classification,
    multiclass_classification,
    regression,
)

# 8 records: tp 3 (0, 2, 7), fn 1 (1), fp 2 (4, 5), tn 2 (3, 6)
TRUTH = [1, 1, 1, 0, 0, 0, 0, 1]
PREDICTED = [1, 0, 1, 0, 1, 1, 0, 1]
SCORES = [0.9, 0.4, 0.8, 0.1, 0.7, 0.2, 0.3, 0.6]


def binary() -> dict:
    return binary_classification(
        Labelled(np.array(TRUTH, float), np.array(PREDICTED, float), np.array(SCORES))
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("recall", 3 / 4),
        ("precision", 3 / 5),
        ("accuracy", 5 / 8),
        ("true_positive_rate", 3 / 4),
        ("true_negative_rate", 2 / 4),
        ("false_positive_rate", 2 / 4),
        ("false_negative_rate", 1 / 4),
        # 14 of the 16 (positive, negative) pairs are ordered by the scores
        ("auc", 14 / 16),
        # F-beta = (1 + b^2) p r / (b^2 p + r) with p = 0.6, r = 0.75
        ("f0_5", 1.25 * 0.45 / (0.25 * 0.6 + 0.75)),
        ("f1", 2 / 3),
        ("f2", 5 * 0.45 / (4 * 0.6 + 0.75)),
        # 4 positives and 4 negatives: the constant classifier says the smaller label, 0
        ("recall_best_constant_classifier", 0.0),
        ("precision_best_constant_classifier", 0.0),
        ("accuracy_best_constant_classifier", 0.5),
        ("f0_5_best_constant_classifier", 0.0),
        ("f1_best_constant_classifier", 0.0),
        ("f2_best_constant_classifier", 0.0),
    ],
)
def test_binary_metrics(metric: str, expected: float) -> None:
    found = binary()[metric]
    assert found["value"] == pytest.approx(expected)
    assert found["standard_deviation"] == "NaN"  # fewer than 200 records


def test_binary_confusion_matrix_and_curves() -> None:
    section = binary()
    assert section["confusion_matrix"] == {"0": {"0": 2, "1": 2}, "1": {"0": 1, "1": 3}}
    # scores high to low: P P N P P N N N
    roc = section["receiver_operating_characteristic_curve"]
    assert roc["false_positive_rates"] == [0, 0, 0, 0.25, 0.25, 0.25, 0.5, 0.75, 1, 1]
    assert roc["true_positive_rates"] == [0, 0.25, 0.5, 0.5, 0.75, 1, 1, 1, 1, 1]
    pr = section["precision_recall_curve"]
    assert pr["recalls"] == [0, 0.25, 0.5, 0.5, 0.75, 1, 1, 1, 1]
    assert pr["precisions"] == pytest.approx([1, 1, 1, 2 / 3, 3 / 4, 4 / 5, 4 / 6, 4 / 7, 4 / 8])
    assert list(section) == [
        "confusion_matrix", "recall", "precision", "accuracy", "recall_best_constant_classifier",
        "precision_best_constant_classifier", "accuracy_best_constant_classifier",
        "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
        "receiver_operating_characteristic_curve", "precision_recall_curve", "auc", "f0_5", "f1",
        "f2", "f0_5_best_constant_classifier", "f1_best_constant_classifier",
        "f2_best_constant_classifier",
    ]  # fmt: skip


def test_standard_deviation_from_200_records() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 2, 400).astype(float)
    noisy = np.where(rng.random(400) < 0.8, truth, 1 - truth)
    section = binary_classification(Labelled(truth, noisy))
    assert 0 < section["accuracy"]["standard_deviation"] < 0.05
    perfect = binary_classification(Labelled(truth, truth.copy()))
    assert (perfect["accuracy"]["value"], perfect["accuracy"]["standard_deviation"]) == (1.0, 0.0)
    again = binary_classification(Labelled(truth, noisy))
    assert again["accuracy"] == section["accuracy"]  # seeded: a job is reproducible


def test_multiclass_metrics() -> None:
    truth = np.array(list("aabbcc"), dtype=object)
    predicted = np.array(list("abbbca"), dtype=object)
    section = multiclass_classification(Labelled(truth, predicted))
    assert section["confusion_matrix"] == {
        "a": {"a": 1, "b": 1, "c": 0},
        "b": {"a": 0, "b": 2, "c": 0},
        "c": {"a": 1, "b": 0, "c": 1},
    }
    # per class (precision, recall): a (1/2, 1/2), b (2/3, 1), c (1, 1/2); 2 records each
    f = {beta: [(1 + beta**2) * p * r / (beta**2 * p + r) for p, r in
                ((0.5, 0.5), (2 / 3, 1.0), (1.0, 0.5))] for beta in (0.5, 1.0, 2.0)}  # fmt: skip
    expected = {
        "accuracy": 4 / 6,
        "weighted_recall": (0.5 + 1 + 0.5) / 3,
        "weighted_precision": (0.5 + 2 / 3 + 1) / 3,
        "weighted_f0_5": sum(f[0.5]) / 3,
        "weighted_f1": sum(f[1.0]) / 3,
        "weighted_f2": sum(f[2.0]) / 3,
        # a tie of three labels: the constant classifier says "a"
        "accuracy_best_constant_classifier": 1 / 3,
        "weighted_recall_best_constant_classifier": 1 / 3,
        "weighted_precision_best_constant_classifier": (2 / 6) / 3,
        "weighted_f1_best_constant_classifier": (2 * (1 / 3) / (4 / 3)) / 3,
    }
    for metric, value in expected.items():
        assert section[metric]["value"] == pytest.approx(value), metric


def test_regression_metrics() -> None:
    section = regression(Labelled(np.array([1.0, 2, 3, 4]), np.array([1.5, 2, 2, 5])))
    values = {name: metric["value"] for name, metric in section.items()}
    # errors 0.5, 0, -1, 1; the truth's mean 2.5, total sum of squares 5
    assert values == pytest.approx({"mae": 0.625, "mse": 0.5625, "rmse": 0.75, "r2": 0.55})
    assert list(values) == ["mae", "mse", "rmse", "r2"]


def test_suggested_constraints_and_violations_in_the_real_wording() -> None:
    metrics = binary()
    constraints = suggest(BINARY, metrics)
    section = constraints["binary_classification_constraints"]
    assert constraints["version"] == 0.0
    assert list(section) == [
        "recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate",
        "false_positive_rate", "false_negative_rate", "auc", "f0_5", "f1", "f2",
    ]  # fmt: skip
    assert section["false_positive_rate"] == {
        "threshold": 0.5,
        "comparison_operator": "GreaterThanThreshold",
    }
    assert section["recall"] == {"threshold": 0.75, "comparison_operator": "LessThanThreshold"}
    assert check(BINARY, metrics, constraints) == []  # a baseline does not violate itself
    stricter = {"binary_classification_constraints": {
        "f2": {"threshold": 0.8, "comparison_operator": "LessThanThreshold"},
        "recall": {"threshold": 0.75, "comparison_operator": "LessThanOrEqualToThreshold"},
        "false_positive_rate": {"threshold": 0.25, "comparison_operator": "GreaterThanThreshold"},
        "accuracy": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"},
    }}  # fmt: skip
    f2 = metrics["f2"]["value"]
    assert check(BINARY, metrics, stricter) == [
        {
            "constraint_check_type": "GreaterThanThreshold",
            "description": "Metric falsePositiveRate with 0.5 +/- NaN was GreaterThanThreshold '0.25'",
            "metric_name": "falsePositiveRate",
        },
        {
            "constraint_check_type": "LessThanOrEqualToThreshold",
            "description": "Metric recall with 0.75 +/- NaN was LessThanOrEqualToThreshold '0.75'",
            "metric_name": "recall",
        },
        {
            "constraint_check_type": "LessThanThreshold",
            "description": f"Metric f2 with {f2!r} +/- NaN was LessThanThreshold '0.8'",
            "metric_name": "f2",
        },
    ]
    assert camel("weighted_f0_5") == "weightedF0_5"


def test_regression_and_multiclass_constraints() -> None:
    section = regression(Labelled(np.array([1.0, 2, 3, 4]), np.array([1.5, 2, 2, 5])))
    constraints = suggest(REGRESSION, section)["regression_constraints"]
    assert {n: c["comparison_operator"] for n, c in constraints.items()} == {
        "mae": "GreaterThanThreshold", "mse": "GreaterThanThreshold",
        "rmse": "GreaterThanThreshold", "r2": "LessThanThreshold",
    }  # fmt: skip
    worse = regression(Labelled(np.array([1.0, 2, 3, 4]), np.array([3.0, 2, 2, 5])))
    names = [
        v["metric_name"] for v in check(REGRESSION, worse, {"regression_constraints": constraints})
    ]
    assert names == ["mae", "mse", "rmse", "r2"]
    multi = multiclass_classification(
        Labelled(np.array(list("ab"), object), np.array(list("ab"), object))
    )
    assert list(suggest(MULTICLASS, multi)["multiclass_classification_constraints"]) == [
        "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1",
        "weighted_f2",
    ]  # fmt: skip


def test_cloudwatch_metrics_skip_what_was_not_computed() -> None:
    from datetime import UTC, datetime

    section = regression(Labelled(np.array([2.0, 2.0]), np.array([1.0, 3.0])))
    assert math.isnan(float(section["r2"]["value"]))  # "NaN": the truth does not vary
    records = cloudwatch_metrics(
        section, timestamp=datetime(2026, 1, 1, tzinfo=UTC), endpoint="ep", schedule="s"
    )
    assert [(r.metric_name, r.value, r.namespace) for r in records] == [
        ("mae", 1.0, "aws/sagemaker/Endpoints/model-metrics"),
        ("mse", 1.0, "aws/sagemaker/Endpoints/model-metrics"),
        ("rmse", 1.0, "aws/sagemaker/Endpoints/model-metrics"),
    ]
    assert records[0].dimensions == (("Endpoint", "ep"), ("MonitoringSchedule", "s"))
