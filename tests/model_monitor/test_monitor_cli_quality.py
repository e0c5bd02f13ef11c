"""`smlocal monitor baseline|run --problem-type ...`: model quality on the command line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from smlocal.emulator.cli import main
from tests.model_monitor.test_model_quality_job import HOUR, capture, label, write

LABELS = [1, 1, 0, 0, 1, 0]
SCORES = [0.9, 0.4, 0.2, 0.6, 0.8, 0.1]  # threshold 0.5: tp, fn, tn, fp, tp, tn


@pytest.fixture
def baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A baseline whose labels and predictions all agree: every metric is perfect."""
    rows = "label,prediction,probability\n" + "".join(
        f"{v},{v},{0.9 if v else 0.1}\n" for v in LABELS
    )
    (tmp_path / "validation.csv").write_text(rows)
    args = ["monitor", "baseline", str(tmp_path / "validation.csv"), "--output",
            str(tmp_path / "base"), "--problem-type", "BinaryClassification",
            "--ground-truth-attribute", "label", "--inference-attribute", "prediction",
            "--probability-attribute", "probability"]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("Completed: Job completed successfully")
    constraints = json.loads((tmp_path / "base" / "constraints.json").read_text())
    assert constraints["binary_classification_constraints"]["accuracy"]["threshold"] == 1.0
    return tmp_path / "base" / "constraints.json"


def captures_and_labels(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    lines = [capture(HOUR + timedelta(minutes=n + 1), n, s) for n, s in enumerate(SCORES)]
    write(folder / "00-00-000-a.jsonl", lines)
    truth = tmp_path / "gt"
    write(
        truth / f"{HOUR:%Y/%m/%d/%H}" / "a.jsonl", [label(str(n), v) for n, v in enumerate(LABELS)]
    )
    return tmp_path / "captures", truth


def test_a_run_merges_captures_with_ground_truth_and_checks_the_baseline(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captures, truth = captures_and_labels(tmp_path)
    args = ["monitor", "run", str(captures), "--ground-truth", str(truth),
            "--problem-type", "BinaryClassification", "--probability-attribute", "0",
            "--probability-threshold", "0.5", "--baseline-constraints", str(baseline),
            "--output", str(tmp_path / "run"), "--verbose"]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "Merged 6 of 6 captured records with ground truth" in captured.err
    assert "CompletedWithViolations: Job completed successfully with" in captured.out
    assert "  accuracy: LessThanThreshold\n" in captured.out
    assert "Metric accuracy with 0.666" in captured.out
    metrics = json.loads((tmp_path / "run" / "statistics.json").read_text())[
        "binary_classification_metrics"
    ]
    assert metrics["confusion_matrix"] == {"0": {"0": 2, "1": 1}, "1": {"0": 1, "1": 2}}
    assert main([*args, "--fail-on-violations"]) == 3


def test_a_run_over_batch_transform_outputs(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transform job's `.out` files (inference id and time last), as a CSV dataset."""
    out = "".join(f"5.1,{s},id-{n},2026-03-01T10:00:00Z\n" for n, s in enumerate(SCORES))
    write(tmp_path / "outs" / "rows.csv.out", [out])
    truth = tmp_path / "gt"
    write(truth / "2026/03/01/10" / "a.jsonl", [label(f"id-{n}", v) for n, v in enumerate(LABELS)])
    args = ["monitor", "run", str(tmp_path / "outs"), "--format", "csv", "--no-header",
            "--ground-truth", str(truth), "--problem-type", "BinaryClassification",
            "--probability-attribute", "1", "--output", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 0  # no baseline: statistics only
    assert "Completed: Job completed successfully with no violations." in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "statistics.json").read_text())
    assert metrics["binary_classification_metrics"]["accuracy"]["value"] == pytest.approx(4 / 6)


def test_ground_truth_from_s3(
    smlocal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from smlocal.emulator.pytest_plugin import CREDENTIALS

    for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": smlocal.url}.items():
        monkeypatch.setenv(key, value)
    captures, truth = captures_and_labels(tmp_path)
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="cli-gt")
    for path in truth.rglob("*.jsonl"):
        s3.upload_file(str(path), "cli-gt", f"labels/{path.relative_to(truth)}")
    args = ["monitor", "run", str(captures), "--problem-type", "BinaryClassification",
            "--probability-attribute", "0", "--output", str(tmp_path / "run")]  # fmt: skip
    assert main([*args, "--ground-truth", "s3://cli-gt/labels"]) == 0
    metrics = json.loads((tmp_path / "run" / "statistics.json").read_text())
    assert metrics["dataset"]["item_count"] == 6
    capsys.readouterr()
    assert main([*args, "--ground-truth", "s3://cli-gt/nothing-here"]) == 1
    assert "s3://cli-gt/nothing-here holds no ground truth objects" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--problem-type", "Regression"], "a model-quality run needs --ground-truth"),
        (["--ground-truth", "gt"], "--ground-truth is for model quality: give --problem-type"),
    ],
)
def test_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["monitor", "run", str(tmp_path), "--output", str(tmp_path / "o"), *extra]
    assert main(args) == 2
    assert f"smlocal monitor run: {message}" in capsys.readouterr().err


def test_a_missing_ground_truth_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["monitor", "run", str(tmp_path), "--output", str(tmp_path / "o"),
            "--problem-type", "Regression", "--ground-truth", str(tmp_path / "nowhere")]  # fmt: skip
    assert main(args) == 1
    assert "the ground truth folder" in capsys.readouterr().err


def test_a_report_of_a_model_quality_run(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captures, truth = captures_and_labels(tmp_path)
    run = tmp_path / "ep" / "schedule" / "2026" / "03" / "01" / "10"
    assert main(["monitor", "run", str(captures), "--ground-truth", str(truth),
                 "--problem-type", "BinaryClassification", "--probability-attribute", "0",
                 "--baseline-constraints", str(baseline), "--output", str(run)]) == 0  # fmt: skip
    page_file = tmp_path / "report.html"
    args = ["monitor", "report", str(run), "--baseline-statistics",
            str(baseline.parent / "statistics.json"), "--baseline-constraints", str(baseline),
            "--output", str(page_file)]  # fmt: skip
    assert main(args) == 0
    page = page_file.read_text(encoding="utf-8")
    assert "<title>Model Monitor report: ep / schedule, 2026-03-01 10:00 UTC</title>" in page
    assert "CompletedWithViolations: Job completed successfully with" in page
    assert "<dd>BinaryClassification</dd>" in page
    assert "<dd>6 records</dd>" in page  # baseline and current
    # accuracy: 4 of 6 now, 1 in the baseline, whose constraint it violates
    assert (
        '<tr class="flagged"><td>accuracy</td><td>0.666667 ± NaN</td><td>1</td>'
        "<td>LessThanThreshold 1</td></tr>"
    ) in page
    assert "<td>accuracy</td><td><code>LessThanThreshold</code></td>" in page  # violations
    assert '<h2 id="confusion">Confusion matrix</h2>' in page
    assert "<tr><th scope=row>0</th><td>2</td><td>1</td></tr>" in page
    # without the baseline's files: the execution's own numbers
    assert main(["monitor", "report", str(run), "--output", str(page_file)]) == 0
    assert "<td>accuracy</td><td>0.666667 ± NaN</td><td>—</td><td>— —</td>" in page_file.read_text()
    capsys.readouterr()


def test_a_data_quality_report_still_needs_the_baseline_statistics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "statistics.json").write_text(
        '{"version": 0.0, "dataset": {"item_count": 1}, "features": []}'
    )
    assert (
        main(["monitor", "report", str(tmp_path / "run"), "--output", str(tmp_path / "r.html")])
        == 2
    )
    assert "needs the baseline's statistics.json (--baseline-statistics)" in capsys.readouterr().err
