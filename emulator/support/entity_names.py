"""Whether names may name experiments and trials (botocore's ExperimentEntityName): a
pipeline's resolved PipelineExperimentConfig can hold a pipeline name too long for one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from smlocal.capture_sink.aws_shapes.models import sagemaker_shape


@cache
def _rule() -> tuple[re.Pattern[str], int]:
    metadata = sagemaker_shape("ExperimentEntityName").metadata
    return re.compile(metadata["pattern"]), int(metadata["max"])


def experiment_entity_names(config: Mapping[str, object]) -> bool:
    """True when the ExperimentName and TrialName the config gives are valid names."""
    pattern, longest = _rule()
    return all(
        isinstance(value, str) and len(value) <= longest and pattern.fullmatch(value) is not None
        for key, value in config.items()
        if key in ("ExperimentName", "TrialName")
    )
