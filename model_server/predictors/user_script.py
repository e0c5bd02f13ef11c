"""A user's inference.py (SAGEMAKER_PROGRAM) overriding the framework's default handlers."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from smlocal.model_server.environment import SAGEMAKER_PROGRAM, ServerSettings
from smlocal.model_server.errors import ModelLoadError
from smlocal.model_server.predictors import detect, sklearn_model
from smlocal.model_server.predictors.base import HandlerPredictor

HANDLER_NAMES = ("input_fn", "predict_fn", "output_fn", "transform_fn")


def code_dir(settings: ServerSettings, model_dir: Path) -> Path:
    """Where the user's code is: SAGEMAKER_SUBMIT_DIRECTORY, else {model}/code, else /opt/ml/code.

    An s3:// or archive submit directory has been unpacked to a folder by then (see
    `smlocal.model_server.artifacts.prepare`); a container path (/opt/ml/model/code, as the SDK
    sets for repacked models) names the same folder in this server's model directory.
    """
    if settings.submit_directory is not None:
        return settings.local_path(settings.submit_directory)
    bundled = model_dir / "code"
    return bundled if bundled.is_dir() else settings.base_dir / "code"


def import_script(path: Path) -> ModuleType:
    """Import the script as a module, with its folder on sys.path for its own helpers."""
    if not path.is_file():
        raise ModelLoadError(f"{SAGEMAKER_PROGRAM}={path.name} but {path} does not exist")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelLoadError(f"importing {path.name} failed: {_where(exc)}") from None
    return module


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (line {frames[-1].lineno} of {Path(frames[-1].filename).name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"


def load(model_dir: Path, settings: ServerSettings) -> HandlerPredictor:
    """Load the model through the user's model_fn and wire up the user's handlers."""
    assert settings.program is not None
    program = settings.program if settings.program.endswith(".py") else settings.program + ".py"
    module = import_script(code_dir(settings, model_dir) / program)
    functions: dict[str, Any] = {name: getattr(module, name, None) for name in HANDLER_NAMES}
    overlapping = [n for n in HANDLER_NAMES[:3] if functions[n] is not None]
    if functions["transform_fn"] is not None and overlapping:
        raise ModelLoadError(
            f"{program} defines transform_fn and {', '.join(overlapping)}; define either "
            "transform_fn or input_fn/predict_fn/output_fn, as SageMaker's containers require"
        )
    framework = detect(model_dir)
    if getattr(module, "model_fn", None) is None:
        sklearn_model.require_model_fn(settings, framework, program=True)
    model_fn = getattr(module, "model_fn", None) or (framework.load_model if framework else None)
    if model_fn is None:
        raise ModelLoadError(
            f"{program} defines no model_fn and {model_dir} holds no model file smlocal can "
            "load by itself (xgboost-model, model.joblib, *.pkl); add a model_fn(model_dir)"
        )
    try:
        model = model_fn(str(model_dir))
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"model_fn in {program} failed: {_where(exc)}") from None
    defaults = (framework or sklearn_model).handlers(settings)
    return HandlerPredictor(model, defaults.with_user_functions(functions))
