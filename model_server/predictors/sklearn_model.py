"""scikit-learn, answering like SageMaker's scikit-learn container with its default handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_server.codecs import (
    CSV,
    JSON,
    NPY,
    decode,
    encode_csv,
    encode_json_list,
    encode_npy,
)
from model_server.environment import ServerSettings
from model_server.errors import ModelLoadError
from model_server.predictors.base import Handlers, regular_files

MODEL_FILE = "model.joblib"
SUFFIXES = (".joblib", ".pkl", ".pickle")
CONTENT_TYPES = (CSV, JSON, NPY)
ACCEPTS = (JSON, CSV, NPY)
_ENCODERS = {JSON: encode_json_list, CSV: encode_csv, NPY: encode_npy}


def candidates(model_dir: Path) -> list[Path]:
    """Files in the folder that look like joblib or pickle dumps."""
    return [p for p in regular_files(model_dir) if p.suffix.lower() in SUFFIXES]


def recognises(model_dir: Path) -> bool:
    """True when the folder holds a model.joblib or a pickle."""
    return bool(candidates(model_dir))


def load_model(model_dir: str | Path) -> Any:
    """The default model_fn: model.joblib, or the folder's only joblib/pickle file."""
    import joblib

    folder = Path(model_dir)
    path = folder / MODEL_FILE
    if not path.is_file():
        found = candidates(folder)
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise ModelLoadError(
                f"expected {MODEL_FILE} (or a single .pkl) in {folder}, found: {names}"
            )
        path = found[0]
    try:
        return joblib.load(path)
    except Exception as exc:  # unpickling can raise anything the pickled classes raise
        raise ModelLoadError(f"cannot load {path.name}: {type(exc).__name__}: {exc}") from None


def input_fn(body: bytes, content_type: str | None) -> Any:
    """CSV, JSON or .npy into an array; a body without Content-Type is JSON, as in the container."""
    return decode(body, content_type, reads=CONTENT_TYPES, default=JSON, server="scikit-learn")


def predict_fn(data: Any, model: Any) -> Any:
    """model.predict(data)."""
    return model.predict(data)


def output_fn(predictions: Any, accept: str) -> tuple[bytes, str]:
    """JSON list, CSV one value per line, or .npy."""
    content_type = "text/csv; charset=utf-8" if accept == CSV else accept
    return _ENCODERS[accept](predictions), content_type


def handlers(settings: ServerSettings) -> Handlers:
    """The scikit-learn container's default handlers."""
    return Handlers(
        input_fn=input_fn,
        predict_fn=predict_fn,
        output_fn=output_fn,
        accepts=ACCEPTS,
        default_accept=settings.default_accept or JSON,
    )
