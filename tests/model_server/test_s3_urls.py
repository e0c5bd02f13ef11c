"""Every S3 URL form SageMaker takes for model data maps to one s3://bucket/key."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.s3_urls import S3UrlError, to_s3_uri


@pytest.mark.parametrize(
    "url",
    [
        "https://bkt.s3-us-west-2.amazonaws.com/p/model.tar.gz",  # AWS's Model Monitor notebook
        "https://bkt.s3.us-west-2.amazonaws.com/p/model.tar.gz",
        "https://s3.us-west-2.amazonaws.com/bkt/p/model.tar.gz",
        "https://s3-us-west-2.amazonaws.com/bkt/p/model.tar.gz",
        "https://bkt.s3.amazonaws.com/p/model.tar.gz",
        "https://s3.amazonaws.com/bkt/p/model.tar.gz",
        "https://bkt.s3.dualstack.eu-west-1.amazonaws.com/p/model.tar.gz",
        "https://s3.dualstack.eu-west-1.amazonaws.com/bkt/p/model.tar.gz",
        "https://BKT.S3.US-WEST-2.AMAZONAWS.COM/p/model.tar.gz".replace("BKT", "bkt"),
        "s3://bkt/p/model.tar.gz",
    ],
)
def test_each_form_names_the_same_object(url: str) -> None:
    assert to_s3_uri(url) == "s3://bkt/p/model.tar.gz"


def test_keys_are_percent_decoded_and_dotted_buckets_read_up_to_the_s3_label() -> None:
    assert to_s3_uri("https://bkt.s3.amazonaws.com/a%20b/c%2Bd.tar.gz") == "s3://bkt/a b/c+d.tar.gz"
    assert to_s3_uri("https://my.bkt.s3.us-east-1.amazonaws.com/k") == "s3://my.bkt/k"
    assert to_s3_uri("https://s3.us-east-1.amazonaws.com/my.bkt/k") == "s3://my.bkt/k"


def test_paths_pass_through_unchanged() -> None:
    assert to_s3_uri("/home/me/model.tar.gz") == "/home/me/model.tar.gz"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/x",
        "https://bucket.s3.amazonaws.com.evil.example/k",
        "https://evil-s3.amazonaws.com/k",
        "https://s3.amazonaws.com@evil.example/bkt/k",
        "https://bkt.s3.amazonaws.com:8443/k",
        "https://bkt.s3.amazonaws.com/k?X-Amz-Signature=abc",
        "https://bkt.s3.amazonaws.com/k#frag",
        "http://bkt.s3.amazonaws.com/k",
    ],
)
def test_hostile_or_foreign_urls_are_refused(url: str) -> None:
    with pytest.raises(S3UrlError, match=r"is not an Amazon S3 URL \(s3://BUCKET/KEY or "):
        to_s3_uri(url)


def test_a_path_style_url_needs_a_bucket() -> None:
    with pytest.raises(S3UrlError, match=r"^https://s3.amazonaws.com/ names no bucket$"):
        to_s3_uri("https://s3.amazonaws.com/")


def test_container_paths_map_to_the_servers_folders(tmp_path: Path) -> None:
    settings = ServerSettings.from_env(
        {"SAGEMAKER_BASE_DIR": str(tmp_path), "SMLOCAL_MODEL_DIR": str(tmp_path / "unpacked")}
    )
    assert settings.local_path("/opt/ml/model/code") == tmp_path / "unpacked" / "code"
    assert settings.local_path("file:///opt/ml/model/code") == tmp_path / "unpacked" / "code"
    assert settings.local_path("/opt/ml/model") == tmp_path / "unpacked"
    assert settings.local_path("/opt/ml/code") == tmp_path / "code"
    assert settings.local_path("/opt/ml/input/data") == tmp_path / "input" / "data"
    assert settings.local_path("/opt/ml/output") == tmp_path / "output"
    assert settings.local_path("/opt/mlx/code") == Path("/opt/mlx/code")
    assert settings.local_path("/srv/code") == Path("/srv/code")
