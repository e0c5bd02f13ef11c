"""Record preprocessor and post-processor scripts, with the real container's contract."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from monitor_helpers import (
    CSV_WITH_HEADER,
    Runner,
    capture_record,
    classic_baseline,
    violations,
    write_captures,
    write_csv,
)

HOUR = "2022/04/18/00"


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_capture_preprocessor_builds_rows_and_drops_records(
    tmp_path: Path, baseline: Runner, monitor: Runner, logs: list[str]
) -> None:
    classic_baseline(tmp_path, baseline)
    records = [capture_record("4", "1", customAttributes=['{"test": "x"}'])]
    # once the handler adds 1 to b, the traffic has the baseline's distribution
    records += [capture_record(str(i % 11 - 1), str(i % 7)) for i in range(200)]
    write_captures(tmp_path / "c", records, HOUR)
    script = _script(
        tmp_path,
        "pre.py",
        """
        import os

        def preprocess_handler(inference_record, logger):
            meta = inference_record.event_metadata
            if meta.custom_attribute:  # test traffic, as in AWS's filtering sample
                logger.info("dropping %s", meta.event_id)
                return []
            inputs = inference_record.endpoint_input.data
            output = inference_record.endpoint_output.data
            assert inference_record.endpoint_input.encoding == "CSV"
            assert os.environ["MY_SETTING"] == "on"
            return {"00": output, "01": int(inputs) + 1}
        """,
    )
    result = monitor(tmp_path / "c", record_preprocessor_script=str(script), MY_SETTING="on")
    assert result.status == "Completed"
    statistics = json.loads((tmp_path / "run" / "statistics.json").read_text(encoding="utf-8"))
    assert statistics["dataset"]["item_count"] == 200
    assert [f["name"] for f in statistics["features"]] == ["a", "b"]  # keys sorted, renamed
    assert any("INFO - preprocessor: dropping " in line for line in logs)


def test_csv_baseline_preprocessor_gets_raw_lines(tmp_path: Path, baseline: Runner) -> None:
    write_csv(tmp_path / "train.csv", [(1, 2), (3, 4)], ("x", "y"))
    script = _script(
        tmp_path,
        "pre.py",
        """
        def preprocess_handler(line):
            assert line.endswith("\\n")
            x, y = line.strip().split(",")
            return {"sum": int(x) + int(y), "x": x}
        """,
    )
    assert baseline(tmp_path / "train.csv", record_preprocessor_script=str(script)).status == (
        "Completed"
    )
    statistics = json.loads((tmp_path / "baseline" / "statistics.json").read_text())
    assert [f["name"] for f in statistics["features"]] == ["sum", "x"]
    assert statistics["features"][0]["numerical_statistics"]["sum"] == 10.0


def test_failing_preprocessor_has_the_real_message_and_writes_nothing(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    write_captures(tmp_path / "c", [capture_record("1", "2")], HOUR)
    script = _script(tmp_path, "pre.py", "def preprocess_handler(record):\n    raise KeyError(1)\n")
    result = monitor(tmp_path / "c", record_preprocessor_script=str(script))
    assert result.status == "Failed"
    assert result.message == (
        "There is an exception raised in preprocessor script. "
        "Please double check the preprocessor script."
    )
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    assert (tmp_path / "message").read_text() == result.message


def test_script_without_handlers(tmp_path: Path, baseline: Runner) -> None:
    write_csv(tmp_path / "train.csv", [(1,)], ("x",))
    script = _script(tmp_path, "nothing.py", "X = 1\n")
    result = baseline(tmp_path / "train.csv", record_preprocessor_script=str(script))
    assert result.message == "Preprocess Handler not implemented correctly in customer script."
    result = baseline(tmp_path / "train.csv", post_analytics_processor_script=str(script))
    assert result.message == (
        "PostProcess Handler not implemented correctly in customer analysis script."
    )


def test_postprocessor_runs_after_outputs_exist(tmp_path: Path, baseline: Runner) -> None:
    write_csv(tmp_path / "train.csv", [(1,)], ("x",))
    out = tmp_path / "baseline"
    script = _script(
        tmp_path,
        "post.py",
        f"""
        from pathlib import Path

        def postprocess_handler():
            seen = sorted(p.name for p in Path({str(out)!r}).iterdir())
            Path({str(tmp_path / "seen.txt")!r}).write_text(",".join(seen))
        """,
    )
    result = baseline(tmp_path / "train.csv", post_analytics_processor_script=str(script))
    assert result.status == "Completed"
    assert (tmp_path / "seen.txt").read_text() == "constraints.json,statistics.json"


def test_json_lines_baseline_sorts_keys_into_columns(tmp_path: Path, baseline: Runner) -> None:
    lines = [{"z": 1, "a": "u"}, {"a": "v", "m": 2.5}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = baseline(tmp_path / "d.jsonl", json.dumps({"json": {"lines": True}}))
    assert result.status == "Completed"
    statistics = json.loads((tmp_path / "baseline" / "statistics.json").read_text())
    summary = {
        f["name"]: (f["inferred_type"], (f.get("numerical_statistics") or f["string_statistics"]))
        for f in statistics["features"]
    }
    assert list(summary) == ["a", "m", "z"]
    assert summary["m"][0] == "Fractional"
    assert summary["m"][1]["common"] == {"num_present": 1, "num_missing": 1}


def test_csv_dataset_monitoring_checks_csv_data(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    write_csv(tmp_path / "now.csv", [(1, 2.5), (2, 3)], ("a", "b"))
    monitor(tmp_path / "now.csv", CSV_WITH_HEADER)
    assert [v["feature_name"] for v in violations(tmp_path / "run")] == ["b"]


PREPROCESSOR_FAILED = "There is an exception raised in preprocessor script. Please double check the preprocessor script."


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "import sys\n\ndef preprocess_handler(record):\n    sys.exit(0)\n",
            f"{PREPROCESSOR_FAILED} preprocess_handler called sys.exit(0) instead of returning rows.",
        ),
        (
            "def preprocess_handler(record):\n    raise SystemExit('done')\n",
            f"{PREPROCESSOR_FAILED} preprocess_handler called sys.exit('done') instead of returning rows.",
        ),
        (
            "import sys\n\nsys.exit()\n",
            "The script pre.py called sys.exit() while it was loaded.",
        ),
    ],
    ids=["sys.exit(0)", "SystemExit('done')", "sys.exit() on import"],
)
def test_a_preprocessor_that_exits_fails_the_execution(
    tmp_path: Path, baseline: Runner, monitor: Runner, body: str, reason: str
) -> None:
    classic_baseline(tmp_path, baseline)
    write_captures(tmp_path / "c", [capture_record("1", "2")], HOUR)
    script = _script(tmp_path, "pre.py", body)
    result = monitor(tmp_path / "c", record_preprocessor_script=str(script))
    assert (result.status, result.message) == ("Failed", reason)
    assert (tmp_path / "message").read_text() == reason
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_a_preprocessor_that_exits_fails_a_baseline(tmp_path: Path, baseline: Runner) -> None:
    write_csv(tmp_path / "train.csv", [(1, 2), (3, 4)], ("x", "y"))
    script = _script(
        tmp_path, "pre.py", "import sys\n\ndef preprocess_handler(line):\n    sys.exit(0)\n"
    )
    result = baseline(tmp_path / "train.csv", record_preprocessor_script=str(script))
    assert (result.status, result.message) == (
        "Failed",
        f"{PREPROCESSOR_FAILED} preprocess_handler called sys.exit(0) instead of returning rows.",
    )
    assert not (tmp_path / "baseline").exists()


def test_a_postprocessor_that_exits_fails_the_job(tmp_path: Path, baseline: Runner) -> None:
    write_csv(tmp_path / "train.csv", [(1,)], ("x",))
    script = _script(
        tmp_path, "post.py", "import sys\n\ndef postprocess_handler():\n    sys.exit(0)\n"
    )
    result = baseline(tmp_path / "train.csv", post_analytics_processor_script=str(script))
    assert (result.status, result.message) == (
        "Failed",
        "postprocess_handler called sys.exit(0) instead of returning.",
    )
