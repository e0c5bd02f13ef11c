"""The JSONPath subset of batch transform's InputFilter and OutputFilter.

SageMaker documents these operators: `$` (the record), `.name` and `['name', ...]`
(children), `[n, ...]` (indexes; negative counts from the end), `[start:end]` (a slice, the
end left out), `*` (every element). A CSV record is an array of its columns, so `$[1:]`
drops the first column and `$[0,-1]` keeps the first and the last. Recursive descent
(`..`) and filter expressions (`?()`) are not in the subset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_STEP = re.compile(r"\.(?P<name>[A-Za-z_][\w-]*|\*)|\[(?P<bracket>[^\]]*)\]")
_INDEX = re.compile(r"-?\d+")
_SLICE = re.compile(r"(-?\d*):(-?\d*)")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


class JsonPathError(ValueError):
    """A filter outside the subset, or a record it cannot be applied to."""


@dataclass(frozen=True)
class Step:
    """One step: names (children of an object), items (indexes or slices), or everything."""

    names: tuple[str, ...] = ()
    items: tuple[int | slice, ...] = ()
    every: bool = False


def parse(path: str) -> list[Step]:
    """The steps of a filter, or JsonPathError naming what is outside the subset."""
    text = path.strip()
    if not text.startswith("$"):
        raise JsonPathError(f"{path!r} does not start with $")
    steps, at = [], 1
    while at < len(text):
        found = _STEP.match(text, at)
        if found is None:
            raise JsonPathError(f"{path!r} has an unsupported operator at {text[at:]!r}")
        steps.append(_step(path, found.group("name"), found.group("bracket")))
        at = found.end()
    return steps


def _step(path: str, name: str | None, bracket: str | None) -> Step:
    if name is not None:
        return Step(every=True) if name == "*" else Step(names=(name,))
    assert bracket is not None
    parts = [p.strip() for p in bracket.split(",")]
    if parts == ["*"]:
        return Step(every=True)
    quoted = [_QUOTED.fullmatch(p) for p in parts]
    if all(quoted):
        return Step(names=tuple(q.group(1) or q.group(2) or "" for q in quoted if q))
    items: list[int | slice] = []
    for part in parts:
        if _INDEX.fullmatch(part):
            items.append(int(part))
        elif (cut := _SLICE.fullmatch(part)) is not None:
            start, end = (int(v) if v else None for v in cut.groups())
            items.append(slice(start, end))
        else:
            raise JsonPathError(f"{path!r} has an unsupported subscript [{bracket}]")
    return Step(items=tuple(items))


def apply(steps: list[Step], record: Any) -> Any:
    """The part of a record (a parsed JSON value, or a CSV record's list of columns) the
    steps select; JsonPathError if the record has no such part."""
    value = record
    for step in steps:
        value = _apply(step, value)
    return value


def _apply(step: Step, value: Any) -> Any:
    if step.every:
        return list(value.values()) if isinstance(value, dict) else value
    if step.names:
        if not isinstance(value, dict) or any(n not in value for n in step.names):
            raise JsonPathError(f"the record has no {', '.join(step.names)}")
        if len(step.names) == 1:
            return value[step.names[0]]
        return {name: value[name] for name in step.names}
    if not isinstance(value, list):
        raise JsonPathError("an index was applied to something that is not an array")
    picked: list[Any] = []
    for item in step.items:
        if isinstance(item, slice):
            picked.extend(value[item])
        elif -len(value) <= item < len(value):
            picked.append(value[item])
        else:
            raise JsonPathError(f"index {item} is out of range for {len(value)} elements")
    if len(step.items) == 1 and not isinstance(step.items[0], slice):
        return picked[0]
    return picked
