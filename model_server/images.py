"""The registry of SageMaker images: what an image URI names, and what smlocal does with it.

One parse takes any image URI apart (registry, region and account do not matter; a tag, a
digest or both may follow the repository). One table says which repositories smlocal knows
and in what role: served by its own model server (and then where the predictor and the
per-version wire behaviour live), trained by the built-in XGBoost algorithm, running user
scripts (processing jobs, script-mode training), or run as the Model Monitor analyzer of a
processing job. Backends, training, processing and every
message that lists what is supported read the table, so a framework is added here once.

The real containers changed behaviour between tags (XGBoost's CSV output, its default
evaluation metric, the content types it reads), so smlocal answers as the tag's version
does. Kept free of heavy imports: the emulator, the model server and the training child
all read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

XGBOOST = "xgboost"
SKLEARN = "scikit-learn"


class Role(Enum):
    """What smlocal does with an image of a known repository."""

    SERVED = "served by smlocal's model server, without Docker"
    TRAINED = "trained by smlocal's emulation of SageMaker's built-in algorithm"
    ANALYZER = "run as the Model Monitor analyzer of a processing job"
    SCRIPTS = "runs user scripts in processing jobs and script-mode training jobs"


@dataclass(frozen=True)
class Repository:
    """One repository of SageMaker's images that smlocal knows, any registry, region, account.

    For a served framework, `predictor` is the module with its default handlers and the
    artifact files it recognises, and `wire` the module whose table picks what the image's
    version does on the wire (the predictor asks it with the parsed image).
    """

    name: str  # the repository's last path part, as in .../sagemaker-xgboost:1.7-1
    label: str  # how messages name it: "XGBoost", "scikit-learn"
    roles: frozenset[Role]
    framework: str | None = None  # served: the framework the model server answers as
    predictor: str | None = None  # served: smlocal.model_server.predictors.<module>
    wire: str | None = None  # served: the module holding the per-version behaviour


REPOSITORIES: tuple[Repository, ...] = (  # served frameworks: the first wins an artifact tie
    Repository(
        "sagemaker-xgboost",
        "XGBoost",
        frozenset({Role.SERVED, Role.TRAINED, Role.SCRIPTS}),
        framework=XGBOOST,
        predictor="smlocal.model_server.predictors.xgboost_model",
        wire="smlocal.model_server.xgboost_wire",  # VERSIONS, wire_for
    ),
    Repository(
        "sagemaker-scikit-learn",
        "scikit-learn",
        frozenset({Role.SERVED, Role.SCRIPTS}),
        framework=SKLEARN,
        predictor="smlocal.model_server.predictors.sklearn_model",
        wire="smlocal.model_server.sklearn_wire",  # input_fn, ErrorPage: by at_least
    ),
    Repository(
        "sagemaker-model-monitor-analyzer",
        "Model Monitor analyzer",
        frozenset({Role.ANALYZER}),
    ),
)

# Docker's tag characters, and a sha256 digest: a URI with anything else names no known image.
_TAG_CHARS = re.compile(r"[\w.\-]+")
_DIGEST = re.compile(r"sha256:[0-9a-f]+")
# 0.90-1-cpu-py3, 1.7-1, 3.0-5, 1.2-1-cpu-py3, 0.23-1-cpu-py3, 1.2-1, and scikit-learn's first
# image, 0.20.0-cpu-py3 (a patch number, no build: build 1)
_TAG = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?:\.\d+)?(?:-(?P<build>\d+))?(?:-|$)")


@dataclass(frozen=True, order=True)
class ImageVersion:
    """A framework image's version, (major, minor, build) from a tag such as `0.90-2`.

    `minor` is the number as written, so 0.90 is (0, 90, ...) and compares below 1.0.
    """

    major: int
    minor: int
    build: int = 1

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}-{self.build}"


@dataclass(frozen=True)
class ImageUri:
    """An image URI taken apart: `{repository}[:{tag}][@{digest}]`, and what smlocal knows of it.

    `repository` keeps the registry and path (`683313688378.dkr.ecr.us-east-1.amazonaws.com/
    sagemaker-xgboost`). `known` is the registry's entry for it, None for any other image.
    `version` is the one its tag names, for a known repository only; None (`latest`, a digest
    only, an unknown form) means smlocal behaves as the newest image it knows.
    """

    repository: str
    tag: str | None
    digest: str | None
    known: Repository | None
    version: ImageVersion | None

    @property
    def name(self) -> str:
        """The repository's last path part, which the registry is keyed by."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def framework(self) -> str | None:
        """The framework smlocal's model server answers as for this image, if it serves it."""
        return self.known.framework if self.known is not None else None

    def has(self, role: Role) -> bool:
        """True when the image is of a known repository with this role."""
        return self.known is not None and role in self.known.roles

    def at_least(self, major: int, minor: int, build: int = 1) -> bool:
        """True when the image is this version or newer (an unversioned image is newest)."""
        return self.version is None or self.version >= ImageVersion(major, minor, build)


def parse_image(uri: str) -> ImageUri:
    """An image URI taken apart; any string parses (it may name no known image)."""
    reference, at, digest = uri.strip().partition("@")
    path, slash, last = reference.rpartition("/")
    name, colon, tag = last.rpartition(":") if ":" in last else (last, "", "")
    known = next((r for r in REPOSITORIES if r.name == name), None)
    if (colon and not _TAG_CHARS.fullmatch(tag)) or (at and not _DIGEST.fullmatch(digest)):
        known = None
    return ImageUri(
        repository=path + slash + name,
        tag=tag if colon else None,
        digest=digest if at else None,
        known=known,
        version=tag_version(tag) if known is not None else None,
    )


def tag_version(tag: str) -> ImageVersion | None:
    """The version in an image tag such as `0.90-1-cpu-py3` or `1.7-1`, else None."""
    found = _TAG.match(tag)
    if found is None:
        return None
    return ImageVersion(int(found["major"]), int(found["minor"]), int(found["build"] or 1))


def with_role(role: Role) -> list[Repository]:
    """The known repositories with this role, in the registry's order."""
    return [repository for repository in REPOSITORIES if role in repository.roles]


def listed(words: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`: how messages list what is supported."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def labels(role: Role) -> str:
    """The labels of the repositories with this role, listed: `XGBoost and scikit-learn`."""
    return listed([repository.label for repository in with_role(role)])


def names(role: Role) -> str:
    """The names of the repositories with this role, listed: `sagemaker-xgboost and ...`."""
    return listed([repository.name for repository in with_role(role)])


def repositories(role: Role) -> str:
    """`the sagemaker-xgboost repository`, or `the a and b repositories`."""
    many = len(with_role(role)) > 1
    return f"the {names(role)} {'repositories' if many else 'repository'}"
