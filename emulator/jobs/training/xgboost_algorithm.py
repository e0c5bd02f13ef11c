"""`python -m smlocal.emulator.jobs.training.xgboost_algorithm ROOT`: XGBoost algorithm mode.

ROOT is laid out like `/opt/ml`: `input/config/hyperparameters.json` and
`inputdataconfig.json`, `input/data/{channel}/`, `model/`, `output/`. The process exits 0
with `model/xgboost-model` written (XGBoost's JSON format, which every XGBoost since 1.0 and
smlocal's model server load), or 1 with `output/failure` holding the FailureReason, as
SageMaker containers do. SIGTERM (StopTrainingJob) ends training after the current round
and keeps the model trained so far.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from smlocal.emulator.jobs.training import AlgorithmError, UserError
from smlocal.emulator.jobs.training.data import (
    CSV,
    Table,
    content_type,
    data_files,
    read_channel,
    sniff_delimiter,
)
from smlocal.emulator.jobs.training.hyperparameters import TrainingPlan, training_plan, validate
from smlocal.emulator.jobs.training.metrics import round_line
from smlocal.emulator.jobs.training.versions import default_eval_metric, training_behaviour
from smlocal.model_server.environment import SMLOCAL_IMAGE
from smlocal.model_server.xgboost_files import MODEL_FILE, save_booster, xgboost_message

CHANNELS = {"train": True, "validation": False, "code": False}  # name -> required


def log(message: str, level: str = "INFO") -> None:
    """A line in the container's format: `[2024-01-31:12:00:00:INFO] message`."""
    print(f"[{time.strftime('%Y-%m-%d:%H:%M:%S')}:{level}] {message}", flush=True)


class StopFlag:
    """Set by SIGTERM: before training the process exits; during training it ends the rounds.

    Training also ends when the emulator that started this process is gone (killed), so no
    orphan trains on.
    """

    def __init__(self) -> None:
        self.requested = False
        self.training = False
        self.parent = os.getppid()

    def should_stop(self) -> bool:
        """True once SIGTERM has come or the parent process has died."""
        if os.getppid() != self.parent:
            log("The emulator is gone; stopping.")
            self.requested = True
        return self.requested

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        """The SIGTERM handler."""
        self.requested = True
        if not self.training:
            log("Received SIGTERM before training started; exiting.")
            raise SystemExit(0)
        log("Received SIGTERM; stopping after this round and saving the model.")


def main(argv: list[str] | None = None) -> int:
    """Train, or write output/failure; the exit status SageMaker looks at."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path("/opt/ml")
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop.handle)
    try:
        train(root, stop)
    except UserError as exc:
        return fail(root, exc.reason)
    except Exception as exc:  # the algorithm's own failure, reported as AlgorithmError
        traceback.print_exc()
        return fail(root, AlgorithmError(f"{type(exc).__name__}: {exc}").reason)
    return 0


def fail(root: Path, reason: str) -> int:
    """Write the FailureReason where SageMaker reads it; exit status 1."""
    log(reason, "ERROR")
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "failure").write_text(reason)
    return 1


def train(root: Path, stop: StopFlag) -> None:
    """Validate, read the channels, train, save the model."""
    config = root / "input" / "config"
    hyperparameters = json.loads((config / "hyperparameters.json").read_text())
    channels = validate_channels(json.loads((config / "inputdataconfig.json").read_text()))
    # a job with sagemaker_program runs the user's script instead (training.script_mode)
    log("Running XGBoost Sagemaker in algorithm mode")
    behaviour = training_behaviour(os.environ.get(SMLOCAL_IMAGE))
    plan = training_plan(validate(hyperparameters, behaviour.refused))
    if default := default_eval_metric(behaviour, plan.params):
        plan.params["eval_metric"] = default
    train_table = read("train", root, channels, plan.csv_weights)
    assert train_table is not None  # validate_channels requires the train channel
    validation = read("validation", root, channels, plan.csv_weights)
    if validation is not None and validation.columns != train_table.columns:
        if hasattr(train_table.features, "tocsr"):
            _widen(train_table, validation)
        else:
            raise UserError(
                f"The validation channel has {validation.columns} feature columns but the train "
                f"channel has {train_table.columns}; both need the same columns."
            )
    log("Single node training.")
    columns = f" and {train_table.columns} columns" if behaviour.matrix_columns else ""
    log(f"Train matrix has {train_table.rows} rows{columns}")
    if validation is not None:
        log(f"Validation matrix has {validation.rows} rows")
    booster = fit(plan, train_table, validation, stop)
    save(booster, root / "model")


def validate_channels(config: dict[str, Any]) -> dict[str, Any]:
    """The container's channel check: `train` required, only known channels."""
    for name, required in CHANNELS.items():
        if required and name not in config:
            raise UserError(f"Missing required channel: {name}")
    for name in config:
        if name not in CHANNELS:
            raise UserError(f"Extraneous channel found: {name}")
    return config


def read(name: str, root: Path, channels: dict[str, Any], weights: bool) -> Table | None:
    """A channel's table; a channel given with no data is the container's UserError."""
    if name not in channels:
        return None
    kind = content_type(channels[name].get("ContentType"))
    folder = root / "input" / "data" / name
    if kind == CSV:
        log_delimiters(folder)
    table = read_channel(
        folder, kind, weights, lambda p: "/opt/ml/" + p.relative_to(root).as_posix()
    )
    if table is None:
        label = "training" if name == "train" else name
        raise UserError(f"No data in {label} channel path /opt/ml/input/data/{name}")
    return table


def log_delimiters(folder: Path) -> None:
    """The container sniffs the first line of each CSV file, then of the first file again."""
    firsts = [_first_line(path) for path in data_files(folder)]
    for line in [*firsts, *firsts[:1]]:
        log(f"Determined delimiter of CSV input is '{sniff_delimiter(line) or ' '}'")


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as file:
        return file.readline()


def _widen(train: Table, validation: Table) -> None:
    width = max(train.columns, validation.columns)
    for table in (train, validation):
        table.features.resize((table.rows, width))


def print_round(epoch: int, evals_log: dict[str, Any]) -> None:
    """Print `[epoch]\\ttrain-metric:value...` for the round XGBoost just finished."""
    results = [
        (data, metric, float(values[-1]))
        for data, metrics in evals_log.items()
        for metric, values in metrics.items()
    ]
    print(round_line(epoch, results), flush=True)


def round_printer(xgb: Any, stop: StopFlag) -> Any:
    """An XGBoost callback printing each round, and ending training once SIGTERM has come."""

    class RoundPrinter(xgb.callback.TrainingCallback):  # type: ignore[misc]
        def after_iteration(self, _model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            print_round(epoch, evals_log)
            return stop.should_stop()

    return RoundPrinter()


def fit(plan: TrainingPlan, train_table: Table, validation: Table | None, stop: StopFlag) -> Any:
    """xgboost.train with the container's watchlist, printing one line per round."""
    import xgboost as xgb

    for note in plan.notes:
        log(note.format(version=xgb.__version__))
    evals = [(_dmatrix(xgb, train_table), "train")]
    if validation is not None:
        evals.append((_dmatrix(xgb, validation), "validation"))
    stop.training = True
    try:
        return xgb.train(
            plan.params, evals[0][0], num_boost_round=plan.num_round, evals=evals,
            early_stopping_rounds=plan.early_stopping_rounds, callbacks=[round_printer(xgb, stop)],
            verbose_eval=False,
        )  # fmt: skip
    except xgb.core.XGBoostError as exc:
        raise UserError(f"XGB train call failed with exception: {xgboost_message(exc)}") from None
    finally:
        stop.training = False


def _dmatrix(xgb: Any, table: Table) -> Any:
    return xgb.DMatrix(table.features, label=table.labels, weight=table.weights)


def save(booster: Any, model_dir: Path) -> None:
    """model/xgboost-model, in XGBoost's JSON format."""
    save_booster(booster, model_dir)
    log(f"Stored trained model at /opt/ml/model/{MODEL_FILE}")


if __name__ == "__main__":
    # xgboost imports scikit-learn, when installed, for its sklearn-style wrappers only;
    # training does not use them, and that import takes longer than training iris does.
    sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]
    sys.exit(main())
