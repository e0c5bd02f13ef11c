"""SAGEMAKER_INFERENCE_OUTPUT: the XGBoost container's selectable inference output (1.0-1 on).

Follows aws/sagemaker-xgboost-container@1.0-1 `algorithm_mode/serve_utils.py`
(get_selected_predictions, the _get_* helpers, encode_selected_predictions), unchanged in
behaviour to @v3.0-5 except that 3.0-5 adds reg:absoluteerror.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from smlocal.model_server.recordio_protobuf import frame, label_record
from smlocal.model_server.xgboost_wire import CSV, JSON, JSONLINES, RECORDIO

PREDICTED_LABEL = "predicted_label"
LABELS = "labels"
PROBABILITY = "probability"
PROBABILITIES = "probabilities"
RAW_SCORE = "raw_score"
RAW_SCORES = "raw_scores"
PREDICTED_SCORE = "predicted_score"
ORDER = (PREDICTED_LABEL, LABELS, PROBABILITY, PROBABILITIES, RAW_SCORE, RAW_SCORES)

_CLASSIFIER = [PREDICTED_LABEL, LABELS, RAW_SCORE, RAW_SCORES]
_PROBABILISTIC = [PREDICTED_LABEL, LABELS, PROBABILITY, PROBABILITIES, RAW_SCORE, RAW_SCORES]
VALID_OBJECTIVES: dict[str, list[str]] = {
    "reg:squarederror": [PREDICTED_SCORE],
    "reg:logistic": [PREDICTED_SCORE],
    "reg:gamma": [PREDICTED_SCORE],
    "reg:tweedie": [PREDICTED_SCORE],
    "binary:logistic": _PROBABILISTIC,
    "binary:logitraw": _CLASSIFIER,
    "binary:hinge": _CLASSIFIER,
    "multi:softmax": _CLASSIFIER,
    "multi:softprob": _PROBABILISTIC,
}
ABSOLUTE_ERROR = "reg:absoluteerror"  # @v3.0-5 serve_utils.VALID_OBJECTIVES


class SelectableError(RuntimeError):
    """The container's handler caught it and answered 500 with its text."""


def selected_keys(setting: str) -> list[str]:
    """serve_utils.get_selected_output_keys: spaces dropped, lower-cased, split on commas."""
    return setting.replace(" ", "").lower().split(",")


def _labels(objective: str, num_class: str) -> Any:
    if "binary:" in objective:
        return [0, 1]
    if "multi:" in objective and num_class:
        return list(range(int(num_class)))
    return np.nan


def _predicted_label(objective: str, raw: Any) -> Any:
    if objective in ("binary:hinge", "multi:softmax"):
        return raw.item()
    if objective in ("binary:logistic", "binary:logitraw"):
        return int(raw > (0.5 if objective == "binary:logistic" else 0))
    return np.argmax(raw).item() if objective == "multi:softprob" else np.nan


def _probability(objective: str, raw: Any) -> Any:
    if objective == "multi:softprob":
        return max(raw).item()
    return raw.item() if objective == "binary:logistic" else np.nan


def _probabilities(objective: str, raw: Any) -> Any:
    if objective == "multi:softprob":
        return raw.tolist()
    return _pair(raw) if objective == "binary:logistic" else np.nan


def _raw_score(objective: str, raw: Any) -> Any:
    return max(raw).item() if objective == "multi:softprob" else raw.item()


def _raw_scores(objective: str, raw: Any) -> Any:
    return raw.tolist() if objective == "multi:softprob" else _pair(raw)


def _pair(raw: Any) -> list[float]:
    one = raw.item()
    return [1.0 - one, one]


def _predicted_score(_objective: str, raw: Any) -> Any:
    return raw.item()


_VALUES = {
    PREDICTED_LABEL: _predicted_label,
    PROBABILITY: _probability,
    PROBABILITIES: _probabilities,
    RAW_SCORE: _raw_score,
    RAW_SCORES: _raw_scores,
    PREDICTED_SCORE: _predicted_score,
}


def _value(key: str, objective: str, raw: Any, num_class: str) -> Any:
    """One selected value for one prediction (a float32 scalar, or a softprob row)."""
    if key == LABELS:
        return _labels(objective, num_class)
    return _VALUES[key](objective, raw)


def selected_predictions(
    predictions: Any, keys: list[str], objective: str, num_class: str, *, absolute_error: bool
) -> list[dict[str, Any]]:
    """serve_utils.get_selected_predictions: one dict per prediction, keys in the code's order.

    Keys the objective does not have come last with NaN; the container iterates a set there
    (its order varies between processes), smlocal keeps the order they were asked in.
    """
    valid_objectives = dict(VALID_OBJECTIVES)
    if absolute_error:
        valid_objectives[ABSOLUTE_ERROR] = [PREDICTED_SCORE]
    if objective not in valid_objectives:
        raise SelectableError(
            f"Objective `{objective}` unsupported for selectable inference predictions."
        )
    valid = [k for k in (*ORDER, PREDICTED_SCORE) if k in keys and k in valid_objectives[objective]]
    invalid = [k for k in dict.fromkeys(keys) if k not in valid_objectives[objective]]
    out = []
    for raw in np.asarray(predictions):
        row = {k: _value(k, objective, raw, num_class) for k in valid}
        row.update({k: np.nan for k in invalid})
        out.append(row)
    return out


def _csv(predictions: list[dict[str, Any]], keys: list[str]) -> str:
    lines = []
    for prediction in predictions:
        cells = [
            f'"{prediction[k]}"' if isinstance(prediction[k], list) else str(prediction[k])
            for k in keys
        ]
        lines.append(",".join(cells))
    return "\n".join(lines)


def _recordio(predictions: list[dict[str, Any]]) -> bytes:
    """_encode_selected_predictions_recordio_protobuf, with its buffer that is never reset.

    Each RecordIO record holds the serialised records of all predictions so far, so the
    n-th record parses (protobuf merges repeated fields) to the values of rows 1..n.
    """
    serialized = io.BytesIO()
    out = io.BytesIO()
    for item in predictions:
        label = {k: v if isinstance(v, list) else [v] for k, v in item.items()}
        serialized.write(label_record(label))
        out.write(frame(serialized.getvalue()))
    return out.getvalue()


def encode_selected(predictions: list[dict[str, Any]], keys: list[str], accept: str) -> bytes:
    """serve_utils.encode_selected_predictions for the four accepts the container takes."""
    if accept == JSON:
        return json.dumps({"predictions": predictions}).encode()
    if accept == JSONLINES:
        return "".join(json.dumps(p) + "\n" for p in predictions).encode()
    if accept == RECORDIO:
        return _recordio(predictions)
    if accept == CSV:
        return _csv(predictions, keys).encode()
    raise SelectableError(f"Cannot encode selected predictions into accept type '{accept}'.")


def objective_of(booster: Any) -> tuple[str, str]:
    """The booster's objective name and num_class, as ScoringService.get_config_json reads."""
    config = json.loads(booster.save_config())["learner"]
    return config["objective"]["name"], config["learner_model_param"].get("num_class", "")
