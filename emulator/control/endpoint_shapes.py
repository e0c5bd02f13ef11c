"""What DescribeEndpoint shows of an endpoint's plan: variant summaries, capture summary."""

from __future__ import annotations

import hashlib

from smlocal.emulator.hosting.endpoint_records import (
    CaptureSummary,
    DataCaptureConfig,
    Plan,
    VariantSummary,
)
from smlocal.model_server.images import parse_image


def summaries(plan: Plan, now: float) -> list[VariantSummary]:
    """ProductionVariantSummary of each variant of a plan."""
    return [
        {
            "VariantName": v.name,
            "DeployedImages": [  # one per container, as for a multi-container model
                {
                    "SpecifiedImage": image,
                    "ResolvedImage": resolved_image(image),
                    "ResolutionTime": now,
                }
                for image in [c["Image"] for c in v.containers or ()] or [v.image]
            ],
            "CurrentWeight": v.weight,
            "DesiredWeight": v.weight,
            "CurrentInstanceCount": v.instance_count,
            "DesiredInstanceCount": v.instance_count,
        }
        for v in plan.variants
    ]


def resolved_image(image: str) -> str:
    """The image pinned to a digest, as DescribeEndpoint shows it."""
    repository = parse_image(image).repository
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def capture_summary(config: DataCaptureConfig | None) -> CaptureSummary | None:
    """DescribeEndpoint's DataCaptureConfig summary of an endpoint config's DataCaptureConfig."""
    if not config:
        return None
    enabled = config.get("EnableCapture", True)
    summary: CaptureSummary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
        "DestinationS3Uri": config["DestinationS3Uri"],
    }
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary
