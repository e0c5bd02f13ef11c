"""Trial components (the SDK's runs): Create/Describe/Update/List/Delete, and their
membership of trials (Associate/DisassociateTrialComponent).

A component holds parameters, input and output artifacts, and the summaries of the metrics
logged to it (BatchPutMetrics, `control.experiment_metrics`); the record is in
`control.trial_component_records`, the components of jobs in `control.job_components`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.experiments import (
    EXPERIMENTS,
    TRIALS,
    Trial,
    created_between,
)
from smlocal.emulator.control.job_components import current
from smlocal.emulator.control.lineage import forget_associations
from smlocal.emulator.control.pipelines import epoch
from smlocal.emulator.control.trial_associations import (
    associate,
    associations,
    components_of,
    disassociate,
    trials_of,
)
from smlocal.emulator.control.trial_component_records import (
    MAX_ARTIFACTS,
    MAX_PARAMETERS,
    TRIAL_COMPONENTS,
    TrialComponent,
    new_component,
)
from smlocal.emulator.errors import ResourceNotFound, ValidationException
from smlocal.emulator.support.records import Nested, shown


def _check_sizes(component: TrialComponent) -> None:
    for what, members, limit in (
        ("Parameters", component.parameters, MAX_PARAMETERS),
        ("InputArtifacts", component.input_artifacts, MAX_ARTIFACTS),
        ("OutputArtifacts", component.output_artifacts, MAX_ARTIFACTS),
    ):
        if len(members) > limit:
            raise ValidationException(
                f"Trial Component {component.name} would have {len(members)} {what}; the "
                f"limit is {limit}."
            )


def create_trial_component(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateTrialComponent."""
    name = params["TrialComponentName"]
    component = new_component(
        ctx,
        name,
        display_name=params.get("DisplayName"),
        status=params.get("Status"),
        start_time=epoch(params.get("StartTime")),
        end_time=epoch(params.get("EndTime")),
        parameters=params.get("Parameters", {}),
        input_artifacts=params.get("InputArtifacts", {}),
        output_artifacts=params.get("OutputArtifacts", {}),
        metadata_properties=params.get("MetadataProperties"),
    )
    _check_sizes(component)
    TRIAL_COMPONENTS.add(ctx, component, params.get("Tags", []))
    return {"TrialComponentArn": component.arn}


def describe_trial_component(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeTrialComponent (by name or ARN: an ARN of another account or region, or one
    whose name does not fully match, names none of this account's components)."""
    name_or_arn = params["TrialComponentName"]
    component = TRIAL_COMPONENTS.get(ctx, name_or_arn)
    if name_or_arn.startswith("arn:") and name_or_arn.lower() != component.arn:
        raise TRIAL_COMPONENTS.not_found(ctx, name_or_arn)
    return current(ctx, component).describe()


def update_trial_component(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateTrialComponent: given members replace, given keys of the maps are merged in,
    and the *ToRemove keys leave."""
    with ctx.store.transaction():
        component = TRIAL_COMPONENTS.get(ctx, params["TrialComponentName"])
        component.display_name = params.get("DisplayName", component.display_name)
        component.status = params.get("Status", component.status)
        if "StartTime" in params:
            component.start_time = epoch(params["StartTime"])
        if "EndTime" in params:
            component.end_time = epoch(params["EndTime"])
        for member, attribute in (
            ("Parameters", "parameters"),
            ("InputArtifacts", "input_artifacts"),
            ("OutputArtifacts", "output_artifacts"),
        ):
            values: dict[str, Nested] = getattr(component, attribute)
            values.update(params.get(member, {}))
            for key in params.get(f"{member}ToRemove", []):
                values.pop(key, None)
        _check_sizes(component)
        component.last_modified_time = ctx.now()
        TRIAL_COMPONENTS.save(ctx, component)
    return {"TrialComponentArn": component.arn}


def list_trial_components(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTrialComponents: of an experiment, of a trial, or of a source (a job's ARN);
    CreatedAfter/CreatedBefore, sorted and paged."""
    given = [p for p in ("ExperimentName", "TrialName", "SourceArn") if params.get(p)]
    if len(given) > 1:
        raise ValidationException(
            "Only one of ExperimentName, TrialName and SourceArn may be given."
        )
    members: set[str] | None = None
    if params.get("TrialName"):
        trial = TRIALS.get(ctx, params["TrialName"])
        members = {c.lower() for c in components_of(ctx, trial.name)}
    if params.get("ExperimentName"):
        experiment = EXPERIMENTS.get(ctx, params["ExperimentName"])
        trials = {t.key for t in TRIALS.records(ctx) if t.experiment_name.lower() == experiment.key}
        members = {a.component.lower() for a in associations(ctx) if a.trial.lower() in trials}
    source = params.get("SourceArn")

    def keep(component: TrialComponent) -> bool:
        return (
            (members is None or component.key in members)
            and (source is None or (component.source or {}).get("SourceArn") == source)
            and created_between(params, component.creation_time)
        )

    fresh = [current(ctx, c) for c in TRIAL_COMPONENTS.records(ctx)]
    return TRIAL_COMPONENTS.listing(ctx, params, keep=keep, records=fresh)


def delete_trial_component(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteTrialComponent: only one that belongs to no trial."""

    def refuse(component: TrialComponent) -> None:
        if trials_of(ctx, component.name):
            raise ValidationException(
                f"Trial Component '{component.arn}' is associated with trials; disassociate "
                "it from them before deleting it."
            )

    with ctx.store.transaction():
        component = TRIAL_COMPONENTS.get(ctx, params["TrialComponentName"])
        TRIAL_COMPONENTS.delete(ctx, params["TrialComponentName"], refuse=refuse)
        forget_associations(ctx, component.arn)
    return {"TrialComponentArn": component.arn}


def associate_trial_component(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """AssociateTrialComponent (again: no change)."""
    with ctx.store.transaction():
        component = TRIAL_COMPONENTS.get(ctx, params["TrialComponentName"])
        trial = TRIALS.get(ctx, params["TrialName"])
        associate(ctx, trial.name, component.name)
    return {"TrialComponentArn": component.arn, "TrialArn": trial.arn}


def disassociate_trial_component(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DisassociateTrialComponent."""
    with ctx.store.transaction():
        component = TRIAL_COMPONENTS.get(ctx, params["TrialComponentName"])
        trial = TRIALS.get(ctx, params["TrialName"])
        if not disassociate(ctx, trial.name, component.name):
            raise ResourceNotFound(
                f"Trial Component '{component.arn}' is not associated with Trial '{trial.arn}'."
            )
    return {"TrialComponentArn": component.arn, "TrialArn": trial.arn}


def component_records(ctx: Context) -> Callable[[TrialComponent], dict[str, object]]:
    """Search's record of each component (as described, with its Parents and RunName); the
    memberships and trials are read once per search, not once per component."""
    trials = {t.key: t for t in TRIALS.records(ctx)}
    member_of: dict[str, list[Trial]] = {}
    for association in associations(ctx):
        trial = trials.get(association.trial.lower())
        if trial is not None:
            member_of.setdefault(association.component.lower(), []).append(trial)

    def record(component: TrialComponent) -> dict[str, object]:
        shown = current(ctx, component).describe()
        shown["Parents"] = [{"TrialName": t.name, "ExperimentName": t.experiment_name}
                            for t in member_of.get(component.key, [])]  # fmt: skip
        if component.run_name:
            shown["RunName"] = component.run_name
        return shown

    return record


def trial_records(ctx: Context) -> Callable[[Trial], dict[str, object]]:
    """Search's record of each trial: as described, with its components' summaries."""
    components = {c.key: c for c in TRIAL_COMPONENTS.records(ctx)}
    members: dict[str, list[TrialComponent]] = {}
    for association in associations(ctx):
        component = components.get(association.component.lower())
        if component is not None:
            members.setdefault(association.trial.lower(), []).append(component)

    def record(trial: Trial) -> dict[str, object]:
        described = trial.describe()
        described["TrialComponentSummaries"] = [_simple(c) for c in members.get(trial.key, [])]
        return described

    return record


def _simple(component: TrialComponent) -> dict[str, object]:
    """TrialComponentSimpleSummary."""
    return shown(
        (
            ("TrialComponentName", component.name),
            ("TrialComponentArn", component.arn),
            ("TrialComponentSource", component.source),
            ("CreationTime", component.creation_time),
            ("CreatedBy", {}),
        )
    )
