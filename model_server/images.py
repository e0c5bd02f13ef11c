"""SageMaker's framework images and the version their tag names.

The real containers changed behaviour between tags (XGBoost's CSV output, its default
evaluation metric, the content types it reads), so smlocal answers as the tag's version
does. Kept free of heavy imports: the emulator, the model server and the training child
all read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

XGBOOST = "xgboost"
SKLEARN = "scikit-learn"

# {registry}/sagemaker-{framework}[:{tag}][@sha256:{digest}], any registry, region, account.
_IMAGE = re.compile(
    r"(?:^|/)sagemaker-(?P<framework>xgboost|scikit-learn)"
    r"(?::(?P<tag>[\w.\-]+))?(?:@sha256:[0-9a-f]+)?$"
)
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
class FrameworkImage:
    """Which of SageMaker's framework images an image URI names, and its version.

    `version` is None when the tag names none (`latest`, a digest only, an unknown form):
    smlocal then behaves as the newest image it knows.
    """

    framework: str
    version: ImageVersion | None

    def at_least(self, major: int, minor: int, build: int = 1) -> bool:
        """True when the image is this version or newer (an unversioned image is newest)."""
        return self.version is None or self.version >= ImageVersion(major, minor, build)


def parse_image(uri: str) -> FrameworkImage | None:
    """The framework image an image URI names, or None for any other image."""
    found = _IMAGE.search(uri.strip())
    if found is None:
        return None
    return FrameworkImage(found["framework"], tag_version(found["tag"] or ""))


def tag_version(tag: str) -> ImageVersion | None:
    """The version in an image tag such as `0.90-1-cpu-py3` or `1.7-1`, else None."""
    found = _TAG.match(tag)
    if found is None:
        return None
    return ImageVersion(int(found["major"]), int(found["minor"]), int(found["build"] or 1))
