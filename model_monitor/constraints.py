"""`constraints.json`: suggested from a profile, and read back (with the user's edits).

Reading accepts any valid JSON the SDK or a person may produce: compact one-line JSON, ints
where doubles were written, unknown keys (ignored), features removed, `inferred_type` changed,
thresholds changed, and per-feature `monitoring_config_overrides` either under
`string_constraints` (older SDKs) or on the feature itself (SDK 2.257), also spelled
`monitoringConfigOverrides` as the developer guide does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from smlocal.model_monitor.datatypes import DataType
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.profile import DatasetProfile, FeatureProfile

ENABLED, DISABLED = "Enabled", "Disabled"
ROBUST, SIMPLE = "Robust", "Simple"
LINFINITY, CHI_SQUARED = "LInfinity", "ChiSquared"
_METHODS = {"robust": ROBUST, "linf_robust": ROBUST, "simple": SIMPLE, "linf_simple": SIMPLE}
_CATEGORICAL = {"linfinity": LINFINITY, "chisquared": CHI_SQUARED}


@dataclass(frozen=True)
class MonitoringConfig:
    """`monitoring_config`, with the defaults the real analyzer writes."""

    evaluate_constraints: bool = True
    emit_metrics: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    perform_comparison: bool = True
    comparison_threshold: float = 0.1
    comparison_method: str = ROBUST
    categorical_comparison_threshold: float = 0.1
    categorical_drift_method: str = LINFINITY

    def document(self) -> dict[str, Any]:
        """The block as the analyzer writes it (key order as in real files)."""
        return {
            "evaluate_constraints": _flag(self.evaluate_constraints),
            "emit_metrics": _flag(self.emit_metrics),
            "datatype_check_threshold": self.datatype_check_threshold,
            "domain_content_threshold": self.domain_content_threshold,
            "distribution_constraints": {
                "perform_comparison": _flag(self.perform_comparison),
                "comparison_threshold": self.comparison_threshold,
                "comparison_method": self.comparison_method,
                "categorical_comparison_threshold": self.categorical_comparison_threshold,
                "categorical_drift_method": self.categorical_drift_method,
            },
        }

    def overridden(self, body: Any, where: str) -> MonitoringConfig:
        """This config with the keys present in `body` replacing ours."""
        if body is None:
            return self
        if not isinstance(body, Mapping):
            raise AnalysisError(f"{where} must be a JSON object")
        distribution = body.get("distribution_constraints") or {}
        if not isinstance(distribution, Mapping):
            raise AnalysisError(f"{where}.distribution_constraints must be a JSON object")
        merged = {**body, **distribution}
        changes: dict[str, Any] = {}
        for key in ("evaluate_constraints", "emit_metrics", "perform_comparison"):
            if key in merged:
                changes[key] = _parse_flag(merged[key], f"{where}.{key}")
        for key in (
            "datatype_check_threshold",
            "domain_content_threshold",
            "comparison_threshold",
            "categorical_comparison_threshold",
        ):
            if key in merged:
                changes[key] = _parse_number(merged[key], f"{where}.{key}")
        if "comparison_threshold" in changes and "categorical_comparison_threshold" not in merged:
            # Documented default: the categorical threshold follows comparison_threshold.
            changes["categorical_comparison_threshold"] = changes["comparison_threshold"]
        if "comparison_method" in merged:
            changes["comparison_method"] = _choice(merged["comparison_method"], _METHODS, where)
        if "categorical_drift_method" in merged:
            value = merged["categorical_drift_method"]
            changes["categorical_drift_method"] = _choice(value, _CATEGORICAL, where)
        return replace(self, **changes)


def _flag(value: bool) -> str:
    return ENABLED if value else DISABLED


def _parse_flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("enabled", "disabled"):
        return value.strip().lower() == "enabled"
    raise AnalysisError(f"{where} must be Enabled or Disabled, not {value!r}")


def _parse_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise AnalysisError(f"{where} must be a number, not {value!r}")
    try:
        return float(value)
    except ValueError:
        raise AnalysisError(f"{where} must be a number, not {value!r}") from None


def _choice(value: Any, choices: Mapping[str, str], where: str) -> str:
    key = str(value).strip().lower()
    if key not in choices:
        allowed = ", ".join(sorted(set(choices.values())))
        raise AnalysisError(f"{where}: {value!r} is not one of {allowed}")
    return choices[key]


def categorical_drift_method(value: str) -> str:
    """Validate a `categorical_drift_method` environment entry."""
    return _choice(value, _CATEGORICAL, "categorical_drift_method")


def _feature_document(feature: FeatureProfile, item_count: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": feature.name,
        "inferred_type": str(feature.inferred_type),
        "completeness": feature.completeness(item_count),
    }
    if feature.is_numeric:
        body["num_constraints"] = {"is_non_negative": feature.numeric.minimum >= 0}
    elif (histogram := feature.distinct.histogram()) and feature.inferred_type == DataType.STRING:
        body["string_constraints"] = {"domains": [value for value, _ in histogram]}
    return body


def suggest_constraints(profile: DatasetProfile, config: MonitoringConfig) -> dict[str, Any]:
    """The `constraints.json` the analyzer suggests for a dataset."""
    return {
        "version": 0.0,
        "features": [_feature_document(f, profile.item_count) for f in profile.features],
        "monitoring_config": config.document(),
    }


@dataclass(frozen=True)
class FeatureConstraints:
    """One feature's constraints, with its effective monitoring config."""

    name: str
    inferred_type: str | None
    completeness: float | None
    is_non_negative: bool | None
    domains: tuple[str, ...] | None
    config: MonitoringConfig = field(default_factory=MonitoringConfig)


@dataclass(frozen=True)
class BaselineConstraints:
    """A parsed `constraints.json`."""

    features: tuple[FeatureConstraints, ...]
    config: MonitoringConfig

    def feature(self, name: str) -> FeatureConstraints | None:
        """Constraints of a feature, None when the file has none for it."""
        return next((f for f in self.features if f.name == name), None)


def _parse_feature(entry: Any, config: MonitoringConfig, index: int) -> FeatureConstraints:
    where = f"features[{index}]"
    if not isinstance(entry, Mapping) or "name" not in entry:
        raise AnalysisError(f"{where} must be a JSON object with a name")
    numbers = entry.get("num_constraints") or {}
    strings = entry.get("string_constraints") or {}
    if not isinstance(numbers, Mapping) or not isinstance(strings, Mapping):
        raise AnalysisError(f"{where}: num_constraints and string_constraints must be objects")
    for key in ("monitoring_config_overrides", "monitoringConfigOverrides"):
        config = config.overridden(strings.get(key), f"{where}.string_constraints.{key}")
        config = config.overridden(entry.get(key), f"{where}.{key}")
    completeness = entry.get("completeness")
    domains = strings.get("domains")
    non_negative = numbers.get("is_non_negative")
    return FeatureConstraints(
        name=str(entry["name"]),
        inferred_type=None if entry.get("inferred_type") is None else str(entry["inferred_type"]),
        completeness=None if completeness is None else _parse_number(completeness, where),
        is_non_negative=None if non_negative is None else bool(non_negative),
        domains=tuple(str(d) for d in domains) if isinstance(domains, list) else None,
        config=config,
    )


def parse_constraints(document: Any) -> BaselineConstraints:
    """Constraints from a parsed `constraints.json`."""
    if not isinstance(document, Mapping):
        raise AnalysisError("constraints must be a JSON object")
    config = MonitoringConfig().overridden(document.get("monitoring_config"), "monitoring_config")
    entries = document.get("features") or []
    if not isinstance(entries, list):
        raise AnalysisError("constraints features must be a JSON array")
    features = tuple(_parse_feature(e, config, i) for i, e in enumerate(entries))
    return BaselineConstraints(features, config)
