"""The model server's settings, read once from the environment with SageMaker's own names.

This module is also the environment contract between the emulator and the model servers it
starts: every SAGEMAKER_* and SMLOCAL_* variable a model server reads is named here, and the
emulator's backends set them by these names. Data capture's own variables are defined in
`capture_sink.settings` (capture_sink imports nothing of ours) and named here again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smlocal.capture_sink import settings as capture_settings

# SageMaker's container contract (the names its containers and the Python SDK use).
SAGEMAKER_BIND_TO_PORT = "SAGEMAKER_BIND_TO_PORT"
SAGEMAKER_BASE_DIR = "SAGEMAKER_BASE_DIR"
SAGEMAKER_MODEL_SERVER_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
SAGEMAKER_MODEL_SERVER_TIMEOUT = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
SAGEMAKER_PROGRAM = "SAGEMAKER_PROGRAM"
SAGEMAKER_SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
SAGEMAKER_CONTAINER_LOG_LEVEL = "SAGEMAKER_CONTAINER_LOG_LEVEL"
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
SAGEMAKER_MAX_PAYLOAD_IN_MB = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
SAGEMAKER_REGION = "SAGEMAKER_REGION"
# the XGBoost container's selectable inference output, e.g. "predicted_label,probability"
SAGEMAKER_INFERENCE_OUTPUT = "SAGEMAKER_INFERENCE_OUTPUT"
# set by a batch transform job: the XGBoost container answers one line per prediction
SAGEMAKER_BATCH = "SAGEMAKER_BATCH"
# "true" on a multi-model endpoint's containers (Mode MultiModel): start with no model loaded
SAGEMAKER_MULTI_MODEL = "SAGEMAKER_MULTI_MODEL"

# smlocal's own additions, for running outside a container.
SMLOCAL_BIND_HOST = "SMLOCAL_BIND_HOST"
SMLOCAL_MODEL_DIR = "SMLOCAL_MODEL_DIR"
SMLOCAL_MODEL_DATA = "SMLOCAL_MODEL_DATA"
SMLOCAL_WORKER_THREADS = "SMLOCAL_WORKER_THREADS"
SMLOCAL_PARENT_PID = "SMLOCAL_PARENT_PID"
# the folder of the Unix socket the emulator's edge reaches this server on: removed (if empty)
# when the server exits, also when it stops on its own because the emulator was killed
SMLOCAL_EDGE_SOCKET_DIR = "SMLOCAL_EDGE_SOCKET_DIR"
SMLOCAL_MAX_MODEL_BYTES = "SMLOCAL_MAX_MODEL_BYTES"  # the most a model archive may unpack to
SMLOCAL_IMAGE = "SMLOCAL_IMAGE"  # the image the variant names: its tag picks the behaviour
# a multi-model endpoint's model data prefix (s3:// or a folder): TargetModel is relative to it
SMLOCAL_MODEL_PREFIX = "SMLOCAL_MODEL_PREFIX"
# "0": MultiModelConfig.ModelCacheSetting Disabled (every invocation loads its model afresh)
SMLOCAL_MODEL_CACHE = "SMLOCAL_MODEL_CACHE"
# the memory a multi-model instance's worker may fill with loaded models, in MB (see
# docs/fidelity.md: loaded models are counted by their unpacked size)
SMLOCAL_MULTI_MODEL_MEMORY_MB = "SMLOCAL_MULTI_MODEL_MEMORY_MB"
# "1": accept what the real container refuses (JSON for XGBoost, one CSV row for scikit-learn);
# off by default, so local tests fail where AWS would (docs/fidelity.md lists what it changes)
SMLOCAL_LENIENT_CONTAINERS = "SMLOCAL_LENIENT_CONTAINERS"
# JSON {"Mode": "Serial"|"Direct", "Containers": [{"Hostname": ..., "Port": ...}]}: this server
# is the front of a multi-container instance, not a model (smlocal.model_server.pipeline)
SMLOCAL_PIPELINE = "SMLOCAL_PIPELINE"
# host names and web origins served besides loopback ones (as the edge reads them)
SMLOCAL_ALLOWED_HOSTS = "SMLOCAL_ALLOWED_HOSTS"
SMLOCAL_ALLOWED_ORIGINS = "SMLOCAL_ALLOWED_ORIGINS"
# The prefix of smlocal's own variables: the emulator sets them, a model's Environment cannot.
SMLOCAL_PREFIX = "SMLOCAL_"

# Data capture's, which capture_sink.settings reads as the model server starts.
SMLOCAL_CAPTURE_CONFIG = capture_settings.SMLOCAL_CAPTURE_CONFIG  # JSON; unset: no capture
SMLOCAL_ENDPOINT_NAME = capture_settings.SMLOCAL_ENDPOINT_NAME
SMLOCAL_VARIANT_NAME = capture_settings.SMLOCAL_VARIANT_NAME
SMLOCAL_CAPTURE_SPOOL_DIR = capture_settings.SMLOCAL_CAPTURE_SPOOL_DIR
SMLOCAL_CAPTURE_ROLL_SECONDS = capture_settings.SMLOCAL_CAPTURE_ROLL_SECONDS
SMLOCAL_CAPTURE_DISK_THRESHOLD = capture_settings.SMLOCAL_CAPTURE_DISK_THRESHOLD
SMLOCAL_CAPTURE_FAILED = capture_settings.SMLOCAL_CAPTURE_FAILED
SMLOCAL_CAPTURE_SEED = capture_settings.SMLOCAL_CAPTURE_SEED
SMLOCAL_CAPTURE_INVOCATION_SOURCE = capture_settings.SMLOCAL_CAPTURE_INVOCATION_SOURCE

DEFAULT_BASE_DIR = "/opt/ml"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_THREADS = 4
# Several GB covers SageMaker's framework models and most deep-learning ones, which real
# endpoints unpack onto a 30 GB volume by default; a tar bomb is stopped long before it fills
# a laptop's disk. Larger models raise it with SMLOCAL_MAX_MODEL_BYTES.
DEFAULT_MAX_MODEL_BYTES = 10 * 1024**3


class SettingsError(ValueError):
    """A variable in the environment has a value the server cannot use."""


def _listed(raw: str) -> frozenset[str]:
    """A comma-separated list, blanks dropped."""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def max_model_bytes(env: Mapping[str, str]) -> int:
    """The cap on what a model archive may unpack to (SMLOCAL_MAX_MODEL_BYTES, in bytes)."""
    return _int(env, SMLOCAL_MAX_MODEL_BYTES, DEFAULT_MAX_MODEL_BYTES, 1)


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A strict boolean: 1/true/yes/on or 0/false/no/off; unset or empty is false."""
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={env[name]!r} is not a boolean; use true or false")


def _log_level(env: Mapping[str, str]) -> int:
    raw = env.get(SAGEMAKER_CONTAINER_LOG_LEVEL, "").strip()
    if not raw:
        return logging.INFO
    if raw.isdigit():
        return int(raw)
    level = logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        raise SettingsError(f"{SAGEMAKER_CONTAINER_LOG_LEVEL}={raw!r} is not a logging level")
    return level


def default_model_memory() -> int:
    """Half of this machine's physical memory: what a multi-model worker fills by default."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError):
        return 4 * 1024**3


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs to start, independent of where it came from."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    bind: str | None = None  # a gunicorn bind string (e.g. "fd://3") that replaces host:port
    # more gunicorn bind strings, served besides (the emulator's edge: a Unix socket's fd)
    also_bind: tuple[str, ...] = ()
    base_dir: Path = Path(DEFAULT_BASE_DIR)  # what /opt/ml is outside a container
    model_dir: Path = Path(DEFAULT_BASE_DIR) / "model"
    model_data: str | None = None  # a .tar.gz or s3:// URI to materialise into model_dir
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads: int = DEFAULT_THREADS
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    program: str | None = None
    submit_directory: str | None = None
    log_level: int = logging.INFO
    default_accept: str | None = None
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_MB * 1024 * 1024
    region: str | None = None
    parent_pid: int | None = None  # stop when this process (the emulator) goes away
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES  # refuse model archives unpacking to more
    image: str | None = None  # the SageMaker image served as (None: the newest behaviour)
    lenient: bool = False  # kinder than the real container (SMLOCAL_LENIENT_CONTAINERS=1)
    inference_output: str | None = None  # SAGEMAKER_INFERENCE_OUTPUT; set even when empty
    # SAGEMAKER_BATCH, read as the container reads it (os.getenv): any non-empty value is on
    batch: bool = False
    # a multi-model endpoint's model prefix (SAGEMAKER_MULTI_MODEL=true): None on a single model
    model_prefix: str | None = None
    model_cache: bool = True  # SMLOCAL_MODEL_CACHE
    multi_model_memory_bytes: int = field(default_factory=default_model_memory)
    allowed_hosts: frozenset[str] = frozenset()  # SMLOCAL_ALLOWED_HOSTS (see local_only)
    allowed_origins: frozenset[str] = frozenset()  # SMLOCAL_ALLOWED_ORIGINS

    def local_path(self, path: str) -> Path:
        """A container path as this server sees it: /opt/ml/model/... in the model folder,
        other /opt/ml/... under SAGEMAKER_BASE_DIR; file:// dropped; other paths as given.

        The SDK sets SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code when it repacks code into
        model.tar.gz; without Docker the model is unpacked elsewhere, so map it here.
        """
        path = path.removeprefix("file://")
        container = Path(DEFAULT_BASE_DIR)
        where = Path(path)
        if where.is_relative_to(container / "model"):
            return self.model_dir / where.relative_to(container / "model")
        if where.is_relative_to(container):
            return self.base_dir / where.relative_to(container)
        return where

    @property
    def bind_address(self) -> str:
        """The address gunicorn binds to."""
        return self.bind or f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        """Read the settings from the environment (os.environ unless given)."""
        env = os.environ if env is None else env
        base = Path(env.get(SAGEMAKER_BASE_DIR) or DEFAULT_BASE_DIR)
        return cls(
            host=env.get(SMLOCAL_BIND_HOST) or "127.0.0.1",
            port=_int(env, SAGEMAKER_BIND_TO_PORT, DEFAULT_PORT, 0),
            base_dir=base,
            model_dir=Path(env.get(SMLOCAL_MODEL_DIR) or base / "model"),
            model_data=env.get(SMLOCAL_MODEL_DATA) or None,
            workers=_int(env, SAGEMAKER_MODEL_SERVER_WORKERS, os.cpu_count() or 1, 1),
            threads=_int(env, SMLOCAL_WORKER_THREADS, DEFAULT_THREADS, 1),
            timeout=_int(env, SAGEMAKER_MODEL_SERVER_TIMEOUT, DEFAULT_TIMEOUT_SECONDS, 1),
            program=env.get(SAGEMAKER_PROGRAM) or None,
            submit_directory=env.get(SAGEMAKER_SUBMIT_DIRECTORY) or None,
            log_level=_log_level(env),
            default_accept=env.get(SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT) or None,
            max_payload_bytes=_int(env, SAGEMAKER_MAX_PAYLOAD_IN_MB, DEFAULT_MAX_PAYLOAD_MB, 1)
            * 1024
            * 1024,
            region=env.get(SAGEMAKER_REGION) or env.get("AWS_REGION") or None,
            parent_pid=_int(env, SMLOCAL_PARENT_PID, 0, 0) or None,
            max_model_bytes=max_model_bytes(env),
            image=env.get(SMLOCAL_IMAGE) or None,
            inference_output=env.get(SAGEMAKER_INFERENCE_OUTPUT),
            lenient=_flag(env, SMLOCAL_LENIENT_CONTAINERS),
            batch=bool(env.get(SAGEMAKER_BATCH)),
            model_prefix=_model_prefix(env),
            model_cache=env.get(SMLOCAL_MODEL_CACHE, "1").strip() != "0",
            multi_model_memory_bytes=_int(
                env, SMLOCAL_MULTI_MODEL_MEMORY_MB, default_model_memory() // 1048576, 1
            )
            * 1048576,
            allowed_hosts=_listed(env.get(SMLOCAL_ALLOWED_HOSTS, "").lower()),
            allowed_origins=_listed(env.get(SMLOCAL_ALLOWED_ORIGINS, "")),
        )


def _model_prefix(env: Mapping[str, str]) -> str | None:
    """The prefix TargetModel is relative to, when SAGEMAKER_MULTI_MODEL is true."""
    if env.get(SAGEMAKER_MULTI_MODEL, "").strip().lower() != "true":
        return None
    prefix = env.get(SMLOCAL_MODEL_PREFIX, "").strip()
    if not prefix:
        raise SettingsError(f"{SAGEMAKER_MULTI_MODEL}=true needs {SMLOCAL_MODEL_PREFIX}")
    return prefix
