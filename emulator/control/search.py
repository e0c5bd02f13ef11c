"""Search: the resources smlocal holds, filtered by property paths as SageMaker's Search does.

A filter names a property by its path in the resource's Search record: `TrainingJobName`,
`HyperParameters.num_round`, `Tags.team` (a tag's value), `Metrics.validation:auc` (a
training job's final metric), `InputDataConfig.ChannelName` (any element of a list). A
filter matches when some value at that path satisfies it (`NotEquals` and `NotExists`: when
none does). Numbers compare as numbers, times as instants (the value may be epoch seconds
or ISO 8601), everything else as text. `Filters`, `NestedFilters` and `SubExpressions` are
joined by the expression's `Operator` (And unless Or).

Experiments, trials and trial components are searched too (a trial component's
`Parents.TrialName`, `Metrics.<name>.Max`, ...). Resource types smlocal cannot create
(feature groups, projects, ...) have no records here, so their searches find nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.endpoints import ENDPOINTS
from smlocal.emulator.control.experiments import EXPERIMENTS, TRIALS
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.model_packages import GROUPS, PACKAGES
from smlocal.emulator.control.models import MODELS
from smlocal.emulator.control.pagination import page
from smlocal.emulator.control.tags import tags_of
from smlocal.emulator.control.training_jobs import TRAINING_JOBS
from smlocal.emulator.control.trial_component_records import TRIAL_COMPONENTS
from smlocal.emulator.control.trial_components import component_records, trial_records
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.wire.service_models import sagemaker_model

Record = dict[str, Any]
TIMES = frozenset(
    {"CreationTime", "LastModifiedTime", "TrainingStartTime", "TrainingEndTime"}
)  # what a filter's value may give as a date


@dataclass(frozen=True)
class Searchable:
    """A resource type Search looks through: its kind and its member of SearchRecord."""

    kind: Kind[Any]
    member: str  # "TrainingJob": the SearchRecord member that holds each result
    wrap: Callable[[Record], Record] = lambda record: record  # the member's value
    # the records' maker, once per search, if a record is not the Describe output
    view: Callable[[Context], Callable[[Any], Record]] | None = None
    # an Equals filter on the kind's name (under And) names the one record to look at: the
    # SDK's `Run` searches for its own component this way each time one is opened
    by_name: bool = False


SEARCHABLE = {
    "TrainingJob": Searchable(TRAINING_JOBS, "TrainingJob"),
    "Endpoint": Searchable(ENDPOINTS, "Endpoint"),
    "Model": Searchable(MODELS, "Model", lambda model: {"Model": model}),
    "ModelPackage": Searchable(PACKAGES, "ModelPackage"),
    "ModelPackageGroup": Searchable(GROUPS, "ModelPackageGroup"),
    "Experiment": Searchable(EXPERIMENTS, "Experiment", by_name=True),
    "ExperimentTrial": Searchable(TRIALS, "Trial", view=trial_records, by_name=True),
    "ExperimentTrialComponent": Searchable(
        TRIAL_COMPONENTS, "TrialComponent", view=component_records, by_name=True
    ),
}


def search(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Search."""
    found = SEARCHABLE.get(params["Resource"])
    if found is None:
        return {"Results": []}
    members = _members(found.member)
    records = []
    view = (lambda item: item.describe()) if found.view is None else found.view(ctx)
    expression = params.get("SearchExpression")
    for item in _candidates(ctx, found, expression):
        shown = view(item)
        record = {k: v for k, v in shown.items() if k in members}
        record["Tags"] = tags_of(ctx, item.arn)
        records.append(record)
    if expression:
        records = [r for r in records if _matches(expression, r)]
    records = _sorted(records, params.get("SortBy", "LastModifiedTime"), params.get("SortOrder"))
    chunk, token = page(records, params)
    return {"Results": [{found.member: found.wrap(r)} for r in chunk], "NextToken": token}


def _candidates(ctx: Context, found: Searchable, expression: dict[str, Any] | None) -> list[Any]:
    """The records the expression may match: the one it names, where the kind allows that,
    else all (the expression is still applied to them)."""
    if found.by_name and expression and expression.get("Operator", "And") == "And":
        for spec in expression.get("Filters", []):
            named = spec.get("Name") == found.kind.name_key and "Value" in spec
            if named and spec.get("Operator", "Equals") == "Equals":
                item = found.kind.find(ctx, spec["Value"])
                return [] if item is None else [item]
    return found.kind.records(ctx)


@cache
def _members(member: str) -> frozenset[str]:
    """The keys the Search record of a resource type declares (others are not shown)."""
    record = sagemaker_model().shape_for("SearchRecord").members[member]
    if member == "Model":  # ModelDashboardModel: the model is one level down
        record = record.members["Model"]
    return frozenset(record.members)


def _matches(expression: dict[str, Any], record: Record) -> bool:
    results: list[bool] = [_holds(f, record) for f in expression.get("Filters", [])]
    for nested in expression.get("NestedFilters", []):
        results.append(_nested(nested, record))
    results += [_matches(sub, record) for sub in expression.get("SubExpressions", [])]
    if expression.get("Operator") == "Or":
        return any(results)
    return all(results)


def _nested(nested: dict[str, Any], record: Record) -> bool:
    """Some element of the list property satisfies every filter at once."""
    prefix = nested["NestedPropertyName"]
    for element in _values(record, prefix):
        holder = {prefix: element}
        if all(_holds(f, holder) for f in nested["Filters"]):
            return True
    return False


def _holds(spec: dict[str, Any], record: Record) -> bool:
    name, operator = spec["Name"], spec.get("Operator", "Equals")
    values = [v for v in _values(record, name) if v is not None]
    if operator == "Exists":
        return bool(values)
    if operator == "NotExists":
        return not values
    if "Value" not in spec:
        raise ValidationException(f"A filter on {name} with operator {operator} needs a Value.")
    wanted: str = spec["Value"]
    if operator == "NotEquals":
        return not any(_compare(v, wanted, name) == 0 for v in values)
    if operator == "In":
        options = [o.strip() for o in wanted.split(",")]
        return any(str(v) in options for v in values)
    if operator == "Contains":
        return any(wanted in v if isinstance(v, str) else False for v in values)
    test = _TESTS[operator]
    return any(test(_compare(v, wanted, name)) for v in values)


_TESTS: dict[str, Callable[[int], bool]] = {
    "Equals": lambda c: c == 0,
    "GreaterThan": lambda c: c > 0,
    "GreaterThanOrEqualTo": lambda c: c >= 0,
    "LessThan": lambda c: c < 0,
    "LessThanOrEqualTo": lambda c: c <= 0,
}


def _values(record: Record, path: str) -> Iterator[Any]:
    """Every value at a property path; lists are looked through element by element."""
    head, _, rest = path.partition(".")
    if head == "Tags":
        found: Any = {t["Key"]: t.get("Value", "") for t in record.get("Tags", [])}
    elif head == "Metrics" and "FinalMetricDataList" in record:
        found = {m["MetricName"]: m["Value"] for m in record.get("FinalMetricDataList") or []}
    elif head == "Metrics":  # a trial component's summaries: Metrics.<name>.<statistic>
        yield from _summary_values(record.get("Metrics") or [], rest)
        return
    else:
        found = record.get(head)
    if head in ("Tags", "Metrics") and rest:
        yield found.get(rest)
        return
    yield from _below(found, rest)


def _summary_values(summaries: list[Record], rest: str) -> Iterator[Any]:
    """`loss.Max` of a trial component's metric summaries (a metric's name may hold dots)."""
    for summary in summaries:
        name = summary["MetricName"]
        if rest == name:
            yield summary
        elif rest.startswith(name + "."):
            yield summary.get(rest[len(name) + 1 :])


def _below(value: Any, rest: str) -> Iterator[Any]:
    if isinstance(value, list):
        for element in value:
            yield from _below(element, rest)
        return
    if not rest:
        yield value
        return
    if isinstance(value, dict):
        head, _, tail = rest.partition(".")
        if head in value:
            yield from _below(value[head], tail)
        elif rest in value:  # a key holding dots, e.g. a hyperparameter named "a.b"
            yield value[rest]


def _compare(value: Any, wanted: str, name: str) -> int:
    """-1, 0 or 1 as the property's value is below, at or above the filter's."""
    if isinstance(value, bool):
        other: Any = wanted.lower() == "true"
    elif isinstance(value, int | float):
        other = _number(wanted, name)
    else:
        value, other = str(value), wanted
    return int(value > other) - int(value < other)


def _number(text: str, name: str) -> float:
    try:
        number = float(text)
    except ValueError:
        if name.rsplit(".", maxsplit=1)[-1] not in TIMES:
            raise ValidationException(
                f"The value {text!r} of the filter on {name} is not a number."
            ) from None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationException(
                f"The value {text!r} of the filter on {name} is not a date."
            ) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    if math.isnan(number):
        raise ValidationException(f"The value {text!r} of the filter on {name} is not a number.")
    return number


def _sorted(records: list[Record], by: str, order: str | None) -> list[Record]:
    """By the property's first value (text case-insensitively), Descending unless Ascending;
    records without it come last either way."""
    keyed: list[tuple[tuple[int, Any], Record]] = []
    missing = []
    for record in records:
        value = next((v for v in _values(record, by) if v is not None), None)
        if value is None or isinstance(value, dict | list):
            missing.append(record)
        elif isinstance(value, str):
            keyed.append(((1, value.lower()), record))
        else:
            keyed.append(((0, value), record))
    keyed.sort(key=lambda pair: pair[0], reverse=order != "Ascending")
    return [record for _, record in keyed] + missing
