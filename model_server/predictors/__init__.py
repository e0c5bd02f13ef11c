"""Framework plugins: each recognises its artifact files and supplies default handlers.

Which plugins there are, and in what order they are asked, is the image registry's list of
served frameworks (`smlocal.model_server.images`): adding a framework is its predictor
module plus its registry entry.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from types import ModuleType

from smlocal.model_server.images import Role, with_role

FRAMEWORKS: tuple[ModuleType, ...] = tuple(
    import_module(repository.predictor)
    for repository in with_role(Role.SERVED)
    if repository.predictor is not None
)


def detect(model_dir: Path) -> ModuleType | None:
    """The framework whose artifact files are in the folder (the registry's first wins a tie)."""
    if not model_dir.is_dir():
        return None
    for framework in FRAMEWORKS:
        if framework.recognises(model_dir):
            return framework
    return None
