"""DescribeEndpoint's ResolvedImage: the specified image's repository, pinned to a digest."""

from __future__ import annotations

import hashlib

import pytest

from smlocal.emulator.control.endpoint_shapes import resolved_image

ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        (f"{ECR}/sagemaker-xgboost:1.7-1", f"{ECR}/sagemaker-xgboost"),
        (f"{ECR}/sagemaker-xgboost@sha256:abc", f"{ECR}/sagemaker-xgboost"),
        (f"{ECR}/sagemaker-xgboost:1.7-1@sha256:abc", f"{ECR}/sagemaker-xgboost"),
        ("localhost:5000/my-model", "localhost:5000/my-model"),
        ("localhost:5000/my-model:2", "localhost:5000/my-model"),
        ("example.com/my-model:latest", "example.com/my-model"),
        ("a:b:c", "a:b"),
    ],
)
def test_the_repository_keeps_its_registry_and_loses_tag_and_digest(
    image: str, repository: str
) -> None:
    digest = hashlib.sha256(image.encode()).hexdigest()
    assert resolved_image(image) == f"{repository}@sha256:{digest}"


def test_pending_variants_split_shadows_and_show_serverless_configs() -> None:
    from smlocal.emulator.control.endpoint_shapes import pending_variants, summaries
    from smlocal.emulator.hosting.endpoint_records import Plan, PlannedVariant

    def planned(name: str, **extra: object) -> PlannedVariant:
        return PlannedVariant(name, "m", f"{ECR}/sagemaker-xgboost:1.7-1", None, {}, 2, False,
                              1.0, None, **extra)  # type: ignore[arg-type]  # fmt: skip

    config = {"MemorySizeInMB": 2048, "MaxConcurrency": 4}
    plan = Plan("c", [planned("Prod", serverless_config=config), planned("Shadow", shadow=True)])
    assert pending_variants(plan, shadow=False) == [
        {"VariantName": "Prod", "DesiredWeight": 1.0, "DesiredServerlessConfig": config}
    ]
    assert pending_variants(plan, shadow=True) == [
        {"VariantName": "Shadow", "DesiredWeight": 1.0, "DesiredInstanceCount": 2}
    ]
    prod, shadow = summaries(plan, 0.0)
    assert prod["CurrentServerlessConfig"] == config
    assert "CurrentInstanceCount" not in prod
    assert shadow["CurrentInstanceCount"] == 2
