"""A tuning job's ParameterRanges: checked as SageMaker checks them, and mapped to and from
the unit interval, where the strategies search.

Every range is searched as one coordinate in [0, 1]. A value is drawn by mapping a point
of that coordinate through the range's scaling: Linear evenly between MinValue and
MaxValue; Logarithmic evenly between their logarithms (both must be above 0);
ReverseLogarithmic evenly between the logarithms of 1 - value (continuous ranges within
[0, 1) only), so values close to 1 are drawn more often. Auto is Linear here (SageMaker
may pick a scaling from the range's bounds). Integers are drawn over [MinValue,
MaxValue + 1) and rounded down; a categorical range's values split the interval evenly.
Values go to the training job as SageMaker passes every hyperparameter: as strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.errors import ValidationException

MAX_RANGES = 30  # SageMaker: at most 30 hyperparameters searched
MAX_VALUES = 30  # values of one categorical range


@dataclass(frozen=True)
class Range:
    """One hyperparameter's range."""

    name: str
    kind: str  # "Integer", "Continuous" or "Categorical"
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    def value(self, unit: float) -> str:
        """The hyperparameter's value (as a string) at a point of [0, 1]."""
        unit = min(max(unit, 0.0), 1.0)
        if self.kind == "Categorical":
            return self.values[min(int(unit * len(self.values)), len(self.values) - 1)]
        if self.kind == "Integer":
            if self.scaling == "Logarithmic":
                drawn = math.exp(_between(math.log(self.low), math.log(self.high + 1), unit))
            else:
                drawn = _between(self.low, self.high + 1, unit)
            return str(int(min(math.floor(drawn), self.high)))
        if self.scaling == "Logarithmic":
            return repr(math.exp(_between(math.log(self.low), math.log(self.high), unit)))
        if self.scaling == "ReverseLogarithmic":
            far, near = math.log(1 - self.low), math.log(1 - self.high)
            return repr(1 - math.exp(_between(far, near, unit)))
        return repr(_between(self.low, self.high, unit))

    def unit(self, value: str) -> float | None:
        """The point of [0, 1] a value comes from (`value`'s inverse); None when the value is
        not in the range (a warm start's parent searched other ranges)."""
        try:
            if self.kind == "Categorical":
                return (self.values.index(value) + 0.5) / len(self.values)
            number = float(value)
        except ValueError:
            return None
        if not self.low <= number <= self.high:
            return None
        if self.kind == "Integer":
            low, high, number = self.low, self.high + 1, number + 0.5
        else:
            low, high = self.low, self.high
        if self.scaling == "Logarithmic":
            low, high, number = math.log(low), math.log(high), math.log(number)
        elif self.scaling == "ReverseLogarithmic":
            low, high, number = math.log(1 - low), math.log(1 - high), math.log(1 - number)
        return 0.5 if high == low else min(max((number - low) / (high - low), 0.0), 1.0)

    @property
    def size(self) -> int | None:
        """How many distinct values the range holds (None: a continuum)."""
        if self.kind == "Categorical":
            return len(self.values)
        if self.kind == "Integer":
            return int(self.high - self.low) + 1
        return None


def _between(low: float, high: float, unit: float) -> float:
    return low + (high - low) * unit


def parse_ranges(ranges: dict[str, Any] | None) -> list[Range]:
    """The ranges of a ParameterRanges member, in a fixed order, or SageMaker's
    ValidationException."""
    ranges = ranges or {}
    if ranges.get("AutoParameters"):
        raise ValidationException(
            "AutoParameters (Autotune) are not emulated: smlocal searches the Integer, "
            "Continuous and Categorical ranges it is given."
        )
    parsed = [_numeric(r, "Integer") for r in ranges.get("IntegerParameterRanges", [])]
    parsed += [_numeric(r, "Continuous") for r in ranges.get("ContinuousParameterRanges", [])]
    parsed += [_categorical(r) for r in ranges.get("CategoricalParameterRanges", [])]
    names = [r.name for r in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationException(
            f"The hyperparameter {repeated[0]} is given more than one range in ParameterRanges."
        )
    if len(parsed) > MAX_RANGES:
        raise ValidationException(
            f"ParameterRanges has {len(parsed)} hyperparameters; the maximum number of "
            f"hyperparameters a tuning job can search is {MAX_RANGES}."
        )
    return parsed


def _number(text: str, name: str, integer: bool) -> float:
    try:
        return float(int(text)) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValidationException(
            f"The value {text!r} of hyperparameter range {name} is not {kind}."
        ) from None


def _numeric(spec: dict[str, Any], kind: str) -> Range:
    name, scaling = spec["Name"], spec.get("ScalingType", "Auto")
    low = _number(spec["MinValue"], name, kind == "Integer")
    high = _number(spec["MaxValue"], name, kind == "Integer")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValidationException(
            f"The MinValue of hyperparameter range {name} must be less than or equal to its "
            f"MaxValue (MinValue {spec['MinValue']}, MaxValue {spec['MaxValue']})."
        )
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationException(
            f"Hyperparameter range {name} uses Logarithmic scaling, which requires a "
            f"MinValue greater than 0 (MinValue {spec['MinValue']})."
        )
    if scaling == "ReverseLogarithmic" and (kind == "Integer" or low < 0 or high >= 1):
        raise ValidationException(
            f"Hyperparameter range {name} uses ReverseLogarithmic scaling, which is only "
            "valid for continuous ranges within 0 <= MinValue <= MaxValue < 1."
        )
    return Range(name, kind, low, high, scaling)


def _categorical(spec: dict[str, Any]) -> Range:
    values = tuple(spec["Values"])
    if not values or len(values) > MAX_VALUES or len(set(values)) != len(values):
        raise ValidationException(
            f"Categorical hyperparameter range {spec['Name']} must list between 1 and "
            f"{MAX_VALUES} distinct values."
        )
    return Range(spec["Name"], "Categorical", values=values)
