"""The model-quality options of `smlocal monitor baseline|run`.

With `--problem-type` a command runs the analyzer's model-quality analysis (what
ModelQualityMonitor asks for) instead of data quality: a baseline reads the label and the
prediction from a dataset's columns, a run merges captured records (or a batch transform's
`.out` files, `--format csv|json`) with ground truth and checks the metrics against the
baseline's constraints.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smlocal.cli_common import CommandFailed

PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


def add_options(parser: argparse.ArgumentParser, *, baseline: bool) -> None:
    """The model-quality options (a `model quality` argument group)."""
    group = parser.add_argument_group("model quality (ModelQualityMonitor)")
    group.add_argument(
        "--problem-type", choices=PROBLEM_TYPES, help="analyse model quality, not data quality"
    )
    group.add_argument(
        "--inference-attribute",
        help="where the prediction is: a column name or index, or a JSONPath",
    )
    group.add_argument("--probability-attribute", help="where the probability is (binary)")
    group.add_argument(
        "--probability-threshold", type=float, help="a probability from this is label 1 (0.5)"
    )
    if baseline:
        group.add_argument("--ground-truth-attribute", help="the label's column or JSONPath")
    else:
        group.add_argument(
            "--ground-truth",
            help="folder or s3:// prefix of ground truth JSON Lines (every file under it is read)",
        )


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The analyzer's model-quality keys; none without --problem-type."""
    if args.problem_type is None:
        return {}
    given = {
        "analysis_type": "MODEL_QUALITY",
        "problem_type": args.problem_type,
        "inference_attribute": args.inference_attribute,
        "probability_attribute": args.probability_attribute,
        "probability_threshold_attribute": args.probability_threshold,
        "ground_truth_attribute": getattr(args, "ground_truth_attribute", None),
    }
    return {key: str(value) for key, value in given.items() if value is not None}


def usage_problem(args: argparse.Namespace) -> str | None:
    """What is missing or contradictory in a run's model-quality options."""
    ground_truth = getattr(args, "ground_truth", None)
    if args.problem_type is None:
        if ground_truth is not None:
            return "--ground-truth is for model quality: give --problem-type too"
        return None
    if not hasattr(args, "ground_truth"):
        return None
    return None if ground_truth else "a model-quality run needs --ground-truth"


@contextmanager
def ground_truth_folder(location: str) -> Iterator[Path]:
    """The ground truth as a local folder: the one given, or an S3 prefix's objects copied
    into a temporary one (removed afterwards)."""
    if not location.startswith("s3://"):
        if not Path(location).is_dir():
            raise CommandFailed(f"the ground truth folder {location} does not exist")
        yield Path(location)
        return
    from smlocal.capture_sink.keys import parse_s3_uri
    from smlocal.capture_sink.s3 import s3_client

    where = parse_s3_uri(location)
    prefix = where.key.rstrip("/") + "/" if where.key else ""
    client = s3_client()
    with tempfile.TemporaryDirectory(prefix="smlocal-ground-truth-") as folder:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=prefix)
        found = [item["Key"] for page in pages for item in page.get("Contents", [])]
        if not found:
            raise CommandFailed(f"{location} holds no ground truth objects")
        for key in found:
            target = Path(folder) / key[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(where.bucket, key, str(target))
        yield Path(folder)
