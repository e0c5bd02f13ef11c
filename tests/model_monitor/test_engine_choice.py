"""Choosing the engine: the environment's `smlocal_engine`, the CLI's `--engine`; refusals
that need no Spark (the Spark engine itself: test_spark_engine)."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import CSV_WITH_HEADER, write_csv

from smlocal.emulator.cli import main
from smlocal.model_monitor.environment import ANALYZER_KEYS, AnalyzerInput
from smlocal.model_monitor.job import run_analysis


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    data = write_csv(tmp_path / "train.csv", [(i % 7, i % 11) for i in range(50)], ("a", "b"))
    return {
        "dataset_source": str(data),
        "dataset_format": CSV_WITH_HEADER,
        "output_path": str(tmp_path / "out"),
        **extra,
    }


def test_an_unknown_engine_fails_the_job_naming_the_choices(tmp_path: Path) -> None:
    result = run_analysis(_env(tmp_path, smlocal_engine="flink"))
    assert result.status == "Failed"
    assert result.message == "smlocal_engine='flink' is not an engine: give single or spark"
    assert not (tmp_path / "out").exists()


def test_engine_keys_are_read_and_not_exported_to_scripts(tmp_path: Path) -> None:
    job = AnalyzerInput.from_environment(
        _env(tmp_path, smlocal_engine=" Spark ", smlocal_spark_master="spark://h:7077")
    )
    assert (job.engine, job.spark_master) == ("spark", "spark://h:7077")
    assert {"smlocal_engine", "smlocal_spark_master"} <= ANALYZER_KEYS
    assert job.user_environment == {}
    default = AnalyzerInput.from_environment(_env(tmp_path))
    assert (default.engine, default.spark_master) == ("single", "local[*]")


def test_without_pyspark_the_job_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    result = run_analysis(_env(tmp_path, smlocal_engine="spark"))
    assert (result.status, result.message) == (
        "Failed",
        "The Spark engine needs pyspark: pip install 'smlocal[spark]'",
    )


def test_spark_master_without_the_spark_engine_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _env(tmp_path)["dataset_source"]
    args = ["monitor", "baseline", data, "--output", str(tmp_path / "b")]
    assert main([*args, "--spark-master", "local[2]"]) == 2
    assert "--spark-master is for --engine spark" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main([*args, "--engine", "flink"])
    assert refused.value.code == 2
    assert "invalid choice: 'flink'" in capsys.readouterr().err
