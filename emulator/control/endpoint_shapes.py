"""What DescribeEndpoint shows of an endpoint's plan: variant summaries, capture summary."""

from __future__ import annotations

import hashlib
from typing import Any

from smlocal.model_server.images import parse_image


def summaries(plan: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """ProductionVariantSummary of each variant of a plan."""
    return [
        {
            "VariantName": v["VariantName"],
            "DeployedImages": [
                {
                    "SpecifiedImage": v["Image"],
                    "ResolvedImage": resolved_image(v["Image"]),
                    "ResolutionTime": now,
                }
            ],
            "CurrentWeight": v["Weight"],
            "DesiredWeight": v["Weight"],
            "CurrentInstanceCount": v["InstanceCount"],
            "DesiredInstanceCount": v["InstanceCount"],
        }
        for v in plan["Variants"]
    ]


def resolved_image(image: str) -> str:
    """The image pinned to a digest, as DescribeEndpoint shows it."""
    repository = parse_image(image).repository
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def capture_summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfig summary of an endpoint config's DataCaptureConfig."""
    if not config:
        return None
    enabled = config.get("EnableCapture", True)
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
        "DestinationS3Uri": config["DestinationS3Uri"],
    }
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary


def live_fields(plan: dict[str, Any], now: float) -> dict[str, Any]:
    """What DescribeEndpoint shows of a plan once it serves: its variants and its capture."""
    return {
        "ProductionVariants": summaries(plan, now),
        "DataCaptureConfig": capture_summary(plan.get("DataCaptureConfig")),
    }
