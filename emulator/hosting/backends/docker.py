"""`--backend docker`: each instance of a variant in its own container, through the Docker SDK.

The images smlocal serves itself (SageMaker's XGBoost and scikit-learn: Role.SERVED in
smlocal.model_server.images) run as our model server image (built from
model_server/Dockerfile when missing); any other image runs as given, with SageMaker's
contract: `serve` as the argument, the model unpacked into /opt/ml/model, port 8080.
Containers reach the edge (for S3 uploads of captures) through `host.docker.internal`, which
the emulator also listens on (the Docker bridge's gateway address, never a public one).
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from smlocal.emulator.hosting.backends import (
    VariantPlan,
    capture_environment,
    log_path,
)
from smlocal.emulator.settings import EmulatorSettings
from smlocal.model_server.environment import (
    SAGEMAKER_MODEL_SERVER_WORKERS,
    SMLOCAL_CAPTURE_SPOOL_DIR,
    SMLOCAL_IMAGE,
)
from smlocal.model_server.images import Role, parse_image

log = logging.getLogger(__name__)
MODEL_SERVER_IMAGE = "smlocal-model-server:latest"
SPOOL_IN_CONTAINER = "/opt/ml/capture-spool"


class DockerUnavailable(RuntimeError):
    """No Docker engine answers."""


def _client() -> Any:
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise DockerUnavailable(f"the docker Python package is missing: {exc}") from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        raise DockerUnavailable(f"no Docker engine answers: {exc}") from None
    return client


def bridge_gateway() -> str | None:
    """The Docker bridge's gateway address on this host, if an engine answers."""
    try:
        network = _client().networks.get("bridge")
        return str(network.attrs["IPAM"]["Config"][0]["Gateway"])
    except (DockerUnavailable, KeyError, IndexError, Exception):
        return None


class DockerServer:
    """A running instance container."""

    def __init__(self, container: Any, port: int, log: Path) -> None:
        self.container = container
        self.port = port
        self.log_path = log

    def alive(self) -> bool:
        """True while the container runs."""
        try:
            self.container.reload()
        except Exception:
            return False
        return self.container.status in ("created", "running")

    def stop(self, timeout: float = 40.0) -> None:
        """docker stop (SIGTERM, then SIGKILL after the timeout), keep the log, remove."""
        try:
            self.container.stop(timeout=int(timeout))
            self.log_path.write_bytes(self.container.logs())
            self.container.remove(force=True)
        except Exception:
            log.exception("could not stop container %s", getattr(self.container, "id", "?"))


class DockerBackend:
    """Starts a container per instance."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.client = _client()

    def image_for(self, plan: VariantPlan) -> str:
        """Our model server image for SageMaker's framework images, else the image as given."""
        if not parse_image(plan.image).has(Role.SERVED):
            return plan.image
        try:
            self.client.images.get(MODEL_SERVER_IMAGE)
        except Exception:
            root = Path(__file__).resolve().parents[3]
            log.info("building %s from %s", MODEL_SERVER_IMAGE, root)
            self.client.images.build(
                path=str(root), dockerfile="model_server/Dockerfile", tag=MODEL_SERVER_IMAGE
            )
        return MODEL_SERVER_IMAGE

    def start(self, plan: VariantPlan) -> DockerServer:
        """Run the container with the (already unpacked) model mounted read-only."""
        model_dir = plan.unpacked_model
        port = _free_port()
        capture = capture_environment(self.settings, plan)
        volumes = {str(model_dir): {"bind": "/opt/ml/model", "mode": "ro"}}
        if capture:
            volumes[capture[SMLOCAL_CAPTURE_SPOOL_DIR]] = {
                "bind": SPOOL_IN_CONTAINER,
                "mode": "rw",
            }
            Path(capture[SMLOCAL_CAPTURE_SPOOL_DIR]).mkdir(parents=True, exist_ok=True)
            capture[SMLOCAL_CAPTURE_SPOOL_DIR] = SPOOL_IN_CONTAINER
        container = self.client.containers.run(
            self.image_for(plan),
            command="serve",
            detach=True,
            environment=container_environment(self.settings, plan, capture),
            volumes=volumes,
            ports={"8080/tcp": ("127.0.0.1", port)},
            extra_hosts={"host.docker.internal": "host-gateway"},
            labels={
                "smlocal.endpoint": plan.endpoint,
                "smlocal.variant": plan.variant,
                "smlocal.instance": plan.instance_id,
            },
        )
        return DockerServer(container, port, log_path(self.settings, plan))


def container_environment(
    settings: EmulatorSettings, plan: VariantPlan, capture: dict[str, str]
) -> dict[str, str]:
    """The container's environment: the model's, then smlocal's own, which it cannot change."""
    edge = f"http://host.docker.internal:{settings.port}"
    return {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ENDPOINT_URL": edge,
        "AWS_ENDPOINT_URL_S3": settings.s3_endpoint or edge,
        SAGEMAKER_MODEL_SERVER_WORKERS: str(plan.workers),
        **plan.environment,
        **capture,
        SMLOCAL_IMAGE: plan.image,
        **settings.model_server_switches,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
