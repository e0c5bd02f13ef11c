"""`smlocal monitor baseline|run|report`: the analyzer job on local files, and its report.

Data quality by default; model quality with `--problem-type` (see `quality_cli`).

`baseline` and `run` build the analyzer's environment (the keys the real container reads) and
call `run_analysis`, showing a progress bar when stderr is a terminal; `report` renders an
execution's files as one HTML page. The analysis modules (numpy,
pyarrow, ...) are imported only when a monitor command runs, so other commands start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from smlocal.cli_common import CommandFailed, cannot_write, local_path, positive_int
from smlocal.model_monitor import quality_cli
from smlocal.model_monitor.contract import FAILED, WITH_VIOLATIONS, dataset_format

if TYPE_CHECKING:
    from smlocal.model_monitor.job import JobResult
    from smlocal.model_monitor.report import ReportSources
    from smlocal.model_monitor.report_data import ExecutionInfo


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", type=local_path, required=True, help="folder for the output files"
    )
    parser.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="whether CSV files start with a header line (default: yes)",
    )
    parser.add_argument("--preprocessor", type=local_path, help="record preprocessor script (.py)")
    parser.add_argument("--postprocessor", type=local_path, help="post-analytics processor script")
    parser.add_argument(
        "--workers",
        type=positive_int,
        help="processes for CSV/JSON datasets (default: 1 below 24 MiB, else the CPUs)",
    )
    parser.add_argument(
        "--engine",
        choices=("single", "spark"),
        default="single",
        help="where data quality is analysed: this machine (default), or Apache Spark "
        "(pip install 'smlocal[spark]'; needs Java 17), with the same results",
    )
    parser.add_argument(
        "--spark-master",
        metavar="URL",
        help="Spark master for --engine spark (default local[*]: every core of this machine)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="print the analyzer's log")


def _baseline_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    baseline = actions.add_parser(
        "baseline",
        help="suggest a baseline: statistics.json and constraints.json",
        description="Profile a dataset (a file or a folder of files) like "
        "DefaultModelMonitor.suggest_baseline().",
    )
    baseline.add_argument("dataset", type=local_path, help="CSV or JSON Lines file, or a folder")
    baseline.add_argument("--format", choices=("csv", "json"), default="csv")
    baseline.add_argument(
        "--categorical-drift-method",
        choices=("LInfinity", "ChiSquared"),
        help="written into the suggested constraints' monitoring_config",
    )
    _common(baseline)
    quality_cli.add_options(baseline, baseline=True)
    baseline.set_defaults(handler=_baseline)


def _run_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = actions.add_parser(
        "run",
        help="a monitoring execution: statistics and constraint violations",
        description="Check captured endpoint data (a Data Capture folder or s3:// prefix) or "
        "a dataset against a baseline, like one execution of a monitoring schedule. S3 is read "
        "with the environment's AWS settings (AWS_ENDPOINT_URL), as `smlocal captures` does.",
    )
    run.add_argument(
        "data", help="Data Capture folder or s3:// prefix, or a local CSV/JSON dataset"
    )
    run.add_argument("--format", choices=("capture", "csv", "json"), help="default: guessed")
    run.add_argument("--baseline-statistics", help="baseline statistics.json (path or s3:// URI)")
    run.add_argument("--baseline-constraints", help="baseline constraints.json (path or s3://)")
    run.add_argument("--start", help="window start (ISO 8601, UTC), captures only")
    run.add_argument("--end", help="window end, exclusive (ISO 8601, UTC), captures only")
    run.add_argument("--endpoint-name", help="sagemaker_endpoint_name (for metrics)")
    run.add_argument("--schedule-name", help="sagemaker_monitoring_schedule_name")
    run.add_argument(
        "--fail-on-violations", action="store_true", help="exit with status 3 on violations"
    )
    _common(run)
    quality_cli.add_options(run, baseline=False)
    run.set_defaults(handler=_run)


def _report_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = actions.add_parser(
        "report",
        help="an HTML report of a monitoring execution",
        description="Render one self-contained HTML page from a monitoring execution's "
        "statistics.json and constraint_violations.json and the baseline's statistics.json. "
        "Give the execution's output folder, or each file; any input may be an s3:// URI "
        "(read with the environment's AWS settings, e.g. AWS_ENDPOINT_URL).",
    )
    report.add_argument(
        "execution", nargs="?", help="execution output folder holding the three JSON files"
    )
    report.add_argument("--statistics", help="the execution's statistics.json")
    report.add_argument("--violations", help="the execution's constraint_violations.json")
    report.add_argument("--constraints", help="the execution's constraints.json (optional)")
    report.add_argument(
        "--baseline-statistics",
        default="",
        help="the baseline's statistics.json (needed for data quality; for model quality "
        "its metrics are shown beside the execution's)",
    )
    report.add_argument("--baseline-constraints", help="the baseline's constraints.json")
    report.add_argument("--output", type=local_path, required=True, help="the HTML file to write")
    report.add_argument("--title", help="page title (default: from endpoint, schedule, hour)")
    report.add_argument("--endpoint-name", help="shown in the header")
    report.add_argument("--schedule-name", help="shown in the header")
    report.add_argument("--start", help="analysis window start (ISO 8601), shown in the header")
    report.add_argument("--end", help="analysis window end (ISO 8601), shown in the header")
    report.set_defaults(handler=_render_report)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `monitor` to the smlocal command line."""
    monitor = commands.add_parser(
        "monitor",
        help="Model Monitor data and model quality: baselines and monitoring runs",
        description="Compute SageMaker Model Monitor baselines and monitoring executions "
        "locally, writing the same files as the sagemaker-model-monitor-analyzer image.",
    )
    actions = monitor.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    _baseline_parser(actions)
    _run_parser(actions)
    _report_parser(actions)


def _guess_format(source: str) -> str:
    if source.startswith("s3://"):
        return "capture"
    data = Path(source)
    if data.is_dir():
        if next(data.rglob("*.jsonl"), None) is not None:
            return "capture"
        return "json" if next(data.rglob("*.json"), None) is not None else "csv"
    return "json" if data.suffix.lower() in (".json", ".jsonl") else "csv"


def _environment(args: argparse.Namespace, kind: str, source: str | Path) -> dict[str, str]:
    env = {
        "dataset_source": str(source),
        "dataset_format": dataset_format(kind, args.header),
        "output_path": str(args.output),
    }
    optional = {
        "record_preprocessor_script": args.preprocessor,
        "post_analytics_processor_script": args.postprocessor,
        "categorical_drift_method": getattr(args, "categorical_drift_method", None),
        "baseline_statistics": getattr(args, "baseline_statistics", None),
        "baseline_constraints": getattr(args, "baseline_constraints", None),
        "start_time": getattr(args, "start", None),
        "end_time": getattr(args, "end", None),
        "sagemaker_endpoint_name": getattr(args, "endpoint_name", None),
        "sagemaker_monitoring_schedule_name": getattr(args, "schedule_name", None),
        "smlocal_engine": args.engine if args.engine != "single" else None,
        "smlocal_spark_master": args.spark_master,
    }
    env.update({key: str(value) for key, value in optional.items() if value is not None})
    return {**env, **quality_cli.environment(args)}


@contextmanager
def _progress(env: dict[str, str]) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on an interactive terminal (bytes, or rows for captures)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from smlocal.model_monitor.environment import AnalyzerInput
    from smlocal.model_monitor.sources import input_size

    try:
        total = input_size(AnalyzerInput.from_environment(env))
    except (KeyError, ValueError, OSError):
        total = None
    unit = "rows" if total is None else "bytes"
    columns = (TextColumn("analysing"), BarColumn(), TextColumn(f"{{task.completed:,}} {unit}"))
    with Progress(*columns, TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("analysing", total=total)
        yield lambda done: bar.advance(task, done)


def _execute(args: argparse.Namespace, env: dict[str, str]) -> JobResult:
    from smlocal.model_monitor.job import run_analysis

    log = (lambda line: print(line, file=sys.stderr)) if args.verbose else (lambda line: None)
    with _progress(env) as progress:
        return run_analysis(env, log=log, progress=progress, workers=args.workers)


def _report(result: JobResult, action: str) -> None:
    if result.status == FAILED:  # one line, like every command's failure
        print(f"smlocal monitor {action}: {result.message}", file=sys.stderr)
    else:
        print(result.message)
    for warning in result.warnings:  # e.g. the baseline's columns not lining up
        print(f"warning: {warning}", file=sys.stderr)
    for path in result.files:
        print(f"  wrote {path}")


def _engine_usage(args: argparse.Namespace) -> str | None:
    if args.spark_master and args.engine != "spark":
        return "--spark-master is for --engine spark"
    return None


def _baseline(args: argparse.Namespace) -> int:
    problem = _engine_usage(args)
    if problem:
        print(f"smlocal monitor baseline: {problem}", file=sys.stderr)
        return 2
    result = _execute(args, _environment(args, args.format, args.dataset))
    _report(result, "baseline")
    return 1 if result.status == FAILED else 0


def _run(args: argparse.Namespace) -> int:
    problem = _run_usage(args)
    if problem:
        print(f"smlocal monitor run: {problem}", file=sys.stderr)
        return 2
    kind = args.format or _guess_format(args.data)
    _reach(args)
    labels = quality_cli.ground_truth_folder(args.ground_truth) if args.problem_type else None
    with labels or nullcontext() as folder:
        env = _environment(args, kind, args.data)
        if folder is not None:
            env["ground_truth_source"] = str(folder)
        result = _execute(args, env)
    _report(result, "run")
    violations = args.output / "constraint_violations.json"
    if result.status == WITH_VIOLATIONS and violations.exists():
        for entry in json.loads(violations.read_text(encoding="utf-8"))["violations"]:
            name = entry.get("feature_name") or entry.get("metric_name")
            print(f"  {name}: {entry['constraint_check_type']}")
            print(f"    {entry['description']}")
    if result.status == FAILED:
        return 1
    return 3 if args.fail_on_violations and result.status == WITH_VIOLATIONS else 0


def _run_usage(args: argparse.Namespace) -> str | None:
    """What is wrong with a run's arguments, in a usage error's words."""
    problem = quality_cli.usage_problem(args) or _engine_usage(args)
    if problem:
        return problem
    if not (args.problem_type or args.baseline_statistics or args.baseline_constraints):
        return "give --baseline-statistics and/or --baseline-constraints"
    kind = args.format or _guess_format(args.data)
    if args.data.startswith("s3://") and kind != "capture":
        return (
            f"{args.data} is in S3: only Data Capture is read from S3; "
            "copy a CSV or JSON dataset to a local folder"
        )
    return None


def _reach(args: argparse.Namespace) -> None:
    """Read the S3 inputs first (captures listed as `smlocal captures ls` does, baselines read
    as `monitor report` does), so an S3 that does not answer or missing credentials fail here,
    in plain words, not inside the job; anything else wrong is the job's to report."""
    from smlocal.capture_sink.listing import list_capture_files
    from smlocal.model_monitor.report import read_text

    if args.data.startswith("s3://"):
        list_capture_files(args.data)
    for baseline in (args.baseline_statistics, args.baseline_constraints):
        if baseline and baseline.startswith("s3://"):
            with suppress(OSError, ValueError):
                read_text(baseline)


def _report_inputs(args: argparse.Namespace) -> tuple[ReportSources, ExecutionInfo]:
    from smlocal.model_monitor.readers import parse_time
    from smlocal.model_monitor.report import ReportSources, execution_info

    if args.execution:
        found = ReportSources.from_execution(
            args.execution, args.baseline_statistics, args.baseline_constraints
        )
        info = execution_info(args.execution)
    elif args.statistics and args.violations:
        found = ReportSources(args.statistics, args.violations, args.baseline_statistics)
        info = execution_info("")
    else:
        raise ValueError("give an execution folder, or --statistics and --violations")
    sources = ReportSources(
        statistics=args.statistics or found.statistics,
        violations=args.violations or found.violations,
        baseline_statistics=args.baseline_statistics,
        constraints=args.constraints or found.constraints,
        baseline_constraints=args.baseline_constraints,
    )
    given = {
        "endpoint_name": args.endpoint_name,
        "schedule_name": args.schedule_name,
        "start_time": parse_time(args.start) if args.start else None,
        "end_time": parse_time(args.end) if args.end else None,
    }
    return sources, replace(info, **{k: v for k, v in given.items() if v is not None})


def _render_report(args: argparse.Namespace) -> int:
    from smlocal.model_monitor.errors import AnalysisError
    from smlocal.model_monitor.report import render_report

    try:
        sources, info = _report_inputs(args)
        page = render_report(sources, title=args.title, info=info)
    except (ValueError, AnalysisError, OSError) as exc:
        print(f"smlocal monitor report: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(cannot_write(args.output, exc)) from None
    print(f"wrote {args.output}")
    return 0
