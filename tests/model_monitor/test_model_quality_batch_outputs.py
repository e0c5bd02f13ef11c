"""Model-quality executions over a batch transform's output records (csv or json
`dataset_format`): the inference id a transform job appends names each record's label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smlocal.model_monitor.contract import dataset_format
from smlocal.model_monitor.job import run_analysis
from smlocal.model_monitor.transform_outputs import inference_id
from tests.model_monitor.test_model_quality_job import label, write

TIME = "2026-03-01T10:00:00Z"


def execution(tmp_path: Path, kind: str, **env: str):
    logs: list[str] = []
    result = run_analysis(
        {
            "dataset_source": str(tmp_path / "input"),
            "ground_truth_source": str(tmp_path / "groundtruth"),
            "output_path": str(tmp_path / "out"),
            "dataset_format": dataset_format(kind, header=False),
            "analysis_type": "MODEL_QUALITY",
            "problem_type": "BinaryClassification",
            **env,
        },
        log=logs.append,
    )
    return result, logs


def test_json_output_records_by_sagemaker_inference_id(tmp_path: Path) -> None:
    """JSON Lines `.out` files of two jobs (two manifests' folders); the probability by
    JSONPath, the label by threshold; a record without an id has no ground truth."""
    records = [
        {"SageMakerInferenceId": "a", "SageMakerInferenceTime": TIME, "SageMakerOutput": {"score": 0.9}},
        {"SageMakerInferenceId": "b", "SageMakerInferenceTime": TIME, "SageMakerOutput": {"score": 0.3}},
        {"SageMakerOutput": {"score": 0.8}},
    ]  # fmt: skip
    write(tmp_path / "input" / "0" / "rows.jsonl.out", [json.dumps(r) + "\n" for r in records])
    later = {"SageMakerInferenceId": "c", "SageMakerInferenceTime": TIME, "SageMakerOutput": {"score": 0.6}}  # fmt: skip
    write(tmp_path / "input" / "1" / "rows.jsonl.out", [json.dumps(later) + "\n"])
    write(tmp_path / "groundtruth" / "2026/03/01/10" / "gt.jsonl",
          [label("a", 1), label("b", 1), label("c", 0), label("zzz", 1)])  # fmt: skip
    result, logs = execution(
        tmp_path, "json", probability_attribute="$.SageMakerOutput.score",
        probability_threshold_attribute="0.5",
    )  # fmt: skip
    assert result.status == "Completed", result.message
    metrics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    section = metrics["binary_classification_metrics"]
    # a: 0.9 -> 1, label 1 (tp); b: 0.3 -> 0, label 1 (fn); c: 0.6 -> 1, label 0 (fp)
    assert section["confusion_matrix"] == {"0": {"0": 0, "1": 1}, "1": {"0": 1, "1": 1}}
    assert section["accuracy"]["value"] == pytest.approx(1 / 3)
    assert any(
        "Merged 3 of 4 captured records with ground truth: 1 captured records have no ground "
        "truth, 1 ground truth records match no captured record" in line
        for line in logs
    )


def test_csv_output_records_the_id_is_the_last_but_one_column(tmp_path: Path) -> None:
    lines = [
        '"x, quoted",1.0,0.8,id-1,2026-03-01T10:00:00Z\n',  # a joined input column with a comma
        "y,0.0,0.1,id-2,2026-03-01T10:00:00Z\n",
        "\n",
        "z,1.0,0.7,id-3,2026-03-01T10:00:00Z\n",
    ]
    write(tmp_path / "input" / "0" / "rows.csv.out", lines)
    write(tmp_path / "groundtruth" / "2026/03/01/10" / "gt.jsonl",
          [label("id-1", 1), label("id-2", 1), label("id-3", 1)])  # fmt: skip
    result, _ = execution(tmp_path, "csv", inference_attribute="1", probability_attribute="2")
    assert result.status == "Completed", result.message
    section = json.loads((tmp_path / "out" / "statistics.json").read_text())[
        "binary_classification_metrics"
    ]
    assert section["recall"]["value"] == pytest.approx(2 / 3)
    assert section["precision"]["value"] == 1.0


def test_inference_ids_of_records() -> None:
    assert inference_id("1,2,abc,2026-03-01T10:00:00Z", is_csv=True) == "abc"
    assert inference_id("1", is_csv=True) is None
    assert inference_id('{"SageMakerInferenceId": "q", "x": 1}', is_csv=False) == "q"
    assert inference_id("[1, 2]", is_csv=False) is None
    assert inference_id("not json", is_csv=False) is None


def test_an_attribute_past_the_last_column_names_the_output_record(tmp_path: Path) -> None:
    write(tmp_path / "input" / "0" / "rows.csv.out", ["0.8,id-1,2026-03-01T10:00:00Z\n"])
    write(tmp_path / "groundtruth" / "2026/03/01/10" / "gt.jsonl", [label("id-1", 1)])
    result, _ = execution(tmp_path, "csv", probability_attribute="69")
    assert result.status == "Failed"
    assert "Merged record 1 (transform output record): has 3 columns, no column 69" in (
        result.message
    )
