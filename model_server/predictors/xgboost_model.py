"""XGBoost, answering as SageMaker's XGBoost container of the image served (algorithm mode)."""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from smlocal.model_server.codecs import (
    CSV,
)
from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.errors import (
    ModelLoadError,
    PredictionError,
)
from smlocal.model_server.predictors.base import Handlers, regular_files
from smlocal.model_server.xgboost_files import MODEL_FILE, xgboost_message
from smlocal.model_server.xgboost_io import Responder, Selected, fit_width, read_request
from smlocal.model_server.xgboost_legacy import is_legacy_binary, to_json_bytes
from smlocal.model_server.xgboost_selectable import (
    objective_of,
    selected_keys,
)
from smlocal.model_server.xgboost_wire import (
    wire_for,
)

SUFFIXES = (".ubj", ".bst", ".xgb")
EXPECTED_FILES = MODEL_FILE  # what the no-model message says this framework loads


def candidates(model_dir: Path) -> list[Path]:
    """Files in the folder that look like XGBoost models, by name or by content."""
    return [p for p in regular_files(model_dir) if _looks_like_xgboost(p)]


def _looks_like_xgboost(path: Path) -> bool:
    if path.name.startswith(MODEL_FILE) or path.suffix.lower() in SUFFIXES:
        return True
    if path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as f:
        return f.read(12).replace(b" ", b"").startswith(b'{"learner"')


def recognises(model_dir: Path) -> bool:
    """True when the folder holds an xgboost-model (or another XGBoost model file)."""
    return bool(candidates(model_dir))


def load_model(model_dir: str | Path) -> Any:
    """The default model_fn: the folder's Booster, set up for single-threaded prediction."""
    return load_booster(model_file(Path(model_dir)))


def model_file(model_dir: Path) -> Path:
    """The one model file to load: xgboost-model when present, else the only candidate."""
    preferred = model_dir / MODEL_FILE
    if preferred.is_file():
        return preferred
    found = candidates(model_dir)
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ModelLoadError(
            f"expected one XGBoost model file named {MODEL_FILE} in {model_dir}, found: {names}"
        )
    return found[0]


class _PickledBooster:
    def __setstate__(self, state: Any) -> None:
        self.state = state


def _bytearray(*args: Any) -> bytearray:
    """bytearray as a Booster's pickled handle calls it: from bytes, or empty; never from a
    size, which would allocate that many bytes before anything else is checked."""
    if not args:
        return bytearray()
    if len(args) == 1 and isinstance(args[0], bytes | bytearray):
        return bytearray(args[0])
    raise ModelLoadError("the pickle calls bytearray with something other than bytes")


# Whatever a malformed pickle makes the unpickler raise (a bad protocol, a bad memo, bad
# UTF-8, a huge length, ...): the model cannot be read.
_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    OverflowError,
    MemoryError,
    RecursionError,
)


class _BoosterPeek(pickle.Unpickler):
    """Reads a pickled Booster's state without running any code from the pickle."""

    # All a pickled Booster names (protocols 2 to 5; 0 and 1 start without 0x80 and are not
    # read as pickles). copyreg._reconstructor and object went: no Booster pickle needs them.
    _ALLOWED: ClassVar[dict[tuple[str, str], Any]] = {
        ("xgboost.core", "Booster"): _PickledBooster,
        ("builtins", "bytearray"): _bytearray,
    }

    def find_class(self, module: str, name: str) -> Any:
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise ModelLoadError(f"it is a pickle of {module}.{name}, not of an xgboost Booster")
        return found


def pickled_state(path: Path) -> dict[str, Any] | None:
    """The state of a pickled Booster (read without running pickle code), or None if no pickle."""
    with open(path, "rb") as f:
        if f.read(1) != b"\x80":
            return None
        f.seek(0)
        try:
            peeked = _BoosterPeek(f).load()
        except ModelLoadError as exc:
            raise ModelLoadError(f"cannot load {path.name}: {exc}") from None
        except _PICKLE_ERRORS as exc:
            detail = (str(exc) or type(exc).__name__)[:200]
            message = f"cannot load {path.name}: not a readable pickle ({detail})"
            raise ModelLoadError(message) from None
    state = getattr(peeked, "state", None) if isinstance(peeked, _PickledBooster) else None
    if not isinstance(state, dict) or not isinstance(state.get("handle"), bytes | bytearray):
        raise ModelLoadError(f"cannot load {path.name}: the pickled Booster holds no model")
    for key in ("feature_names", "feature_types"):
        value = state.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ModelLoadError(f"cannot load {path.name}: the pickled {key} are not strings")
    return state


def load_booster(path: Path) -> Any:
    """A Booster from any XGBoost model file: JSON, UBJSON, legacy binary, or a pickle of one.

    Legacy binary models (XGBoost 0.72-1.7's save_model, and the `handle` of a pickled
    Booster from SageMaker's 0.90-1 to 1.2-2 containers) are converted to JSON first, since
    XGBoost 2 and later cannot read them.
    """
    import xgboost as xgb

    state = pickled_state(path)
    raw = bytes(state["handle"]) if state is not None else path.read_bytes()
    booster = xgb.Booster()
    try:
        if is_legacy_binary(raw):
            booster.load_model(bytearray(_converted(path, raw, state)))
        elif state is not None and raw.startswith(b'{"'):
            with _old_format_quiet():
                booster.load_model(bytearray(_snapshot_model(path, raw)))
        elif state is not None:
            with _old_format_quiet():
                booster.__setstate__(state)  # a serialised Booster, not a model file
        else:
            booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as exc:
        raise ModelLoadError(f"cannot load {path.name}: {xgboost_message(exc)}") from None
    if state is not None and not is_legacy_binary(raw):
        booster = _first_trees(booster, _best_ntree_limit(state))
    # One thread per prediction: the server's workers already use the cores, and for single
    # rows the thread-pool hand-off costs more than the trees.
    booster.set_param({"nthread": 1})
    return booster


def _snapshot_model(path: Path, raw: bytes) -> bytes:
    """The model of a JSON-text snapshot, which XGBoost 1.3-1.6 pickled and XGBoost 3 refuses.

    A snapshot is {"Config": ..., "Model": ...}; the model part is a JSON model file.
    """
    try:
        snapshot = json.loads(raw)
    except ValueError as exc:
        message = f"cannot load {path.name}: its pickled snapshot is not JSON ({exc})"
        raise ModelLoadError(message) from None
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("Model"), dict):
        raise ModelLoadError(f"cannot load {path.name}: its pickled snapshot holds no model")
    return json.dumps(snapshot["Model"]).encode()


@contextmanager
def _old_format_quiet() -> Iterator[None]:
    """Silence XGBoost 3's advice to re-save models pickled by XGBoost 1.x.

    The snapshot's model loads whole (only the old training configuration is skipped), and
    the advice is for the model's owner, whom `smlocal models convert` serves.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "(?s).*loading a serialized model", UserWarning)
        warnings.filterwarnings("ignore", "(?s).*Found JSON model saved before", UserWarning)
        yield


def _best_ntree_limit(state: dict[str, Any] | None) -> int | None:
    """The pickled Booster's best_ntree_limit, which SageMaker's containers predicted with.

    XGBoost 0.90-1.3's train() set it on every Booster (all trees unless early stopping
    stopped earlier), and the 0.90-1 to 1.7-1 containers pass it as ntree_limit.
    """
    limit = state.get("best_ntree_limit") if state is not None else None
    return limit if isinstance(limit, int) and limit > 0 else None


def _first_trees(booster: Any, ntree_limit: int | None) -> Any:
    """The booster cut to ntree_limit trees per output group (as predict's ntree_limit)."""
    if ntree_limit is None:
        return booster
    gbm = json.loads(booster.save_config())["learner"]["gradient_booster"]
    if gbm["name"] == "gblinear":
        return booster
    parallel = int((gbm.get("gbtree") or gbm)["gbtree_model_param"]["num_parallel_tree"])
    rounds = ntree_limit // max(parallel, 1)
    return booster[:rounds] if 0 < rounds < booster.num_boosted_rounds() else booster


def _converted(path: Path, raw: bytes, state: dict[str, Any] | None) -> bytes:
    """The legacy binary model as XGBoost JSON, with the pickle's feature names if any."""
    names = state.get("feature_names") if state is not None else None
    types = state.get("feature_types") if state is not None else None
    try:
        return to_json_bytes(
            raw, feature_names=names, feature_types=types, ntree_limit=_best_ntree_limit(state)
        )
    except ModelLoadError as exc:
        raise ModelLoadError(f"cannot load {path.name}: {exc}") from None


def input_fn(body: bytes, content_type: str | None) -> Any:
    """Decode CSV, libsvm or recordio-protobuf rows as the container does (JSON is refused)."""
    return read_request(body, content_type, lenient=False)


def predict_fn(data: Any, booster: Any) -> Any:
    """In-place prediction, after matching the row width to the model's features."""
    return _predict(fit_width(data, booster.num_features()), booster)


def _predict(rows: Any, booster: Any) -> Any:
    import xgboost as xgb

    try:
        if _is_linear(booster):
            return booster.predict(xgb.DMatrix(rows, nthread=1), validate_features=False)
        return booster.inplace_predict(rows)
    except xgb.core.XGBoostError as exc:
        raise PredictionError(f"XGBoost prediction failed: {xgboost_message(exc)}") from None


def _is_linear(booster: Any) -> bool:
    """True for a gblinear Booster, which XGBoost 3 cannot predict in place; asked once."""
    known = getattr(booster, "_smlocal_gblinear", None)
    if known is None:
        config = json.loads(booster.save_config())
        known = config["learner"]["gradient_booster"]["name"] == "gblinear"
        booster._smlocal_gblinear = known
    return bool(known)


def output_fn(predictions: Any, accept: str) -> tuple[bytes, str]:
    """The newest image's default answer for an Accept (as sent, or the default)."""
    return Responder(wire_for(None), CSV, lenient=False)(predictions, accept)


def handlers(settings: ServerSettings) -> Handlers:
    """The built-in XGBoost container's behaviour, for the image version served, as handlers."""
    wire = wire_for(settings.image)
    lenient = settings.lenient
    selectable = (
        wire.selectable_output and settings.inference_output is not None and not settings.program
    )
    keys = selected_keys(settings.inference_output or "") if selectable else None

    def read(body: bytes, content_type: str | None) -> Any:
        return read_request(body, content_type, lenient=lenient)

    def predict(data: Any, booster: Any) -> Any:
        predictions = _predict(fit_width(data, booster.num_features(), lenient=lenient), booster)
        if keys is None:
            return predictions
        return Selected(predictions, *objective_of(booster))

    return Handlers(
        input_fn=read,
        predict_fn=predict,
        output_fn=Responder(wire, settings.default_accept or CSV, lenient, keys, settings.batch),
        default_accept=settings.default_accept or CSV,
        empty_body_status=204,
    )
