"""The image registry: one parse of any image URI, the known repositories and their roles."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module

import pytest

from smlocal.model_server import images
from smlocal.model_server.images import (
    SKLEARN,
    XGBOOST,
    ImageVersion,
    Repository,
    Role,
    labels,
    listed,
    names,
    parse_image,
    repositories,
    tag_version,
    with_role,
)
from smlocal.model_server.predictors import FRAMEWORKS
from tests.support import ROOT

ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_an_xgboost_image() -> None:
    image = parse_image(f"{ECR}/sagemaker-xgboost:1.7-1")
    assert image.repository == f"{ECR}/sagemaker-xgboost"
    assert (image.name, image.tag, image.digest) == ("sagemaker-xgboost", "1.7-1", None)
    assert image.framework == XGBOOST
    assert image.version == ImageVersion(1, 7, 1)
    assert image.has(Role.SERVED)
    assert image.has(Role.TRAINED)
    assert not image.has(Role.ANALYZER)


def test_a_scikit_learn_image() -> None:
    image = parse_image(f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert image.repository == f"{ECR}/sagemaker-scikit-learn"
    assert image.tag == "1.2-1-cpu-py3"
    assert image.framework == SKLEARN
    assert image.version == ImageVersion(1, 2, 1)
    assert image.has(Role.SERVED)
    assert not image.has(Role.TRAINED)


def test_the_model_monitor_analyzer() -> None:
    image = parse_image(ANALYZER)
    assert (image.repository, image.tag, image.digest) == (ANALYZER, None, None)
    assert image.framework is None
    assert image.version is None
    assert image.has(Role.ANALYZER)
    assert not image.has(Role.SERVED)
    assert not image.has(Role.TRAINED)
    assert parse_image(f"{ANALYZER}:latest").has(Role.ANALYZER)
    assert parse_image(f"{ANALYZER}@{DIGEST}").has(Role.ANALYZER)


def test_digests_with_and_without_a_tag() -> None:
    pinned = parse_image(f"{ECR}/sagemaker-xgboost@{DIGEST}")
    assert (pinned.repository, pinned.tag, pinned.digest) == (
        f"{ECR}/sagemaker-xgboost",
        None,
        DIGEST,
    )
    assert pinned.framework == XGBOOST
    assert pinned.version is None  # no tag: the newest behaviour
    both = parse_image(f"{ECR}/sagemaker-xgboost:0.90-2@{DIGEST}")
    assert (both.tag, both.digest, both.version) == ("0.90-2", DIGEST, ImageVersion(0, 90, 2))


@pytest.mark.parametrize(
    ("uri", "repository"),
    [
        ("sagemaker-xgboost:1.7-1-cpu-py3", "sagemaker-xgboost"),
        ("localhost:5000/sagemaker-xgboost:1.0-1", "localhost:5000/sagemaker-xgboost"),
        (
            "registry.example.com/team/sagemaker-xgboost",
            "registry.example.com/team/sagemaker-xgboost",
        ),
        ("  sagemaker-xgboost:3.0-5\n", "sagemaker-xgboost"),
    ],
)
def test_any_registry_region_or_account(uri: str, repository: str) -> None:
    image = parse_image(uri)
    assert image.repository == repository
    assert image.framework == XGBOOST


@pytest.mark.parametrize(
    "uri",
    [
        f"{ECR}/my-own-model:latest",
        "123.dkr.ecr.us-east-1.amazonaws.com/my-sagemaker-xgboost:1",
        "sagemaker-xgboost-extra:1.7-1",
        "SageMaker-XGBoost:1.7-1",
        "sagemaker-xgboost:1.7+1",  # not a Docker tag
        "sagemaker-xgboost:",
        "sagemaker-xgboost@md5:0123",  # not a sha256 digest
        "sagemaker-xgboost@sha256:",
        "sagemaker-xgboost:1:2",
        "",
    ],
)
def test_unknown_images(uri: str) -> None:
    image = parse_image(uri)
    assert image.known is None
    assert image.framework is None
    assert image.version is None  # a version-like tag of an unknown image means nothing
    assert not any(image.has(role) for role in Role)


def test_an_unknown_image_still_parses() -> None:
    image = parse_image("example.com:443/a/b:1.7-1@sha256:abc")
    assert (image.repository, image.tag, image.digest) == (
        "example.com:443/a/b",
        "1.7-1",
        "sha256:abc",
    )
    assert image.version is None


def test_only_sagemaker_xgboost_images_are_trained() -> None:
    assert parse_image(f"{ECR}/sagemaker-xgboost:1.7-1").has(Role.TRAINED)
    assert parse_image("sagemaker-xgboost:1.7-1-cpu-py3").has(Role.TRAINED)
    assert not parse_image(f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3").has(Role.TRAINED)
    assert not parse_image("123.dkr.ecr.us-east-1.amazonaws.com/my-sagemaker-xgboost:1").has(
        Role.TRAINED
    )


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("0.90-1-cpu-py3", ImageVersion(0, 90, 1)),
        ("0.90-2", ImageVersion(0, 90, 2)),
        ("1.7-1", ImageVersion(1, 7, 1)),
        ("3.0-5", ImageVersion(3, 0, 5)),
        ("0.23-1-cpu-py3", ImageVersion(0, 23, 1)),
        ("0.20.0-cpu-py3", ImageVersion(0, 20, 1)),  # a patch number, no build: build 1
        ("1.2-1", ImageVersion(1, 2, 1)),
        ("latest", None),
        ("", None),
    ],
)
def test_tag_versions(tag: str, version: ImageVersion | None) -> None:
    assert tag_version(tag) == version


def test_versions_compare_as_numbers() -> None:
    assert ImageVersion(0, 90, 2) < ImageVersion(1, 0, 1)
    assert str(ImageVersion(0, 90, 2)) == "0.90-2"
    old = parse_image("sagemaker-scikit-learn:0.20.0-cpu-py3")
    assert not old.at_least(0, 23)
    assert old.at_least(0, 20)
    assert parse_image("sagemaker-scikit-learn").at_least(99, 0)  # unversioned: newest


def test_what_messages_list_for_todays_registry() -> None:
    assert labels(Role.SERVED) == "XGBoost and scikit-learn"
    assert names(Role.SERVED) == "sagemaker-xgboost and sagemaker-scikit-learn"
    assert labels(Role.TRAINED) == "XGBoost"
    assert repositories(Role.TRAINED) == "the sagemaker-xgboost repository"
    assert names(Role.ANALYZER) == "sagemaker-model-monitor-analyzer"


def test_listed() -> None:
    assert listed([]) == ""
    assert listed(["a"]) == "a"
    assert listed(["a", "b"]) == "a and b"
    assert listed(["a", "b", "c"]) == "a, b and c"


def test_a_new_entry_is_parsed_and_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytorch = Repository(
        "sagemaker-pytorch",
        "PyTorch",
        frozenset({Role.SERVED, Role.TRAINED}),
        framework="pytorch",
        predictor="smlocal.model_server.predictors.pytorch_model",
        wire="smlocal.model_server.pytorch_wire",
    )
    monkeypatch.setattr(images, "REPOSITORIES", (*images.REPOSITORIES, pytorch))
    image = parse_image(f"{ECR}/sagemaker-pytorch:2.1-gpu-py310")
    assert image.framework == "pytorch"
    assert image.version == ImageVersion(2, 1, 1)
    assert labels(Role.SERVED) == "XGBoost, scikit-learn and PyTorch"
    assert repositories(Role.TRAINED) == "the sagemaker-xgboost and sagemaker-pytorch repositories"


def test_served_entries_point_at_their_predictor_and_wire_modules() -> None:
    served = with_role(Role.SERVED)
    assert [r.framework for r in served] == [XGBOOST, SKLEARN]
    for repository in served:
        assert repository.predictor is not None
        assert repository.wire is not None
        predictor = import_module(repository.predictor)
        for name in ("recognises", "load_model", "handlers", "EXPECTED_FILES"):
            assert hasattr(predictor, name), (repository.predictor, name)
        import_module(repository.wire)
    # the model server asks the predictors in the registry's order (XGBoost wins a tie)
    assert [module.__name__ for module in FRAMEWORKS] == [r.predictor for r in served]


def test_entries_without_the_served_role_have_no_predictor() -> None:
    for repository in images.REPOSITORIES:
        served = Role.SERVED in repository.roles
        assert (repository.framework is not None) == served, repository.name
        assert (repository.predictor is not None) == served, repository.name


def test_the_registry_stays_light() -> None:
    """The emulator, the model server and the training child all import it."""
    code = (
        "import sys, smlocal.model_server.images; "
        "heavy = {'numpy', 'xgboost', 'sklearn', 'flask', 'boto3'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-P", "-c", code], check=True, cwd=ROOT)
