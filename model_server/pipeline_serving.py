"""gunicorn serving a multi-container instance's front (`smlocal.model_server.pipeline`)
instead of a model: the same server, hooks and capture as a model server, with nothing to
load."""

from __future__ import annotations

import logging
from typing import Any

from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.local_only import LocalOnly
from smlocal.model_server.pipeline import PipelineApp, PipelineSpec
from smlocal.model_server.serving import ModelServer, ServingHooks, WSGIApp


class PipelineServer(ModelServer):
    """A ModelServer whose workers serve the pipeline front."""

    def __init__(
        self, settings: ServerSettings, spec: PipelineSpec, hooks: ServingHooks | None = None
    ) -> None:
        self.spec = spec
        super().__init__(settings, hooks)

    def load(self) -> WSGIApp:
        """The front, wrapped by the hooks (data capture), refusing web pages and foreign
        host names as a model server does (`local_only`): it runs every container."""
        app = self.hooks.wrap(PipelineApp(self.spec, float(self.settings.timeout)))
        return LocalOnly(app, self.settings.allowed_hosts, self.settings.allowed_origins)

    def _post_worker_init(self, worker: Any) -> None:
        self.booted[0] = 1  # nothing to load: the worker serves at once


def run_pipeline(
    settings: ServerSettings, spec: PipelineSpec, hooks: ServingHooks | None = None
) -> None:
    """Serve the front until stopped."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    PipelineServer(settings, spec, hooks).run()
