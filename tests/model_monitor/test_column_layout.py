"""A baseline whose columns do not line up with the captured rows is explained in plain words.

A captured CSV row is the model's output followed by the inputs; a baseline of the features
alone is one column short, so every check compares a feature with its neighbour. The real
analyzer does not fail: it reports the violations below, which stay exactly as they were
(the golden document is what the code wrote before the explanation was added). smlocal adds
the explanation to the job's log, `smlocal monitor run`'s stderr and the HTML report.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pytest
from monitor_helpers import CAPTURE, capture_record, run_job, violations, write_captures, write_csv

from smlocal.emulator.cli import main
from smlocal.model_monitor import analyze, layout
from smlocal.model_monitor.report import write_report

MESSAGE = (
    "The baseline has 3 columns and the captured rows 4 (the model's output followed by "
    "3 inputs): baseline the training data with the label or prediction column first, as the "
    "captured rows are laid out. Columns are matched by position, so each check compares a "
    "baseline column with the column in its place."
)
# The report has only the files: it knows the column counts, not how a row was captured.
REPORT_MESSAGE = (
    "The baseline has 3 columns and the current data 4 (a captured row is the model's output "
    "followed by the inputs): baseline the training data with the label or prediction column "
    "first, as the captured rows are laid out. Columns are matched by position, so each check "
    "compares a baseline column with the column in its place."
)
# constraint_violations.json as written before the explanation existed (unchanged by it).
VIOLATIONS = [
    {
        "feature_name": "f3",
        "constraint_check_type": "data_type_check",
        "description": "Data type match requirement is not met. Expected data type: Integral, "
        "Expected match: 100.0%. Observed: Only 0.0% of data is Integral.",
    },
    {
        "feature_name": "_c3",
        "constraint_check_type": "extra_column_check",
        "description": "Column _c3 of the current dataset is not in the baseline. "
        "Baseline columns: 3, current dataset columns: 4.",
    },
    {
        "feature_name": "f1",
        "constraint_check_type": "baseline_drift_check",
        "description": "Baseline drift distance: 0.8356832327484501 exceeds threshold: 0.1",
    },
    {
        "feature_name": "f2",
        "constraint_check_type": "baseline_drift_check",
        "description": "Baseline drift distance: 0.8356832327484501 exceeds threshold: 0.1",
    },
]


@dataclass(frozen=True)
class Setup:
    features_alone: Path  # a baseline job's output folder: f1, f2, f3
    label_first: Path  # the same rows with the label first: label, f1, f2, f3
    captures: Path

    def environment(self, baseline: Path, output: Path) -> dict[str, str]:
        return {
            "dataset_source": str(self.captures),
            "dataset_format": CAPTURE,
            "output_path": str(output),
            "baseline_statistics": str(baseline / "statistics.json"),
            "baseline_constraints": str(baseline / "constraints.json"),
        }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """Training rows (the features, and with a label first) and captures of 3 inputs each,
    the first input drifted, with a probability as the output."""
    root = tmp_path_factory.mktemp("layout")
    rng = random.Random(7)
    rows = [
        (round(rng.gauss(50, 10), 3), round(rng.gauss(5, 1), 3), rng.randrange(4))
        for _ in range(300)
    ]
    features = write_csv(root / "features.csv", rows, ("f1", "f2", "f3"))
    assert run_job(features, root / "features-alone").status == "Completed"
    records = []
    for _ in range(200):
        f1, f2, f3 = round(rng.gauss(65, 10), 3), round(rng.gauss(5, 1), 3), rng.randrange(4)
        records.append(capture_record(f"{f1},{f2},{f3}", f"{rng.random():.4f}"))
    write_captures(root / "captures", records, "2022/04/18/00")
    labelled = [(f"{rng.random():.4f}", *row) for row in rows]
    with_label = write_csv(root / "labelled.csv", labelled, ("label", "f1", "f2", "f3"))
    assert run_job(with_label, root / "label-first").status == "Completed"
    return Setup(root / "features-alone", root / "label-first", root / "captures")


def test_the_processing_job_logs_the_explanation_and_keeps_the_violations(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The analyzer container's program, as the emulator's processing job runs it.
    config = tmp_path / "processingjobconfig.json"
    environment = setup.environment(setup.features_alone, tmp_path / "out")
    config.write_text(json.dumps({"Environment": environment}), encoding="utf-8")
    assert analyze.main([str(config), "--message-file", str(tmp_path / "message")]) == 0
    log = capsys.readouterr().out.splitlines()
    warned = [line for line in log if line.endswith(f" WARN  smlocal - {MESSAGE}")]
    assert len(warned) == 1
    # After the analyzer's own "Using baseline columns" line, before the checks.
    names = [line.split(" - ")[0].split()[-1] for line in log]
    order = [names.index(s) for s in ("DataAnalyzer:79", "smlocal", "ConstraintGenerator:61")]
    assert order == sorted(order)
    assert violations(tmp_path / "out") == VIOLATIONS
    assert (tmp_path / "message").read_text() == (
        "CompletedWithViolations: Job completed successfully with 4 violations."
    )


def test_monitor_run_warns_on_stderr(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = setup.features_alone
    args = ["monitor", "run", str(setup.captures), "--output", str(tmp_path / "out")]
    args += ["--baseline-statistics", str(baseline / "statistics.json")]
    args += ["--baseline-constraints", str(baseline / "constraints.json")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.err == f"warning: {MESSAGE}\n"
    assert MESSAGE not in captured.out
    assert "_c3: extra_column_check" in captured.out
    assert violations(tmp_path / "out") == VIOLATIONS


def test_the_report_shows_the_explanation(setup: Setup, tmp_path: Path) -> None:
    from smlocal.model_monitor.job import run_analysis

    result = run_analysis(setup.environment(setup.features_alone, tmp_path / "out"))
    assert result.warnings == (MESSAGE,)
    page = write_report(
        tmp_path / "out",
        setup.features_alone / "statistics.json",
        tmp_path / "report.html",
        baseline_constraints=setup.features_alone / "constraints.json",
    ).read_text(encoding="utf-8")
    assert f'<p class="warning" role="note">⚠ {escape(REPORT_MESSAGE)}</p>' in page
    assert page.index('class="warning"') < page.index('id="violations"')


def test_a_baseline_with_the_label_first_gets_no_explanation(setup: Setup, tmp_path: Path) -> None:
    from smlocal.model_monitor.job import run_analysis

    logs: list[str] = []
    result = run_analysis(setup.environment(setup.label_first, tmp_path / "out"), log=logs.append)
    assert result.warnings == ()
    assert not [line for line in logs if " smlocal - " in line]
    assert not [
        v for v in violations(tmp_path / "out") if "column_check" in v["constraint_check_type"]
    ]
    page = write_report(
        tmp_path / "out", setup.label_first / "statistics.json", tmp_path / "report.html"
    ).read_text(encoding="utf-8")
    assert 'class="warning"' not in page


def test_the_explanation_follows_the_layout() -> None:
    position = layout.BY_POSITION
    assert layout.mismatch(4, 4, kind=layout.CAPTURED, outputs=1) is None
    assert layout.mismatch(3, 5, kind=layout.CAPTURED, outputs=2) == (
        "The baseline has 3 columns and the captured rows 5 (the model's output, 2 columns, "
        f"followed by 3 inputs): {layout.ADVICE}. {position}"
    )
    assert layout.mismatch(4, 3, kind=layout.CAPTURED, outputs=0) == (
        "The baseline has 4 columns and the captured rows 3 (3 inputs; the output is not "
        "captured): baseline the inputs alone, as the captured rows are laid out. " + position
    )
    assert layout.mismatch(3, 4, kind=layout.DATASET) == (
        f"The baseline has 3 columns and the dataset 4. {position}"
    )
    assert layout.mismatch(3, 4, kind=layout.PREPROCESSED) == (
        f"The baseline has 3 columns and the rows of the record preprocessor 4. {position}"
    )
