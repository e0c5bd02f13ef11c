"""The XGBoost algorithm's hyperparameters: declared as data, validated like the container.

SageMaker passes every hyperparameter as a string. The container JSON-decodes each value
when it can, then checks, in this order: required names, unknown names, parsing, ranges,
and the dependencies between them, failing on the first problem with a ClientError whose
wording follows the container's (`Missing required hyperparameter: num_round`,
`Extraneous hyperparameter found: x`, `Hyperparameter eta: 2.0 is not in [0, 1]`).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.jobs.training import UserError


@dataclass(frozen=True)
class Interval:
    """A numeric range; None is unbounded; open ends exclude the bound."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def __str__(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low:g}"
        high = "+inf)" if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its kind (int, float, choice, list, tuple, nested) and range."""

    kind: str
    interval: Interval | None = None
    choices: tuple[str, ...] = ()
    required: bool = False


def _int(low: float | None = None, high: float | None = None, **kw: Any) -> Param:
    required = kw.pop("required", False)
    return Param("int", Interval(low, high, **kw), required=required)


def _float(low: float | None = None, high: float | None = None, **kw: Any) -> Param:
    return Param("float", Interval(low, high, **kw))


def _choice(*choices: str) -> Param:
    return Param("choice", choices=choices)


_FRACTION = _float(0, 1, low_open=True)
_BOOLEAN = _choice("true", "false")
OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
    "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map",
    "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma", "reg:pseudohubererror",
    "reg:squaredlogerror", "reg:absoluteerror", "reg:quantileerror", "reg:tweedie",
    "survival:aft", "survival:cox",
)  # fmt: skip
UPDATERS = (
    "grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker",
    "grow_quantile_histmaker", "sync", "refresh", "prune", "shotgun", "coord_descent",
)  # fmt: skip
# Metrics XGBoost computes itself, and those the SageMaker container adds in its own code.
XGBOOST_METRICS = (
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc",
    "aucpr", "pre", "ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik",
    "gamma-deviance", "tweedie-nloglik", "aft-nloglik", "interval-regression-accuracy",
)  # fmt: skip
CONTAINER_METRICS = (
    "accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "mse", "precision",
    "precision_macro", "precision_micro", "r2", "recall", "recall_macro", "recall_micro",
)  # fmt: skip

SPEC: dict[str, Param] = {
    "num_round": _int(1, required=True),
    "csv_weights": _int(0, 1),
    "early_stopping_rounds": _int(1),
    "booster": _choice("gbtree", "gblinear", "dart"),
    "verbosity": _int(0, 3),
    "nthread": _int(1),
    "eta": _float(0, 1),
    "gamma": _float(0),
    "max_depth": _int(0),
    "min_child_weight": _float(0),
    "max_delta_step": _float(0),
    "subsample": _FRACTION,
    "colsample_bytree": _FRACTION,
    "colsample_bylevel": _FRACTION,
    "colsample_bynode": _FRACTION,
    "lambda": _float(0),
    "alpha": _float(0),
    "tree_method": _choice("auto", "exact", "approx", "hist", "gpu_hist"),
    "sketch_eps": _float(0, 1, low_open=True, high_open=True),
    "scale_pos_weight": _float(0, low_open=True),
    "updater": Param("list", choices=UPDATERS),
    "dsplit": _choice("row", "col"),
    "refresh_leaf": _int(0, 1),
    "process_type": _choice("default", "update"),
    "grow_policy": _choice("depthwise", "lossguide"),
    "max_leaves": _int(0),
    "max_bin": _int(0),
    "predictor": _choice("auto", "cpu_predictor", "gpu_predictor"),
    "monotone_constraints": Param("tuple"),
    "interaction_constraints": Param("nested"),
    "sample_type": _choice("uniform", "weighted"),
    "normalize_type": _choice("tree", "forest"),
    "rate_drop": _float(0, 1),
    "one_drop": _int(0, 1),
    "skip_drop": _float(0, 1),
    "lambda_bias": _float(0, 1),
    "tweedie_variance_power": _float(1, 2, low_open=True, high_open=True),
    "objective": _choice(*OBJECTIVES),
    "num_class": _int(2),
    "base_score": _float(0),
    "_tuning_objective_metric": Param("choice"),
    "eval_metric": Param("list"),
    "seed": _int(-(2**31), 2**31 - 1, low_open=True, high_open=True),
    "num_parallel_tree": _int(1),
    "save_model_on_termination": _BOOLEAN,
    "aft_loss_distribution": _choice("normal", "logistic", "extreme"),
    "aft_loss_distribution_scale": _float(0),
    "deterministic_histogram": _BOOLEAN,
    "single_precision_histogram": _BOOLEAN,
    "sampling_method": _choice("uniform", "gradient_based"),
    "prob_buffer_row": _int(1.0, low_open=True),
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda",
           "reg_alpha": "alpha"}  # fmt: skip


def validate(raw: Mapping[str, str], refused: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Parsed hyperparameters, or the container's UserError for the first problem.

    `refused` names hyperparameters that the image's version does not know yet (or any more).
    """
    for name, param in SPEC.items():
        if param.required and name not in raw:
            raise UserError(f"Missing required hyperparameter: {name}")
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        if ALIASES.get(name, name) not in SPEC or name in refused:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        parsed[name] = parse(name, value)
    for name, value in parsed.items():
        check_range(name, value)
    check_dependencies(parsed)
    return parsed


def _decoded(value: str) -> Any:
    """The value JSON-decoded when that gives a string or a number, else the text itself."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, bool) or not isinstance(decoded, str | int | float):
        return value
    return decoded


def parse(name: str, value: str) -> Any:
    """One value converted to its kind; UserError names it when it cannot be."""
    param = SPEC[ALIASES.get(name, name)]
    decoded = _decoded(str(value))
    try:
        if param.kind == "int":
            return _as_int(decoded)
        if param.kind == "float":
            return _as_float(decoded)
        if param.kind == "list":
            return [part.strip() for part in str(decoded).split(",")]
        if param.kind in ("tuple", "nested"):
            return _literal(str(decoded), tuple if param.kind == "tuple" else list)
    except (ValueError, TypeError, SyntaxError) as exc:
        kind = {"int": "an integer", "float": "a number"}.get(param.kind, f"a {param.kind}")
        raise UserError(
            f"Hyperparameter {name}: could not parse value {value!r} as {kind} "
            f"(caused by {type(exc).__name__})"
        ) from None
    return str(decoded)


def _as_int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    return int(value)


def _as_float(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value} is not a finite number")
    return number


def _literal(text: str, kind: type) -> Any:
    value = ast.literal_eval(text)
    if not isinstance(value, list | tuple):
        raise ValueError(f"{text} is not a {kind.__name__}")
    return kind(value)


def check_range(name: str, value: Any) -> None:
    """The container's range check: numbers in their interval, choices among their values."""
    param = SPEC[ALIASES.get(name, name)]
    if name == "eval_metric":
        _check_metrics(value)
    elif param.interval is not None and param.kind in ("int", "float"):
        if value not in param.interval:
            raise UserError(f"Hyperparameter {name}: {value} is not in {param.interval}")
    elif param.kind == "choice" and param.choices and value not in param.choices:
        raise UserError(f"Hyperparameter {name}: {value} is not in {list(param.choices)}")
    elif param.kind == "list" and any(v not in param.choices for v in value):
        raise UserError(f"Hyperparameter {name}: value {value} not in range {list(param.choices)}")
    elif param.kind == "tuple" and any(v not in (-1, 0, 1) for v in value):
        raise UserError(f"Hyperparameter {name}: value {value} not in range [-1, 0, 1]")


def _check_metrics(metrics: list[str]) -> None:
    for metric in metrics:
        name, at, threshold = metric.partition("@")
        if at:
            if name not in ("error", "ndcg", "map"):
                raise UserError(
                    f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized "
                    "threshold should be one of these options: 'error', 'ndcg', 'map'."
                )
            try:
                float(threshold.rstrip("-"))
            except ValueError:
                raise UserError(f"Threshold value 't' in '{name}@t' expects float input.") from None
        elif metric in CONTAINER_METRICS:
            raise UserError(
                f"eval_metric {metric} is computed by code of SageMaker's XGBoost container that "
                "smlocal does not emulate; use metrics XGBoost computes: "
                + ", ".join(XGBOOST_METRICS)
            )
        elif metric not in XGBOOST_METRICS:
            raise UserError(
                f"Hyperparameter eval_metric: value {metrics} not in range {list(XGBOOST_METRICS)}"
            )


def check_dependencies(parsed: Mapping[str, Any]) -> None:
    """The rules between hyperparameters the container enforces."""
    objective = parsed.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in parsed:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    metrics = parsed.get("eval_metric") or []
    if "auc" in metrics and not str(objective).startswith(("binary:", "rank:")):
        raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
    if "aft-nloglik" in metrics and objective != "survival:aft":
        raise UserError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    tree_method = parsed.get("tree_method")
    if "monotone_constraints" in parsed and tree_method not in ("exact", "hist"):
        raise UserError(
            "monotone_constraints can be used only when the tree_method parameter is set to "
            "either 'exact' or 'hist'."
        )
    if "interaction_constraints" in parsed and tree_method not in ("exact", "hist", "approx"):
        raise UserError(
            "interaction_constraints can be used only when the tree_method parameter is set to "
            "either 'exact', 'hist' or 'approx'."
        )


# Container-only settings, and settings current XGBoost no longer has (dropped with a note).
_NOT_FOR_XGBOOST = frozenset(
    {"num_round", "csv_weights", "early_stopping_rounds", "save_model_on_termination",
     "_tuning_objective_metric"}
)  # fmt: skip
_RETIRED = frozenset(
    {"predictor", "dsplit", "lambda_bias", "single_precision_histogram",
     "deterministic_histogram", "prob_buffer_row"}
)  # fmt: skip


@dataclass(frozen=True)
class TrainingPlan:
    """What xgboost.train gets: parameters, rounds, early stopping, CSV weights, notes."""

    params: dict[str, Any]
    num_round: int
    early_stopping_rounds: int | None
    csv_weights: bool
    notes: tuple[str, ...]


def training_plan(parsed: Mapping[str, Any]) -> TrainingPlan:
    """Validated hyperparameters as XGBoost parameters (legacy values mapped, with notes)."""
    params: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in parsed.items():
        if name in _NOT_FOR_XGBOOST:
            continue
        if name in _RETIRED:
            notes.append(f"Hyperparameter {name} is not used by XGBoost {{version}}; ignored.")
        elif name == "objective" and value == "reg:linear":
            params[name] = "reg:squarederror"
            notes.append("objective reg:linear is reg:squarederror in XGBoost {version}.")
        elif name == "tree_method" and value == "gpu_hist":
            params[name] = "hist"
            notes.append("tree_method gpu_hist runs as hist on the CPU.")
        elif name in ("updater", "eval_metric"):
            params[name] = ",".join(value) if name == "updater" else list(value)
        elif name in ("monotone_constraints", "interaction_constraints"):
            params[name] = str(tuple(value)) if name == "monotone_constraints" else str(value)
        else:
            params[name] = value
    return TrainingPlan(
        params=params,
        num_round=int(parsed["num_round"]),
        early_stopping_rounds=parsed.get("early_stopping_rounds"),
        csv_weights=parsed.get("csv_weights") == 1,
        notes=tuple(notes),
    )
