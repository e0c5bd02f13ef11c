"""`statistics.json`: written from a dataset profile, read back as a baseline.

Typing follows the real files: `item_count`, `num_present`, `num_missing` and categorical
bucket counts are integers; every other number, `version` included, is a double.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.kll import Floats
from smlocal.model_monitor.profile import DatasetProfile, FeatureProfile
from smlocal.model_monitor.quality_metrics import SECTIONS as MODEL_QUALITY_SECTIONS


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
    kll = (body.get("distribution") or {}).get("kll") or {}
    data = (kll.get("sketch") or {}).get("data")
    if not isinstance(data, list):
        return None
    return [np.asarray(level, dtype=np.float64) for level in data]


def _categorical(body: Mapping[str, Any]) -> dict[str, int] | None:
    buckets = ((body.get("distribution") or {}).get("categorical") or {}).get("buckets")
    if not isinstance(buckets, list):
        return None
    return {str(b["value"]): int(b["count"]) for b in buckets}


@dataclass(frozen=True)
class _Required:
    shape: Any


# The JSON types of what smlocal reads from `statistics.json`. Other keys may hold anything,
# and a null is taken as absent. Doubles may be "NaN", "Infinity" or "-Infinity" (Jackson).
NUMBER, COUNT, ANY = "a number", "a whole number", "anything"
_DISTRIBUTION = {
    "kll": {
        "buckets": [{"lower_bound": NUMBER, "upper_bound": NUMBER, "count": NUMBER}],
        "sketch": {"parameters": {"c": NUMBER, "k": NUMBER}, "data": [[NUMBER]]},
    },
    "categorical": {"buckets": [{"value": _Required(ANY), "count": _Required(COUNT)}]},
}
_COMMON = {"num_present": COUNT, "num_missing": COUNT}
_NUMBERS = {key: NUMBER for key in ("mean", "sum", "std_dev", "min", "max", "distinct_count")}
_BODY = {"common": _COMMON, **_NUMBERS, "distribution": _DISTRIBUTION}
_FEATURE = {"name": _Required(ANY), "numerical_statistics": _BODY, "string_statistics": _BODY}
_SHAPE = {"dataset": {"item_count": COUNT}, "features": _Required([_FEATURE])}


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _is_number(value: Any, whole: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    if whole:
        return not isinstance(value, str) and math.isfinite(value) and value == int(value)
    return not isinstance(value, str) or value in ("NaN", "Infinity", "-Infinity")


def _problem(value: Any, shape: Any, where: str) -> str | None:
    """The first value not of its shape's type, said in plain words (None: all is well)."""
    if shape in (NUMBER, COUNT):
        ok = _is_number(value, whole=shape == COUNT)
        return None if ok else f"{where} must be {shape}, not {_shown(value)}"
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where} must be a JSON array, not {_shown(value)}"
        found = (_problem(item, shape[0], f"{where}[{i}]") for i, item in enumerate(value))
        return next((problem for problem in found if problem), None)
    return _object_problem(value, shape, where) if isinstance(shape, Mapping) else None


def _object_problem(value: Any, shape: Mapping[str, Any], where: str) -> str | None:
    if not isinstance(value, Mapping):
        return f"{where or 'it'} must be a JSON object, not {_shown(value)}"
    for key, inner in shape.items():
        inside = f"{where}.{key}" if where else key
        if value.get(key) is None:
            if isinstance(inner, _Required):
                return f"{inside} is missing"
            continue
        problem = _problem(value[key], getattr(inner, "shape", inner), inside)
        if problem:
            return problem
    return None


def statistics_problem(document: Any) -> str | None:
    """What is of the wrong JSON type in a parsed `statistics.json`, in plain words, or None
    (e.g. `features[2].numerical_statistics.mean must be a number, not "q"`)."""
    return _problem(document, _SHAPE, "")


@dataclass(frozen=True)
class CheckedStatistics:
    """A parsed `statistics.json` that statistics_problem has passed. The report checks each
    document once, where it is read (so its message names the file), and hands this on: its
    later readers take it as checked instead of walking a large document again."""

    document: Any


def check_statistics(document: Any, source: str) -> CheckedStatistics:
    """`document` as checked; AnalysisError `{source}: {problem}` if something in it is of the
    wrong JSON type. A document already checked is returned as it is."""
    if isinstance(document, CheckedStatistics):
        return document
    sections = MODEL_QUALITY_SECTIONS.values() if isinstance(document, Mapping) else ()
    quality = [key for key in sections if key in document]
    if quality and "features" not in document:
        raise AnalysisError(
            f"{source}: this is a model-quality statistics file ({quality[0]}); data-quality "
            "statistics (with features) are needed here"
        )
    problem = statistics_problem(document)
    if problem:
        raise AnalysisError(f"{source}: {problem}")
    return CheckedStatistics(document)


def parse_statistics(
    document: Any | CheckedStatistics, source: str
) -> list[BaselineFeatureStatistics]:
    """Baseline features from a parsed `statistics.json` (any valid JSON layout); AnalysisError
    naming `source` (e.g. `Baseline statistics file x.json`) and what is wrong in it."""
    features = []
    for entry in check_statistics(document, source).document["features"]:
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
    return features
