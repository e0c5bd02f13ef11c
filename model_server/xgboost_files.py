"""The XGBoost model file as SageMaker's XGBoost container names and writes it, and its errors.

Kept free of heavy imports: the training algorithm's child process uses it too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MODEL_FILE = "xgboost-model"
_LOCATION = re.compile(r"^\[\d\d:\d\d:\d\d\] [^\s:]+:\d+: ")


def save_booster(booster: Any, model_dir: Path) -> Path:
    """Write model_dir/xgboost-model in XGBoost's JSON format (read by every XGBoost >= 1.0).

    XGBoost picks the format from the file's suffix, so the model is saved as `.json` and
    renamed to the container's suffix-less name.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    temporary = model_dir / f"{MODEL_FILE}.json"
    booster.save_model(str(temporary))
    return temporary.replace(model_dir / MODEL_FILE)


def xgboost_message(exc: Exception) -> str:
    """XGBoost's error without the native stack trace and `[hh:mm:ss] file:line:` it adds."""
    text = str(exc).split("\nStack trace:")[0].strip()
    return _LOCATION.sub("", text)
