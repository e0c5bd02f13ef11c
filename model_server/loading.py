"""Loading the model into a worker, and remembering why it failed if it did."""

from __future__ import annotations

import logging
import sys
import threading
import time
from importlib import import_module
from pathlib import Path

from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.errors import ModelLoadError, ModelNotReady, NoModelFn
from smlocal.model_server.images import Role, with_role
from smlocal.model_server.multi_model import ModelCache
from smlocal.model_server.predictors import detect, sklearn_model, user_script, xgboost_model
from smlocal.model_server.predictors.base import HandlerPredictor, regular_files

log = logging.getLogger(__name__)


def import_xgboost_alone() -> None:
    """Import xgboost without the scikit-learn it pulls in for its sklearn-style wrappers.

    Serving a Booster never uses those wrappers, and importing scikit-learn takes longer
    than loading the model (about 1.4 s here), which every worker of every endpoint pays.
    """
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]
    try:
        import xgboost  # noqa: F401
    finally:
        del sys.modules["sklearn"]


def load_predictor(settings: ServerSettings) -> HandlerPredictor:
    """Pick the framework by the artifact's files (or the user's script) and load it."""
    model_dir = settings.model_dir
    if settings.program:
        return user_script.load(model_dir, settings)
    framework = detect(model_dir)
    if framework is xgboost_model:
        import_xgboost_alone()
    if framework is None:
        found = ", ".join(p.name for p in regular_files(model_dir)) if model_dir.is_dir() else ""
        raise ModelLoadError(
            f"no model found in {model_dir}"
            + (f" (it holds: {found})" if found else " (missing or empty)")
            + f": expected {_expected_files()}, or SAGEMAKER_PROGRAM naming an inference.py "
            "with a model_fn"
        )
    if framework is sklearn_model:
        sklearn_model.require_model_fn(settings, framework, program=False)
    return HandlerPredictor(framework.load_model(model_dir), framework.handlers(settings))


def _expected_files() -> str:
    """`xgboost-model for XGBoost, model.joblib or a .pkl for scikit-learn`, from the registry."""
    expected = []
    for repository in with_role(Role.SERVED):
        if repository.predictor is not None:
            files = import_module(repository.predictor).EXPECTED_FILES
            expected.append(f"{files} for {repository.label}")
    return ", ".join(expected)


class ModelState:
    """One worker's model: not loaded yet, loaded, or failed with the reason."""

    def __init__(self, settings: ServerSettings, artifact_error: str | None = None) -> None:
        self.settings = settings
        self.predictor: HandlerPredictor | None = None
        self.error: str | None = artifact_error
        self.crash: NoModelFn | None = None  # every request fails out of the WSGI app
        # a multi-model endpoint's models (SAGEMAKER_MULTI_MODEL=true): loaded on first use
        self.models: ModelCache | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """True once the model (or a multi-model server's empty cache) answers invocations."""
        return self.predictor is not None or self.models is not None

    def load(self) -> None:
        """Load the model; a failure is logged and kept for /ping, never raised."""
        with self._lock:
            if self.ready or self.error is not None:
                return
            if self.settings.model_prefix is not None:
                self.models = ModelCache(self.settings, load_predictor)
                return
            started = time.perf_counter()
            try:
                self.predictor = load_predictor(self.settings)
            except NoModelFn as exc:
                self.crash = exc
                self.error = str(exc)
                return
            except ModelLoadError as exc:
                self.error = str(exc)
                log.error("model failed to load: %s", self.error)
                return
            log.info("model loaded in %.2f s", time.perf_counter() - started)

    def require(self) -> HandlerPredictor:
        """The predictor, or ModelNotReady carrying the load error."""
        if self.predictor is None:
            raise ModelNotReady(self.error or "the model is still loading")
        return self.predictor


def scratch_dir(base: Path | None = None) -> Path:
    """A private folder for unpacked artifacts."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="smlocal-serve-", dir=base))
