"""Objectives of legacy XGBoost models as XGBoost 3 configures them, and their base scores.

A legacy model names its objective; before 1.0 it saved none of the objective's parameters.
XGBoost 3 needs each objective's parameter block, so the blocks below hold XGBoost 3's
defaults, overridden by what a 1.x model saved in its "objective" attribute. The parameters
only steer training (scale_pos_weight, max_delta_step, ...) except num_class, which comes
from the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from smlocal.model_server.errors import ModelLoadError

_REG_LOSS = {"reg_loss_param": {"scale_pos_weight": "1"}}
_LAMBDARANK = {
    "lambdarank_param": {
        "lambdarank_bias_norm": "1",
        "lambdarank_normalization": "1",
        "lambdarank_num_pair_per_sample": "4294967295",
        "lambdarank_pair_method": "topk",
        "lambdarank_score_normalization": "1",
        "lambdarank_unbiased": "0",
        "ndcg_exp_gain": "1",
    }
}

# name -> (XGBoost 3 name, parameter blocks, how XGBoost 3 turns base_score into a margin)
OBJECTIVES: dict[str, tuple[str, dict[str, dict[str, str]], str]] = {
    "reg:linear": ("reg:squarederror", _REG_LOSS, "identity"),
    "reg:squarederror": ("reg:squarederror", _REG_LOSS, "identity"),
    "reg:squaredlogerror": ("reg:squaredlogerror", {}, "identity"),
    "reg:pseudohubererror": (
        "reg:pseudohubererror",
        {"pseudo_huber_param": {"huber_slope": "1"}},
        "identity",
    ),
    "reg:logistic": ("reg:logistic", _REG_LOSS, "logit"),
    "binary:logistic": ("binary:logistic", _REG_LOSS, "logit"),
    "binary:logitraw": ("binary:logitraw", _REG_LOSS, "identity"),
    "binary:hinge": ("binary:hinge", {}, "identity"),
    "count:poisson": (
        "count:poisson",
        {"poisson_regression_param": {"max_delta_step": "0.699999988"}},
        "log",
    ),
    "reg:gamma": ("reg:gamma", _REG_LOSS, "log"),
    "reg:tweedie": (
        "reg:tweedie",
        {"tweedie_regression_param": {"tweedie_variance_power": "1.5"}},
        "log",
    ),
    "survival:cox": ("survival:cox", {}, "log"),
    "multi:softmax": (
        "multi:softmax",
        {"softmax_multiclass_param": {"num_class": "0"}},
        "identity",
    ),
    "multi:softprob": (
        "multi:softprob",
        {"softmax_multiclass_param": {"num_class": "0"}},
        "identity",
    ),
    "rank:pairwise": ("rank:pairwise", _LAMBDARANK, "identity"),
    "rank:ndcg": ("rank:ndcg", _LAMBDARANK, "identity"),
    "rank:map": ("rank:map", _LAMBDARANK, "identity"),
}

# How the XGBoost that wrote a 1.x model turned its saved base_score into a margin, where
# that differs from XGBoost 3: binary:logitraw used the logistic link until 1.3.1
# (dmlc/xgboost#6517 made it the identity). The binary holds major.minor only, so a model
# from 1.3.0 is read as one from 1.3.1-1.3.3.
_OLD_LINK = {"binary:logitraw": ("logit", (1, 3))}


def objective_config(name: str, num_class: int, saved: dict[str, Any]) -> dict[str, Any]:
    """XGBoost 3's objective block for `name`, keeping parameters the model saved."""
    new_name, blocks, _ = _lookup(name)
    config: dict[str, Any] = {"name": new_name}
    for block, defaults in blocks.items():
        values = dict(defaults)
        kept = saved.get(block)
        if isinstance(kept, dict):
            values.update({k: str(v) for k, v in kept.items() if k in defaults})
        if "num_class" in values:
            values["num_class"] = str(num_class)
        config[block] = values
    return config


def start_margin(name: str, saved: float, version: tuple[int, int]) -> np.float32:
    """The margin every prediction of the writing XGBoost started from.

    Before 1.0 the binary held that margin itself; 1.x held the probability-space value and
    applied its objective's link on load.
    """
    _, _, link = _lookup(name)
    value = np.float32(saved)
    if version[0] < 1:
        return value
    old_link, until = _OLD_LINK.get(name, (link, (0, 0)))
    return _apply(old_link if version < until else link, value)


def base_score_for(name: str, margin: np.float32, saved: float) -> str:
    """The base_score whose XGBoost 3 link gives exactly `margin` (when a float32 does).

    The saved value comes first, so a model whose link did not change keeps its own number.
    """
    _, _, link = _lookup(name)
    value = np.float32(saved)
    if _apply(link, value) == margin:
        return repr(float(value))
    return repr(float(_inverse(link, margin)))


def _lookup(name: str) -> tuple[str, dict[str, dict[str, str]], str]:
    if name not in OBJECTIVES:
        known = ", ".join(sorted(OBJECTIVES))
        raise ModelLoadError(
            f"the legacy model's objective {name!r} is not supported (supported: {known})"
        )
    return OBJECTIVES[name]


def _apply(link: str, value: np.float32) -> np.float32:
    """The link as XGBoost's C++ computes it: float32 arithmetic, a correctly rounded logf.

    numpy's own float32 log is off by one unit in the last place for some inputs (0.3's
    logit among them), so the logarithm is taken in double precision and rounded.
    """
    one = np.float32(1.0)
    with np.errstate(all="ignore"):
        if link == "logit":
            return -_logf(one / value - one)
        if link == "log":
            return _logf(value)
    return value


def _logf(value: np.float32) -> np.float32:
    if not value > 0:
        return np.float32(np.log(value)) if value == 0 else np.float32(np.nan)
    return np.float32(math.log(float(value)))


def _inverse(link: str, margin: np.float32) -> np.float32:
    """The float32 nearest the inverse link whose link gives `margin` back, when one does."""
    if link == "identity":
        return margin
    with np.errstate(all="ignore"):
        guess = 1.0 / (1.0 + np.exp(-float(margin))) if link == "logit" else np.exp(float(margin))
    start = np.float32(guess)
    candidates = [start]
    up = down = start
    for _ in range(8):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(-np.inf))
        candidates += [down, up]
    for candidate in candidates:
        if _apply(link, candidate) == margin:
            return candidate
    return start
