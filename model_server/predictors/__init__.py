"""Framework plugins: each recognises its artifact files and supplies default handlers."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from smlocal.model_server.predictors import sklearn_model, xgboost_model

FRAMEWORKS: tuple[ModuleType, ...] = (xgboost_model, sklearn_model)


def detect(model_dir: Path) -> ModuleType | None:
    """The framework whose artifact files are in the folder (XGBoost wins a tie)."""
    if not model_dir.is_dir():
        return None
    for framework in FRAMEWORKS:
        if framework.recognises(model_dir):
            return framework
    return None
