"""A pipeline definition read into steps and their dependencies, and its parameters typed.

A step depends on the steps its `DependsOn` names, the steps its arguments refer to
(`Get Steps.X...`, `Std:JsonGet` on X's property files) and, for a step in a Condition
step's `IfSteps`/`ElseSteps`, that Condition step. `DefinitionError` says why a definition
(or a StartPipelineExecution's parameters) cannot be run; the control plane answers it as a
ValidationException.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.jobs.pipelines.expressions import referenced_steps

PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")


class DefinitionError(ValueError):
    """A definition or a parameter value smlocal cannot run; the message says why."""


@dataclass(frozen=True)
class StepSpec:
    """One step of the definition."""

    name: str
    type: str
    definition: dict[str, Any]  # the step as the definition gives it
    needs: frozenset[str]  # the steps that must succeed first
    branch: tuple[str, bool] | None = None  # (Condition step, the outcome that runs it)

    @property
    def arguments(self) -> Any:
        """The step's Arguments, unresolved."""
        return self.definition.get("Arguments", {})


def parse(text: str) -> dict[str, Any]:
    """The definition document of a PipelineDefinition string."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"the pipeline definition is not valid JSON: {exc}") from None
    except RecursionError:
        raise DefinitionError("the pipeline definition nests too deep to be read") from None
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise DefinitionError("the pipeline definition must be a JSON object with a Steps list")
    _check_parameters(document.get("Parameters", []))
    return document


def _check_parameters(parameters: Any) -> None:
    """DefinitionError unless Parameters is a list of objects with a string Name and a
    DefaultValue (if any) of their Type."""
    if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
        raise DefinitionError("the pipeline definition's Parameters must be a list of objects")
    for parameter in parameters:
        if not isinstance(parameter.get("Name"), str) or not parameter["Name"]:
            raise DefinitionError("every item of the pipeline definition's Parameters needs "
                                  "a Name string")  # fmt: skip
        if "DefaultValue" in parameter:
            typed(parameter, parameter["DefaultValue"])


def steps_of(document: dict[str, Any]) -> dict[str, StepSpec]:
    """Every step of a definition (those of Condition branches too), by name, checked."""
    found: dict[str, StepSpec] = {}
    _collect(document["Steps"], None, found)
    for spec in found.values():
        unknown = sorted(spec.needs - set(found))
        if unknown:
            raise DefinitionError(f"step {spec.name} depends on {', '.join(unknown)}, which the "
                                  "pipeline definition does not have")  # fmt: skip
    _refuse_cycles(found)
    return found


def _collect(steps: Any, branch: tuple[str, bool] | None, found: dict[str, StepSpec]) -> None:
    if not isinstance(steps, list):
        raise DefinitionError("Steps, IfSteps and ElseSteps must be lists of steps")
    for step in steps:
        if not isinstance(step, dict) or not step.get("Name") or not step.get("Type"):
            raise DefinitionError("every step of the pipeline definition needs a Name and a Type")
        name = _checked_step(step)
        if name in found:
            raise DefinitionError(f"the pipeline definition has more than one step named {name}")
        needs = set(step.get("DependsOn") or []) | _referenced(step)
        if branch is not None:
            needs.add(branch[0])
        needs.discard(name)
        found[name] = StepSpec(name, str(step["Type"]), step, frozenset(needs), branch)
        if step["Type"] == "Condition":
            arguments = step.get("Arguments", {})
            _collect(arguments.get("IfSteps", []), (name, True), found)
            _collect(arguments.get("ElseSteps", []), (name, False), found)


def _checked_step(step: dict[str, Any]) -> str:
    """The step's name, once its members that steer the run have the right types."""
    name = step["Name"]
    if not isinstance(name, str) or not isinstance(step["Type"], str):
        raise DefinitionError("a step's Name and Type must be strings")
    depends = step.get("DependsOn") or []
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise DefinitionError(f"step {name}: DependsOn must be a list of step names")
    if not isinstance(step.get("Arguments", {}), dict):
        raise DefinitionError(f"step {name}: Arguments must be a JSON object")
    return name


def _referenced(step: dict[str, Any]) -> set[str]:
    """The steps a step's expressions read: in its arguments and its other members (a
    QualityCheck's supplied baselines); a Condition's only in its conditions (its branches'
    steps are steps of their own)."""
    if step["Type"] == "Condition":
        return referenced_steps(step.get("Arguments", {}).get("Conditions", []))
    return referenced_steps({k: v for k, v in step.items() if k not in ("Name", "DependsOn")})


def _refuse_cycles(steps: dict[str, StepSpec]) -> None:
    """DefinitionError if the dependencies loop (steps that never become ready)."""
    left = dict(steps)
    while left:
        ready = [name for name, spec in left.items() if not spec.needs & set(left)]
        if not ready:
            raise DefinitionError("the steps of the pipeline definition depend on each other in "
                                  f"a cycle ({', '.join(sorted(left))})")  # fmt: skip
        for name in ready:
            del left[name]


def parameter_values(document: dict[str, Any], given: list[dict[str, str]]) -> dict[str, Any]:
    """Every parameter's value: as StartPipelineExecution gives it, else its default; typed."""
    declared = {p["Name"]: p for p in document.get("Parameters", []) if isinstance(p, dict)}
    values: dict[str, Any] = {}
    for item in given:
        if item["Name"] not in declared:
            raise DefinitionError(f"Parameter '{item['Name']}' is not defined in the pipeline "
                                  "definition.")  # fmt: skip
        values[item["Name"]] = typed(declared[item["Name"]], item["Value"])
    for name, parameter in declared.items():
        if name in values:
            continue
        if "DefaultValue" not in parameter:
            raise DefinitionError(f"Parameter '{name}' has no default value and was not given.")
        values[name] = typed(parameter, parameter["DefaultValue"])
    return values


def typed(parameter: dict[str, Any], value: Any) -> Any:
    """A parameter's value as its Type says (StartPipelineExecution sends strings)."""
    kind = parameter.get("Type", "String")
    name = parameter["Name"]
    try:
        if kind == "String":
            return str(value)
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(value)
    except (ValueError, TypeError, OverflowError):
        raise DefinitionError(f"Value '{value}' of parameter '{name}' is not a valid "
                              f"{kind}.") from None  # fmt: skip
    raise DefinitionError(f"Parameter '{name}' has type {kind!r}; the types are "
                          f"{', '.join(PARAMETER_TYPES)}.")  # fmt: skip
