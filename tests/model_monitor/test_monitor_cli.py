"""`smlocal monitor baseline` and `smlocal monitor run`, through the real console entry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from monitor_helpers import CHURN, classic_captures, write_csv

from smlocal.emulator.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_baseline_then_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "train.csv", [(i % 7, i % 11) for i in range(200)], ("a", "b"))
    assert (
        main(["monitor", "baseline", str(tmp_path / "train.csv"), "--output", str(tmp_path / "b")])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("Completed: Job completed successfully with no violations.\n")
    assert f"wrote {tmp_path / 'b' / 'statistics.json'}" in out

    captures = classic_captures(tmp_path / "captures")
    args = [
        "monitor",
        "run",
        str(captures),
        "--baseline-statistics",
        str(tmp_path / "b" / "statistics.json"),
        "--baseline-constraints",
        str(tmp_path / "b" / "constraints.json"),
        "--output",
        str(tmp_path / "r"),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "CompletedWithViolations: Job completed successfully with 1 violations." in out
    assert "b: data_type_check" in out
    assert main([*args, "--fail-on-violations"]) == 3
    capsys.readouterr()
    window = ["--start", "2022-04-18T05:00:00Z", "--end", "2022-04-18T06:00:00Z"]
    assert main([*args, *window]) == 1
    assert "Job inputs had no data" in capsys.readouterr().err


def test_run_needs_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "run", str(tmp_path), "--output", str(tmp_path / "o")]) == 2
    assert "--baseline-statistics" in capsys.readouterr().err


def test_headerless_csv_and_json_formats(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [(1, "x"), (2, "y")])
    assert (
        main(["monitor", "baseline", str(path), "--no-header", "--output", str(tmp_path / "o")])
        == 0
    )
    names = [
        f["name"] for f in json.loads((tmp_path / "o" / "statistics.json").read_text())["features"]
    ]
    assert names == ["_c0", "_c1"]
    (tmp_path / "d.jsonl").write_text('{"k": 1}\n{"k": 2}\n')
    args = ["monitor", "baseline", str(tmp_path / "d.jsonl"), "--format", "json"]
    assert main([*args, "--output", str(tmp_path / "j")]) == 0


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smlocal.emulator.cli",
            "monitor",
            "baseline",
            str(CHURN),
            "--output",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "statistics.json").exists()


def test_progress_bar_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["monitor", "baseline", str(CHURN), "--output", str(tmp_path)]) == 0
    assert "Completed" in capsys.readouterr().out
