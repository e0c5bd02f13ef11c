"""Model-quality jobs of the analyzer: a baseline on the notebook's real data, and
executions merging captures with ground truth (late, missing and duplicate labels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smlocal.model_monitor.job import run_analysis

DATA = Path(__file__).parent / "data"
CSV_HEADER = json.dumps({"csv": {"header": True, "output_columns_position": "START"}})
CAPTURE = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)
HOUR = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_the_notebook_baseline_gives_the_real_analyzer_values(tmp_path: Path) -> None:
    result = run_analysis({
        "dataset_source": str(DATA / "churn-validation_with_predictions.csv"),
        "output_path": str(tmp_path), "dataset_format": CSV_HEADER,
        "analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification",
        "inference_attribute": "prediction", "probability_attribute": "probability",
        "ground_truth_attribute": "label",
    })  # fmt: skip
    assert (result.status, result.message) == (
        "Completed",
        "Completed: Job completed successfully with no violations.",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["constraints.json", "statistics.json"]
    statistics = json.loads((tmp_path / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 201
    metrics = statistics["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}}
    printed = {  # as the notebook's saved output prints them
        "recall": 0.571429, "precision": 1, "accuracy": 0.940299, "auc": 0.939513,
        "recall_best_constant_classifier": 0, "accuracy_best_constant_classifier": 0.860697,
        "true_negative_rate": 1, "false_positive_rate": 0, "false_negative_rate": 0.428571,
        "f0_5": 0.869565, "f1": 0.727273, "f2": 0.625, "f2_best_constant_classifier": 0,
    }  # fmt: skip
    for name, value in printed.items():
        assert metrics[name]["value"] == pytest.approx(value, abs=5e-7), name
        assert isinstance(metrics[name]["standard_deviation"], float)  # 201 >= 200 records
    roc = metrics["receiver_operating_characteristic_curve"]["true_positive_rates"]
    assert roc[:3] == [0.0, 0.03571428571428571, 0.07142857142857142]  # as printed: 1/28 steps
    constraints = json.loads((tmp_path / "constraints.json").read_text())
    f2 = constraints["binary_classification_constraints"]["f2"]
    assert f2 == {"threshold": 0.625, "comparison_operator": "LessThanThreshold"}


def capture(moment: datetime, number: int, probability: float, inference_id: bool = True) -> str:
    metadata = {"eventId": f"event-{number}", "inferenceTime": f"{moment:%Y-%m-%dT%H:%M:%SZ}"}
    if inference_id:
        metadata["inferenceId"] = str(number)
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                               "data": f"{probability}", "encoding": "CSV"},
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }  # fmt: skip
    return json.dumps(record) + "\n"


def label(event_id: str, value: int) -> str:
    record = {
        "groundTruthData": {"data": str(value), "encoding": "CSV"},
        "eventMetadata": {"eventId": event_id},
        "eventVersion": "0",
    }
    return json.dumps(record) + "\n"


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


def execution(tmp_path: Path, **env: str):
    logs: list[str] = []
    result = run_analysis(
        {
            "dataset_source": str(tmp_path / "captures"),
            "ground_truth_source": str(tmp_path / "groundtruth"),
            "output_path": str(tmp_path / "out"),
            "dataset_format": CAPTURE,
            "analysis_type": "MODEL_QUALITY",
            "problem_type": "BinaryClassification",
            "probability_attribute": "0",
            "probability_threshold_attribute": "0.5",
            "start_time": f"{HOUR:%Y-%m-%dT%H:%M:%SZ}",
            "end_time": f"{HOUR + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
            **env,
        },
        log=logs.append,
    )
    return result, logs


def test_an_execution_merges_labels_by_inference_id_then_event_id(tmp_path: Path) -> None:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    write(folder / "00-00-000-a.jsonl", [
        capture(HOUR + timedelta(minutes=1), 1, 0.9),  # label 1: tp
        capture(HOUR + timedelta(minutes=2), 2, 0.2),  # label 1 then 0 (duplicate): tn
        capture(HOUR + timedelta(minutes=3), 3, 0.7, inference_id=False),  # by eventId: fp
        capture(HOUR + timedelta(minutes=4), 4, 0.1),  # no label: missing
        capture(HOUR + timedelta(minutes=5), 5, 0.6),  # its label arrived late: not here
        capture(HOUR - timedelta(minutes=5), 6, 0.6),  # before the window
    ])  # fmt: skip
    labels = tmp_path / "groundtruth" / f"{HOUR:%Y/%m/%d/%H}"
    write(labels / "1500.jsonl", [label("1", 1), label("2", 1), label("event-3", 0)])
    write(labels / "3000.jsonl", [label("2", 0), label("99", 1)])  # 2 relabelled; 99 unknown
    # a late label sits in a later hour folder, which the execution does not download (the
    # emulator gives it the window's hour folders only): here it is simply not there
    baseline = tmp_path / "constraints.json"
    baseline.write_text(json.dumps({"binary_classification_constraints": {
        "precision": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"},
        "recall": {"threshold": 1.0, "comparison_operator": "LessThanThreshold"},
    }}))  # fmt: skip
    result, logs = execution(tmp_path, baseline_constraints=str(baseline))
    assert (result.status, result.message) == (
        "CompletedWithViolations",
        "CompletedWithViolations: Job completed successfully with 1 violations.",
    )
    assert any(
        "Merged 3 of 5 captured records with ground truth: 2 captured records have no ground "
        "truth, 1 ground truth records match no captured record, 1 ground truth records were "
        "replaced by a later one with the same eventId" in line
        for line in logs
    )
    out = tmp_path / "out"
    metrics = json.loads((out / "statistics.json").read_text())["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 1}}
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert violations == [{
        "constraint_check_type": "LessThanThreshold",
        "description": "Metric precision with 0.5 +/- NaN was LessThanThreshold '0.9'",
        "metric_name": "precision",
    }]  # fmt: skip


def test_an_execution_without_any_label_fails_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    write(folder / "00-00-000-a.jsonl", [capture(HOUR + timedelta(minutes=1), 1, 0.9)])
    result, _ = execution(tmp_path)
    assert result.status == "Failed"
    assert result.message.startswith(
        "Job inputs had no data: none of the 1 captured records of the window has ground truth"
    )
    assert not (tmp_path / "out" / "statistics.json").exists()


def test_json_outputs_and_labels_by_jsonpath_multiclass(tmp_path: Path) -> None:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    lines = []
    for number, (predicted, actual) in enumerate([("cat", "cat"), ("dog", "cat"), ("dog", "dog")]):
        record = json.loads(capture(HOUR + timedelta(minutes=1), number, 0.0))
        record["captureData"]["endpointOutput"].update(
            data=json.dumps({"predictions": [{"label": predicted}]}), encoding="JSON"
        )
        lines.append(json.dumps(record) + "\n")
        write(tmp_path / "groundtruth" / f"{HOUR:%Y/%m/%d/%H}" / f"{number}.jsonl", [json.dumps({
            "groundTruthData": {"data": json.dumps(actual), "encoding": "JSON"},
            "eventMetadata": {"eventId": str(number)}, "eventVersion": "0"}) + "\n"])  # fmt: skip
    write(folder / "00-00-000-a.jsonl", lines)
    result, _ = execution(
        tmp_path,
        problem_type="MulticlassClassification",
        inference_attribute="$.predictions[0].label",
        probability_attribute="",
    )
    assert result.status == "Completed", result.message
    metrics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    section = metrics["multiclass_classification_metrics"]
    assert section["confusion_matrix"] == {"cat": {"cat": 1, "dog": 1}, "dog": {"cat": 0, "dog": 1}}
    assert section["accuracy"]["value"] == pytest.approx(2 / 3)


def test_a_regression_baseline_and_a_missing_problem_type(tmp_path: Path) -> None:
    dataset = tmp_path / "data.csv"
    dataset.write_text("y,yhat\n1,1.5\n2,2\n3,2\n4,5\n")
    env = {"dataset_source": str(dataset), "output_path": str(tmp_path / "out"),
           "dataset_format": CSV_HEADER, "analysis_type": "MODEL_QUALITY",
           "inference_attribute": "yhat", "ground_truth_attribute": "y"}  # fmt: skip
    failed = run_analysis(env)
    assert (failed.status, failed.message) == (
        "Failed",
        "problem_type='': a model quality job needs problem_type BinaryClassification, "
        "MulticlassClassification, Regression",
    )
    result = run_analysis({**env, "problem_type": "Regression"})
    assert result.status == "Completed", result.message
    statistics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    assert statistics["regression_metrics"]["rmse"]["value"] == pytest.approx(0.75)


def test_a_json_lines_baseline_by_jsonpath(tmp_path: Path) -> None:
    dataset = tmp_path / "data.jsonl"
    rows = [({"score": 0.9}, 1), ({"score": 0.2}, 0), ({"score": 0.6}, 0), ({"score": 0.4}, 1)]
    dataset.write_text("".join(json.dumps({"output": o, "label": y}) + "\n" for o, y in rows))
    result = run_analysis({
        "dataset_source": str(dataset), "output_path": str(tmp_path / "out"),
        "dataset_format": json.dumps({"json": {"lines": True}}), "analysis_type": "MODEL_QUALITY",
        "problem_type": "BinaryClassification", "probability_attribute": "$.output.score",
        "probability_threshold_attribute": "0.5", "ground_truth_attribute": "label",
    })  # fmt: skip
    assert result.status == "Completed", result.message
    metrics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    section = metrics["binary_classification_metrics"]
    # predicted 1 for 0.9 and 0.6 (at least the threshold): tp 1, fp 1, fn 1, tn 1
    assert section["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 1}}
    assert section["auc"]["value"] == 0.75  # 3 of the 4 (positive, negative) pairs ordered


def test_data_quality_constraints_given_to_a_model_quality_execution(tmp_path: Path) -> None:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    write(folder / "00-00-000-a.jsonl", [capture(HOUR + timedelta(minutes=1), 1, 0.9)])
    write(tmp_path / "groundtruth" / f"{HOUR:%Y/%m/%d/%H}" / "0.jsonl", [label("1", 1)])
    wrong = tmp_path / "constraints.json"
    wrong.write_text(json.dumps({"version": 0.0, "features": []}))
    result, _ = execution(tmp_path, baseline_constraints=str(wrong))
    assert (result.status, result.message) == (
        "Failed",
        "The baseline constraints have no binary_classification_constraints for problem type "
        "BinaryClassification",
    )


def test_a_model_quality_statistics_file_where_data_quality_is_needed() -> None:
    from smlocal.model_monitor.errors import AnalysisError
    from smlocal.model_monitor.statistics import parse_statistics

    document = {"version": 0.0, "regression_metrics": {}}
    with pytest.raises(AnalysisError) as caught:
        parse_statistics(document, "Baseline statistics file s.json")
    assert str(caught.value) == (
        "Baseline statistics file s.json: this is a model-quality statistics file "
        "(regression_metrics); data-quality statistics (with features) are needed here"
    )
