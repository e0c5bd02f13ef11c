"""The pipeline definition's expressions: `Get`, `Std:Join`, `Std:JsonGet`, and conditions.

Pure functions over a `Scope` that answers what a path names: a parameter's value, an
execution variable, a step's properties (its job's Describe output), a property file's JSON.
A reference that cannot be resolved raises `StepFailed`, whose message is the FailureReason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class StepFailed(Exception):
    """A step failed; the message is its FailureReason. `kind` is the retry policies' name
    for the failure (e.g. `SageMaker.JOB_INTERNAL_ERROR`), when one applies."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Scope:
    """What an expression can name."""

    parameters: dict[str, Any]
    execution: Callable[[str], Any]  # an execution variable's value (KeyError: no such)
    properties: Callable[[str], Any]  # a step's properties (KeyError: it has not run)
    property_file: Callable[[str, str], Any]  # (step, file name) -> the file's JSON
    s3_json: Callable[[str], Any]  # an S3 object's JSON (JsonGet's S3Uri form)


def resolve(value: Any, scope: Scope) -> Any:
    """The value with every expression in it replaced by what it stands for."""
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        return get(value["Get"], scope)
    if set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        return str(join.get("On", "")).join(_text(resolve(v, scope)) for v in join["Values"])
    if set(value) == {"Std:JsonGet"}:
        return json_get(value["Std:JsonGet"], scope)
    return {key: resolve(item, scope) for key, item in value.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def get(path: str, scope: Scope) -> Any:
    """What `{"Get": path}` names."""
    head, _, rest = path.partition(".")
    if head == "Parameters":
        if rest not in scope.parameters:
            raise StepFailed(f"The pipeline definition refers to parameter {rest!r}, which "
                             "it does not declare.")  # fmt: skip
        return scope.parameters[rest]
    if head == "Execution":
        try:
            return scope.execution(rest)
        except KeyError:
            raise StepFailed(f"Unknown execution variable Execution.{rest}.") from None
    if head == "Steps":
        step, _, member = rest.partition(".")
        try:
            properties = scope.properties(step)
        except KeyError:
            raise StepFailed(f"Step {step} has not run, so {path} has no value.") from None
        return walk(properties, member, path)
    raise StepFailed(f"Cannot resolve {{'Get': {path!r}}}: a reference starts with "
                     "Parameters, Execution or Steps.")  # fmt: skip


def tokens(path: str) -> Iterator[str | int]:
    """A property path's members: names, list indices and quoted keys."""
    at = 0
    while at < len(path):
        found = _TOKEN.match(path, at)
        if found is None or found.end() == at:
            raise StepFailed(f"Cannot read the path {path!r} at {path[at:]!r}.")
        name, index, single, double = found.groups()
        at = found.end()
        if index is not None:
            yield int(index)
        else:
            yield name if name is not None else (single if single is not None else double)


def walk(document: Any, path: str, whole: str) -> Any:
    """The member of a document a path names; a string key on a list picks the item whose
    `...Name` member has that value (`Outputs['train']`, `FinalMetricDataList['loss']`)."""
    value = document
    for token in tokens(path):
        value = _member(value, token, whole)
    return value


def _member(value: Any, token: str | int, whole: str) -> Any:
    if isinstance(token, int) and isinstance(value, list) and token < len(value):
        return value[token]
    if isinstance(token, str) and isinstance(value, dict) and token in value:
        return value[token]
    if isinstance(token, str) and isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and any(
                k.endswith("Name") and v == token for k, v in item.items()
            ):
                return item
    raise StepFailed(f"{whole} has no value: {token!r} is not there.")


def json_get(spec: dict[str, Any], scope: Scope) -> Any:
    """`Std:JsonGet`: a value read from a property file (or an S3 object) by its path."""
    source = spec.get("PropertyFile")
    if isinstance(source, dict) and "Get" in source:
        _, step, _, name = [*source["Get"].split(".", 3), "", "", ""][:4]
        document = scope.property_file(step, name)
        where = f"property file {name} of step {step}"
    elif "S3Uri" in spec:
        uri = resolve(spec["S3Uri"], scope)
        document = scope.s3_json(uri)
        where = uri
    else:
        raise StepFailed("Std:JsonGet needs a PropertyFile or an S3Uri.")
    path = str(spec["Path"])
    try:
        return walk(document, path[2:] if path.startswith("$.") else path, path)
    except StepFailed:
        raise StepFailed(f"Std:JsonGet found nothing at {path!r} in {where}.") from None


def referenced_steps(value: Any) -> set[str]:
    """The steps an expression (or any arguments holding expressions) refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_steps(item)
    elif isinstance(value, dict):
        path = value.get("Get")
        if isinstance(path, str) and path.startswith("Steps."):
            found.add(path.split(".")[1])
        for item in value.values():
            found |= referenced_steps(item)
    return found


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: bool(a == b),
    "GreaterThan": lambda a, b: bool(a > b),
    "GreaterThanOrEqualTo": lambda a, b: bool(a >= b),
    "LessThan": lambda a, b: bool(a < b),
    "LessThanOrEqualTo": lambda a, b: bool(a <= b),
}


def holds(condition: dict[str, Any], scope: Scope) -> bool:
    """Whether a condition of a Condition step holds."""
    kind = condition.get("Type")
    if kind == "Not":
        return not holds(condition["Condition"], scope)
    if kind == "Or":
        return any(holds(c, scope) for c in condition["Conditions"])
    if kind == "In":
        value = resolve(condition["QueryValue"], scope)
        return any(_same(value, resolve(v, scope)) for v in condition["Values"])
    compare = _COMPARE.get(str(kind))
    if compare is None:
        raise StepFailed(f"Unknown condition type {kind!r}.")
    left, right = _comparable(resolve(condition["LeftValue"], scope),
                              resolve(condition["RightValue"], scope))  # fmt: skip
    try:
        return compare(left, right)
    except TypeError:
        raise StepFailed(f"Cannot compare {left!r} with {right!r} ({kind}).") from None


def _same(a: Any, b: Any) -> bool:
    left, right = _comparable(a, b)
    return bool(left == right)


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers, even when one side is a number in a string (a
    property read from a job's description or a JSON file)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, str):
        return a, _number(b)
    if isinstance(b, numbers) and isinstance(a, str):
        return _number(a), b
    return a, b


def _number(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
