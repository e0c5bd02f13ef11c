"""The Spark engine (`smlocal_engine=spark`) on `local[2]`: every output file byte for byte
the single-machine engine's, over the same fixtures, with one partition (exact moments) and
with several (partition sizes made small here so that small fixtures make many).

One SparkContext serves the module (a JVM costs 10-20 s to start on a loaded machine); it is
started with the session emulator's environment, so that executors read its S3.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import CAPTURE, CSV_WITH_HEADER, MIXED_WINDOW, mixed_captures
from varied_data import write_varied_csv

from smlocal.model_monitor import capture_engine, engine
from smlocal.model_monitor.job import run_analysis
from smlocal.model_monitor.spark_engine import SparkPlan, plan_partitions, spark_context

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None,
        reason="pyspark is not installed (pip install 'smlocal[spark]')",
    ),
    pytest.mark.skipif(
        shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
        reason="no Java: the Spark engine needs Java 17",
    ),
    pytest.mark.timeout(900),
    # the varied data's infinities make NaN sums; the analyzer writes what Spark writes
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]

JSON_LINES = json.dumps({"json": {"lines": True}})
# SHA-256 of what the single-machine engine writes for the run of test_capture_engine's
# GOLDEN (the same fixture, window and baseline).
GOLDEN_STATISTICS = "df26d592c4c7c2c1a12663967964218895d0abb4502326c50566e8f32bb70c1f"

# Rows from every layout `mixed_captures` writes: none for every fifth record, four for the
# others (so that a small fixture makes several partitions of 16,384 rows); a value from the
# job's environment (exported to scripts on the executors too).
PREPROCESSOR = """\
import os


def preprocess_handler(inference_record, logger):
    number = int(inference_record.event_metadata.event_id.rsplit("-", 1)[1])
    if number % 5 == 0:
        return []
    data = inference_record.endpoint_input.data or ""
    row = {
        "first": data.split(",")[0],
        "size": len(data),
        "encoding": inference_record.endpoint_input.encoding,
        "tag": os.environ["SPARK_TEST_TAG"],
    }
    return [row, {"first": "again", "size": -1}, {"size": number}, {"size": number % 3}]
"""


@pytest.fixture(scope="module")
def spark(smlocal: Any) -> Iterator[Any]:
    """A SparkContext on local[2], its executors in the session emulator's environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in smlocal.env.items():
            patch.setenv(key, value)
        with spark_context(SparkPlan("local[2]")) as context:
            yield context


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_capture_engine's fixture: 110 capture files in every layout, four hours."""
    return mixed_captures(tmp_path_factory.mktemp("mixed"), 110, 800)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same layouts, 24 files of 800 records (about 9,600 in `MIXED_WINDOW`)."""
    return mixed_captures(tmp_path_factory.mktemp("small"), 24, 800)


@pytest.fixture(scope="module")
def mixed_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-machine engine's baseline of test_capture_engine's training captures."""
    folder = tmp_path_factory.mktemp("train")
    output = folder / "baseline"
    result = run_analysis(
        {
            "dataset_source": str(mixed_captures(folder / "captures", 3, 700, seed=8)),
            "dataset_format": CAPTURE,
            "output_path": str(output),
        }
    )
    assert result.status == "Completed", result.message
    return output


def _files(output: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(output.iterdir())}


def _both(spark: Any, output: Path, **env: str) -> dict[str, str]:
    """Run the job on each engine; the SHA-256 of each file, the same on both."""
    found = []
    for name, session in (("single", None), ("spark", spark)):
        result = run_analysis({**env, "output_path": str(output / name)}, spark=session)
        assert result.status != "Failed", f"{name}: {result.message}"
        found.append(_files(output / name))
    assert found[1] == found[0]
    assert found[0]
    return found[0]


def _against(baseline: Path) -> dict[str, str]:
    return {
        "baseline_statistics": str(baseline / "statistics.json"),
        "baseline_constraints": str(baseline / "constraints.json"),
    }


def test_csv_baseline_and_run_one_partition_and_many(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_varied_csv(tmp_path / "train.csv", 6000)
    traffic = write_varied_csv(tmp_path / "traffic.csv", 3000, seed=5)
    source = {"dataset_format": CSV_WITH_HEADER}
    _both(spark, tmp_path / "one", dataset_source=str(data), **source)
    monkeypatch.setattr(engine, "PARTITION_BYTES", 48 * 1024)  # about a dozen partitions
    _both(spark, tmp_path / "many", dataset_source=str(data), **source)
    headless = json.dumps({"csv": {"header": False}})  # the header line is a row then
    _both(spark, tmp_path / "headless", dataset_source=str(data), dataset_format=headless)
    run = _both(
        spark,
        tmp_path / "run",
        dataset_source=str(traffic),
        **source,
        **_against(tmp_path / "many" / "single"),
    )
    assert "constraint_violations.json" in run


def test_json_lines_with_a_preprocessor_and_the_jobs_environment(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "json"
    folder.mkdir()
    for part in range(3):
        lines = [
            json.dumps({"b": i * part % 11, "a": f"x{i % 4}", "c": None if i % 9 else 0.5})
            for i in range(1500)
        ]
        (folder / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n")
    script = tmp_path / "pre.py"
    script.write_text(
        "import os\n\n\ndef preprocess_handler(record):\n"
        "    return {**record, 'tag': os.environ['SPARK_TEST_TAG']} if record['b'] else None\n"
    )
    monkeypatch.setattr(engine, "PARTITION_BYTES", 16 * 1024)
    env = {"dataset_source": str(folder), "dataset_format": JSON_LINES}
    _both(spark, tmp_path / "plain", **env)
    _both(
        spark,
        tmp_path / "script",
        **env,
        record_preprocessor_script=str(script),
        SPARK_TEST_TAG="exported",
    )
    tags = json.loads((tmp_path / "script" / "spark" / "statistics.json").read_text())
    tag = next(f for f in tags["features"] if f["name"] == "tag")
    assert tag["string_statistics"]["distinct_count"] == 1


def test_a_monitoring_run_on_captures_writes_the_single_engines_files(
    spark: Any, mixed: Path, mixed_baseline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"dataset_source": str(mixed), "dataset_format": CAPTURE, **MIXED_WINDOW}
    one = _both(spark, tmp_path / "one", **env, **_against(mixed_baseline))
    assert one["statistics.json"] == GOLDEN_STATISTICS


def test_captures_in_partitions_cut_across_files(
    spark: Any, small: Path, mixed_baseline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Partitions of 2,000 rows in both engines' plans (not whole chunks of 16,384, so that a
    # small fixture makes several): partitions begin and end inside files.
    monkeypatch.setattr(capture_engine, "partition_size", lambda rows: rows)
    monkeypatch.setattr(engine, "PARTITION_ROWS", 2000)
    env = {"dataset_source": str(small), "dataset_format": CAPTURE, **MIXED_WINDOW}
    many = _both(spark, tmp_path / "many", **env, **_against(mixed_baseline))
    monkeypatch.undo()
    one = _both(spark, tmp_path / "one", **env, **_against(mixed_baseline))
    assert many["statistics.json"] != one["statistics.json"]  # moments of several partitions


def test_captures_through_a_preprocessor_in_the_partitions(
    spark: Any, small: Path, tmp_path: Path
) -> None:
    script = tmp_path / "pre.py"
    script.write_text(PREPROCESSOR)
    env = {
        "dataset_source": str(small),
        "dataset_format": CAPTURE,
        "record_preprocessor_script": str(script),
        "SPARK_TEST_TAG": "exported",
        **MIXED_WINDOW,
    }
    _both(spark, tmp_path / "out", **env)
    document = json.loads((tmp_path / "out" / "spark" / "statistics.json").read_text())
    assert [f["name"] for f in document["features"]] == ["encoding", "first", "size", "tag"]
    assert document["dataset"]["item_count"] > 2 * 16_384  # three partitions or more


def test_captures_read_from_s3_by_the_executors(
    spark: Any, smlocal: Any, small: Path, tmp_path: Path
) -> None:
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="spark-captures")
    for path in sorted(small.rglob("*.jsonl")):
        s3.upload_file(str(path), "spark-captures", str(path.relative_to(small)))
    env = {"dataset_format": CAPTURE, **MIXED_WINDOW}
    single = run_analysis({**env, "dataset_source": str(small), "output_path": str(tmp_path / "a")})
    from_s3 = run_analysis(
        {**env, "dataset_source": "s3://spark-captures/", "output_path": str(tmp_path / "b")},
        spark=spark,
    )
    assert (single.status, from_s3.status) == ("Completed", "Completed"), from_s3.message
    assert _files(tmp_path / "b") == _files(tmp_path / "a")


def test_a_failure_is_the_single_engines_failure(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = mixed_captures(tmp_path / "c", 6, 300)
    files = sorted(folder.rglob("*.jsonl"))
    with files[4].open("a", encoding="utf-8") as out:
        out.write("{broken\n")
    monkeypatch.setattr(engine, "PARTITION_ROWS", 300)
    env = {"dataset_source": str(folder), "dataset_format": CAPTURE}
    single = run_analysis({**env, "output_path": str(tmp_path / "a")})
    on_spark = run_analysis({**env, "output_path": str(tmp_path / "b")}, spark=spark)
    assert (on_spark.status, on_spark.message) == ("Failed", single.message)
    assert str(files[4]) in single.message
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").glob("*.json"))


def test_the_command_line_starts_spark_on_the_master_given(tmp_path: Path) -> None:
    data = write_varied_csv(tmp_path / "train.csv", 2000)
    outputs = {}
    for name, extra in (
        ("single", []),
        ("spark", ["--engine", "spark", "--spark-master", "local[2]"]),
    ):
        command = [sys.executable, "-m", "smlocal.emulator.cli", "monitor", "baseline"]
        command += [str(data), "--output", str(tmp_path / name), *extra, "--verbose"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        outputs[name] = _files(tmp_path / name)
    assert outputs["spark"] == outputs["single"]
    assert "Analysing on Spark, master local[2]" in done.stderr
    command = [sys.executable, "-m", "smlocal.emulator.cli", "monitor", "baseline", str(data)]
    command += ["--output", str(tmp_path / "bad"), "--engine", "spark", "--spark-master", "nowhere"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1
    assert (
        "smlocal monitor baseline: Spark did not start on master nowhere (is the master URL "
        "right, and Java 17 or later installed?): "
    ) in done.stderr
    assert not (tmp_path / "bad").exists()


def test_partitions_are_cut_across_files_as_the_single_engine_cuts_them() -> None:
    from smlocal.model_monitor.spark_engine import CaptureRef

    refs = [CaptureRef(f"f{i}", 0, None) for i in range(4)]
    plan = plan_partitions(refs, [5, 0, 12, 3], 8)
    assert [[(s.file.uri, s.start, s.stop) for s in part] for part in plan] == [
        [("f0", 0, 5), ("f2", 0, 3)],
        [("f2", 3, 11)],
        [("f2", 11, 12), ("f3", 0, 3)],
    ]


def test_spark_listens_on_loopback_only(spark: Any) -> None:
    import psutil

    assert spark.parallelize(range(4), 2).map(lambda x: x * 2).collect() == [0, 2, 4, 6]
    me = psutil.Process(os.getpid())
    listening = [
        connection.laddr.ip
        for process in [me, *me.children(recursive=True)]
        for connection in process.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    ]
    assert any(process.name() == "java" for process in me.children(recursive=True))
    assert listening
    assert {ip.removeprefix("::ffff:") for ip in listening} <= {"127.0.0.1"}


def test_csv_and_json_datasets_read_from_s3(
    spark: Any, smlocal: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="spark-datasets")
    local = tmp_path / "csv"
    local.mkdir()
    for number in range(2):
        path = write_varied_csv(local / f"part-{number}.csv", 2500, seed=number)
        s3.upload_file(str(path), "spark-datasets", f"csv/part-{number}.csv")
    lines = "".join(json.dumps({"a": i % 5, "b": f"w{i % 3}"}) + "\n" for i in range(3000))
    (tmp_path / "data.jsonl").write_text(lines)
    s3.put_object(Bucket="spark-datasets", Key="json/data.jsonl", Body=lines.encode())
    monkeypatch.setattr(engine, "PARTITION_BYTES", 64 * 1024)
    cases = [
        (local, "s3://spark-datasets/csv/", CSV_WITH_HEADER),
        (tmp_path / "data.jsonl", "s3://spark-datasets/json/data.jsonl", JSON_LINES),
    ]
    for number, (folder, uri, fmt) in enumerate(cases):
        out = tmp_path / f"out-{number}"
        env = {"dataset_format": fmt}
        here = run_analysis({**env, "dataset_source": str(folder), "output_path": str(out / "a")})
        assert here.status == "Completed", here.message
        from_s3 = _both(spark, out / "s3", dataset_source=uri, **env)
        assert from_s3 == _files(out / "a")
