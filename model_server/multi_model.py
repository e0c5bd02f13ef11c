"""A multi-model endpoint's models in one worker: fetched on first use, kept least recently
used first out under a memory budget.

SageMaker starts a multi-model container with SAGEMAKER_MULTI_MODEL=true and no model; each
invocation names its model in the `X-Amzn-SageMaker-Target-Model` header, a key relative to
the model's ModelDataUrl prefix. The platform downloads that model.tar.gz onto the instance's
disk on first use and asks the container to load it; here the model server does both itself
(it reaches S3 through AWS_ENDPOINT_URL_S3, the emulator's edge by default). Unpacked models
stay on disk, shared by the instance's workers (a file lock keeps two from unpacking the same
one), so a worker that replaces a dead one loads from disk without downloading again.

A loaded model is counted by its unpacked size (smlocal cannot measure what a predictor holds
in memory); when loading one would pass the budget, the least recently used are unloaded.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from smlocal.model_server.artifacts import extract_archive, model_data_location
from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.errors import ArtifactError, InvocationError, ModelLoadError
from smlocal.model_server.predictors.base import HandlerPredictor

log = logging.getLogger(__name__)

TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"
# The runtime error the emulator's edge answers instead of a ModelError (see runtime/invoke.py)
RUNTIME_ERROR_HEADER = "X-Smlocal-Runtime-Error"
# How the edge learns what the invocation cost in loading (its CloudWatch metrics)
CACHE_HEADER = "X-Smlocal-Model-Cache"  # "hit" or "miss"
LOAD_HEADER = "X-Smlocal-Model-Load-Microseconds"
LOADED_HEADER = "X-Smlocal-Loaded-Models"  # the worker's loaded models after the call

Loader = Callable[[ServerSettings], HandlerPredictor]


class TargetModelMissing(InvocationError):
    """No object at prefix + TargetModel: the runtime's ValidationError, as SageMaker words it."""

    status = 400


class TargetModelTooLarge(InvocationError):
    """The model alone is larger than the worker's budget (MMS answers 507 for no memory)."""

    status = 507


class TargetModelUnusable(InvocationError):
    """The archive cannot be unpacked or the model cannot be loaded: the container's 500."""

    status = 500


@dataclass
class Loaded:
    """One model in memory."""

    predictor: HandlerPredictor
    size: int


@dataclass(frozen=True)
class Lookup:
    """A predictor for one invocation, and whether it was already loaded."""

    predictor: HandlerPredictor
    hit: bool
    load_microseconds: int
    loaded: int  # models the worker holds once this one is in


class ModelCache:
    """The models of one worker, least recently used first."""

    def __init__(self, settings: ServerSettings, loader: Loader) -> None:
        assert settings.model_prefix is not None
        self.settings = settings
        self.prefix = settings.model_prefix
        self.root = cache_root(settings.model_dir)
        self.budget = settings.multi_model_memory_bytes
        self.loader = loader
        self.loaded: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def names(self) -> list[str]:
        """The loaded models, least recently used first."""
        with self._lock:
            return list(self.loaded)

    def unload(self, target: str) -> bool:
        """Drop a model from memory (its files stay on disk); False if it was not loaded."""
        with self._lock:
            return self.loaded.pop(target, None) is not None

    def get(self, target: str) -> Lookup:
        """The target's predictor: from memory, else fetched (once) and loaded."""
        with self._lock:
            found = self.loaded.get(target)
            if found is not None:
                self.loaded.move_to_end(target)
                return Lookup(found.predictor, True, 0, len(self.loaded))
            gate = self._loading.setdefault(target, threading.Lock())
        with gate:
            with self._lock:
                found = self.loaded.get(target)
                if found is not None:  # another thread loaded it meanwhile
                    self.loaded.move_to_end(target)
                    return Lookup(found.predictor, True, 0, len(self.loaded))
            started = time.perf_counter()
            folder = self._files(target)
            size = folder_size(folder)
            if size > self.budget:
                raise TargetModelTooLarge(
                    f"model {target} unpacks to {size} bytes, more than the {self.budget} bytes "
                    "a multi-model worker may hold (SMLOCAL_MULTI_MODEL_MEMORY_MB)"
                )
            predictor = self._load(target, folder)
            elapsed = int((time.perf_counter() - started) * 1e6)
            if not self.settings.model_cache:
                shutil.rmtree(folder, ignore_errors=True)
                return Lookup(predictor, False, elapsed, 0)
            with self._lock:
                self._make_room(size)
                self.loaded[target] = Loaded(predictor, size)
                count = len(self.loaded)
            log.info("loaded model %s (%d bytes) in %.3f s", target, size, elapsed / 1e6)
            return Lookup(predictor, False, elapsed, count)

    def _make_room(self, size: int) -> None:
        """Unload least recently used models until `size` more bytes fit (lock held)."""
        used = sum(m.size for m in self.loaded.values())
        while self.loaded and used + size > self.budget:
            name, gone = self.loaded.popitem(last=False)
            used -= gone.size
            log.info("unloaded model %s (%d bytes) to make room", name, gone.size)

    def _load(self, target: str, folder: Path) -> HandlerPredictor:
        try:
            return self.loader(replace(self.settings, model_dir=folder))
        except ModelLoadError as exc:
            raise TargetModelUnusable(f"Failed to load model {target}: {exc}") from None

    def _files(self, target: str) -> Path:
        """The target's unpacked folder, downloaded and unpacked now if no worker did before."""
        digest = hashlib.sha256(target.encode()).hexdigest()[:24]
        folder = self.root / digest
        with _file_lock(self.root / f".{digest}.lock"):
            if folder.is_dir() and any(folder.iterdir()):
                return folder
            shutil.rmtree(folder, ignore_errors=True)
            with tempfile.TemporaryDirectory(dir=self.root) as tmp:
                archive = Path(tmp) / "model.tar.gz"
                source = self._download(target, archive)
                try:
                    extract_archive(
                        archive, folder, source=source, max_bytes=self.settings.max_model_bytes
                    )
                except ArtifactError as exc:
                    raise TargetModelUnusable(f"Failed to load model {target}: {exc}") from None
        return folder

    def _download(self, target: str, archive: Path) -> str:
        """Copy prefix + target to `archive`; its URI or path."""
        if self.prefix.startswith("s3://"):
            uri = join_prefix(self.prefix, target)
            _download_s3(uri, archive)
            return uri
        base = Path(self.prefix.removeprefix("file://")).expanduser().resolve()
        path = (base / target).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            raise TargetModelMissing(missing_message(str(base), target))
        shutil.copyfile(path, archive)
        return str(path)


def cache_root(model_dir: Path) -> Path:
    """Where unpacked models go: the model folder, or a private one when it is read-only
    (a container's /opt/ml/model mounted from the host)."""
    if os.access(model_dir, os.W_OK):
        return model_dir
    return Path(tempfile.mkdtemp(prefix="smlocal-models-"))


def join_prefix(prefix: str, target: str) -> str:
    """The absolute URI of a target: the prefix, a "/" if it has none, the relative key."""
    return prefix + target if prefix.endswith("/") else f"{prefix}/{target}"


def missing_message(bucket: str, key: str) -> str:
    """SageMaker's words for a target model that is not there."""
    return (
        f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure that "
        "there is an object located at the URL and that the role passed to CreateModel has "
        "permissions to download the model."
    )


def _download_s3(uri: str, archive: Path) -> None:
    import boto3  # only multi-model servers need it, and it is slow to import
    from botocore.exceptions import BotoCoreError, ClientError

    where = model_data_location(uri)
    try:
        boto3.client("s3").download_file(where.bucket, where.key, str(archive))
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NoSuchBucket", "403", "AccessDenied"):
            raise TargetModelMissing(missing_message(where.bucket, where.key)) from None
        raise TargetModelUnusable(f"cannot download {uri}: {exc}") from None
    except BotoCoreError as exc:
        raise TargetModelUnusable(f"cannot download {uri}: {exc}") from None


def folder_size(folder: Path) -> int:
    """The bytes of the regular files under folder: what a loaded model is counted as."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
