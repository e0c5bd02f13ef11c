"""scikit-learn, answering like SageMaker's scikit-learn container with its default handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smlocal.model_server import sklearn_wire
from smlocal.model_server.codecs import (
    CSV,
    JSON,
    NPY,
    decode,
    encode_csv,
    encode_json_list,
    encode_npy,
)
from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.errors import ModelLoadError, no_program, program_without_model_fn
from smlocal.model_server.images import SKLEARN, parse_image
from smlocal.model_server.predictors.base import Handlers, regular_files
from smlocal.model_server.sklearn_wire import ErrorPage

MODEL_FILE = "model.joblib"
SUFFIXES = (".joblib", ".pkl", ".pickle")
EXPECTED_FILES = f"{MODEL_FILE} or a .pkl"  # what the no-model message says this framework loads
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
    """Lenient: CSV, JSON or .npy into a 2-D array (one CSV row is a row); no Content-Type: JSON."""
    return decode(body, content_type, reads=CONTENT_TYPES, default=JSON, server="scikit-learn")


def predict_fn(data: Any, model: Any) -> Any:
    """model.predict(data)."""
    return model.predict(data)


def output_fn(predictions: Any, accept: str) -> tuple[bytes, str]:
    """Lenient: JSON list, CSV one value per line, or .npy."""
    content_type = "text/csv; charset=utf-8" if accept == CSV else accept
    return _ENCODERS[accept](predictions), content_type


def serves(settings: ServerSettings, framework: object) -> bool:
    """True when the scikit-learn container serves: its image, or its files under no known image."""
    served_as = parse_image(settings.image).framework if settings.image else None
    if served_as is not None:
        return served_as == SKLEARN
    return getattr(framework, "__name__", None) == __name__


def require_model_fn(settings: ServerSettings, framework: object, *, program: bool) -> None:
    """Raise what SageMaker's scikit-learn container raises without a model_fn (not lenient).

    Its default_model_fn is sagemaker-containers' transformer.default_model_fn, which raises
    (aws/sagemaker-scikit-learn-container serving.py, v0.20.0 to v1.4-2-py312).
    """
    if settings.lenient or not serves(settings, framework):
        return
    raise program_without_model_fn() if program else no_program()


def handlers(settings: ServerSettings) -> Handlers:
    """The scikit-learn container's default handlers, as its image version answers.

    SMLOCAL_LENIENT_CONTAINERS=1 keeps smlocal's kinder ones: one CSV row predicts, media-type
    parameters are ignored, and refusals are 415/406/400 with the reason in the body.
    """
    default_accept = settings.default_accept or JSON
    if settings.lenient:
        return Handlers(
            input_fn=input_fn,
            predict_fn=predict_fn,
            output_fn=output_fn,
            accepts=ACCEPTS,
            default_accept=default_accept,
        )
    image = parse_image(settings.image) if settings.image else None

    def failure(exc: Exception) -> ErrorPage:
        return ErrorPage(f"{type(exc).__name__}: {exc}", image)

    return Handlers(
        input_fn=sklearn_wire.input_fn(image),
        predict_fn=predict_fn,
        output_fn=sklearn_wire.encode,
        default_accept=default_accept,
        failure=failure,
    )
