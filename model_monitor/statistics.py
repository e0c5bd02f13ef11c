"""`statistics.json`: written from a dataset profile, read back as a baseline.

Typing follows the real files: `item_count`, `num_present`, `num_missing` and categorical
bucket counts are integers; every other number, `version` included, is a double.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.kll import Floats
from smlocal.model_monitor.profile import DatasetProfile, FeatureProfile


def _numerical(feature: FeatureProfile) -> dict[str, Any]:
    numeric = feature.numeric
    sketch = numeric.sketch
    buckets = [
        {"lower_bound": low, "upper_bound": high, "count": count}
        for low, high, count in sketch.buckets()
    ]
    return {
        "common": {"num_present": feature.present, "num_missing": feature.missing},
        "mean": numeric.mean,
        "sum": numeric.total,
        "std_dev": numeric.moments.std_dev,
        "min": numeric.minimum,
        "max": numeric.maximum,
        "distribution": {
            "kll": {
                "buckets": buckets,
                "sketch": {
                    "parameters": {"c": sketch.c, "k": float(sketch.k)},
                    "data": [level.tolist() for level in sketch.levels()],
                },
            }
        },
    }


def _string(feature: FeatureProfile) -> dict[str, Any]:
    body: dict[str, Any] = {
        "common": {"num_present": feature.present, "num_missing": feature.missing},
        "distinct_count": feature.distinct.distinct_count,
    }
    histogram = feature.distinct.histogram()
    if histogram:
        body["distribution"] = {
            "categorical": {"buckets": [{"value": v, "count": c} for v, c in histogram]}
        }
    return body


def feature_document(feature: FeatureProfile) -> dict[str, Any]:
    """One entry of `features`."""
    if feature.is_numeric:
        return {
            "name": feature.name,
            "inferred_type": str(feature.inferred_type),
            "numerical_statistics": _numerical(feature),
        }
    return {
        "name": feature.name,
        "inferred_type": str(feature.inferred_type),
        "string_statistics": _string(feature),
    }


def statistics_document(profile: DatasetProfile) -> dict[str, Any]:
    """The whole `statistics.json` body."""
    return {
        "version": 0.0,
        "dataset": {"item_count": profile.item_count},
        "features": [feature_document(f) for f in profile.features],
    }


@dataclass(frozen=True)
class BaselineFeatureStatistics:
    """What a monitoring run uses from one baseline feature."""

    name: str
    inferred_type: str | None
    sketch_levels: list[Floats] | None
    categorical: dict[str, int] | None


def _sketch(body: Mapping[str, Any]) -> list[Floats] | None:
    data = body.get("distribution", {}).get("kll", {}).get("sketch", {}).get("data")
    if not isinstance(data, list):
        return None
    return [np.asarray(level, dtype=np.float64) for level in data]


def _categorical(body: Mapping[str, Any]) -> dict[str, int] | None:
    buckets = body.get("distribution", {}).get("categorical", {}).get("buckets")
    if not isinstance(buckets, list):
        return None
    return {str(b["value"]): int(b["count"]) for b in buckets}


def parse_statistics(document: Any, source: str) -> list[BaselineFeatureStatistics]:
    """Baseline features from a parsed `statistics.json` (any valid JSON layout)."""
    try:
        features = []
        for entry in document["features"]:
            numeric = entry.get("numerical_statistics")
            strings = entry.get("string_statistics")
            features.append(
                BaselineFeatureStatistics(
                    name=str(entry["name"]),
                    inferred_type=entry.get("inferred_type"),
                    sketch_levels=_sketch(numeric) if isinstance(numeric, Mapping) else None,
                    categorical=_categorical(strings) if isinstance(strings, Mapping) else None,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnalysisError(f"Invalid baseline statistics file {source}: {exc!r}") from exc
    return features
