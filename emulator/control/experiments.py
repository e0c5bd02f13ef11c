"""Experiments and trials: Create/Describe/List/Update/Delete of both.

An experiment holds trials (Studio's "run groups"); a trial holds trial components (runs,
`control.trial_components`). Names are unique per account whatever their case, as the ARN
(lower-cased) is, so the store keys them lower-cased and keeps the name as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import Kind, R
from smlocal.emulator.control.pipelines import epoch
from smlocal.emulator.control.trial_associations import components_of, trials_of
from smlocal.emulator.errors import ResourceNotFound, ValidationException
from smlocal.emulator.support.entity_names import experiment_entity_names
from smlocal.emulator.support.records import Document, Nested, audited, shown

EXPERIMENT = "experiment"
TRIAL = "experiment-trial"
TRIAL_COMPONENT = "experiment-trial-component"  # the store kind of trial components


def entity_key(name_or_arn: str) -> str:
    """The store key of an experiment entity's name or ARN: the name, lower-cased. Only a
    trial component may be named by its ARN; an ARN of anything else is kept whole, so it
    finds nothing."""
    if name_or_arn.startswith("arn:") and f":{TRIAL_COMPONENT}/" in name_or_arn:
        return name_or_arn.rsplit("/", 1)[-1].lower()
    return name_or_arn.lower()


@dataclass
class Experiment:
    """An experiment as CreateExperiment stored it and UpdateExperiment changed it."""

    name: str
    arn: str
    creation_time: float
    last_modified_time: float
    display_name: str | None = None
    description: str | None = None
    source: Nested | None = None  # {"SourceArn", "SourceType"}: made by a pipeline

    @property
    def key(self) -> str:
        """Its store key."""
        return entity_key(self.name)

    @classmethod
    def from_document(cls, doc: Document) -> Experiment:
        """The experiment of a stored document."""
        return cls(
            name=doc["ExperimentName"],
            arn=doc["ExperimentArn"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            display_name=doc.get("DisplayName"),
            description=doc.get("Description"),
            source=doc.get("Source"),
        )

    def to_document(self) -> Document:
        """The stored document: DescribeExperiment's output."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeExperiment's output."""
        return shown(
            (
                ("ExperimentName", self.name),
                ("ExperimentArn", self.arn),
                ("DisplayName", self.display_name or self.name),
                ("Source", self.source),
                ("Description", self.description),
                *audited(self.creation_time, self.last_modified_time),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListExperiments' item."""
        return shown(
            (
                ("ExperimentArn", self.arn),
                ("ExperimentName", self.name),
                ("DisplayName", self.display_name or self.name),
                ("ExperimentSource", self.source),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
            )
        )


@dataclass
class Trial:
    """A trial of one experiment, as CreateTrial stored it and UpdateTrial changed it."""

    name: str
    arn: str
    experiment_name: str
    creation_time: float
    last_modified_time: float
    display_name: str | None = None
    metadata_properties: Nested | None = None
    source: Nested | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return entity_key(self.name)

    @classmethod
    def from_document(cls, doc: Document) -> Trial:
        """The trial of a stored document."""
        return cls(
            name=doc["TrialName"],
            arn=doc["TrialArn"],
            experiment_name=doc["ExperimentName"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            display_name=doc.get("DisplayName"),
            metadata_properties=doc.get("MetadataProperties"),
            source=doc.get("Source"),
        )

    def to_document(self) -> Document:
        """The stored document: DescribeTrial's output."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeTrial's output."""
        return shown(
            (
                ("TrialName", self.name),
                ("TrialArn", self.arn),
                ("DisplayName", self.display_name or self.name),
                ("ExperimentName", self.experiment_name),
                ("Source", self.source),
                *audited(self.creation_time, self.last_modified_time),
                ("MetadataProperties", self.metadata_properties),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListTrials' item."""
        return shown(
            (
                ("TrialArn", self.arn),
                ("TrialName", self.name),
                ("DisplayName", self.display_name or self.name),
                ("TrialSource", self.source),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
            )
        )


def entity_kind(
    resource: str, load: Callable[[Document], R], title: str, *, quotes_arns: bool = False
) -> Kind[R]:
    """The Kind of an experiment entity ("Experiment", "Trial", "Trial Component"): keyed by
    its lower-cased name (`entity_key`), its members and list named after it, not found as
    a ResourceNotFound quoting its ARN, and a duplicate refused with the words the SDK's
    load-or-create looks for ("already exists")."""
    member = title.replace(" ", "")
    return Kind(
        resource=resource,
        load=load,
        noun=title.lower(),
        name_key=f"{member}Name",
        list_key=f"{member}Summaries",
        key_of=entity_key,
        quotes_arns=quotes_arns,
        missing=ResourceNotFound,
        missing_text=f"{title} '{{arn}}' does not exist.",
        duplicate_text=(
            f"{title} names must be unique within an AWS account and region. {title} with name "
            "({name}) already exists."
        ),
    )


EXPERIMENTS = entity_kind(EXPERIMENT, Experiment.from_document, "Experiment")
TRIALS = entity_kind(TRIAL, Trial.from_document, "Trial")


def created_between(params: dict[str, Any], creation_time: float) -> bool:
    """The List operations' CreatedAfter/CreatedBefore."""
    after, before = epoch(params.get("CreatedAfter")), epoch(params.get("CreatedBefore"))
    return (after is None or creation_time > after) and (before is None or creation_time < before)


def create_experiment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateExperiment."""
    name = params["ExperimentName"]
    now = ctx.now()
    experiment = Experiment(
        name=name,
        arn=ctx.arn(EXPERIMENT, name),
        creation_time=now,
        last_modified_time=now,
        display_name=params.get("DisplayName"),
        description=params.get("Description"),
    )
    EXPERIMENTS.add(ctx, experiment, params.get("Tags", []))
    return {"ExperimentArn": experiment.arn}


def describe_experiment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeExperiment."""
    return EXPERIMENTS.describe(ctx, params["ExperimentName"])


def list_experiments(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListExperiments: CreatedAfter/CreatedBefore, sorted by Name or CreationTime, paged."""
    return EXPERIMENTS.listing(ctx, params, keep=lambda e: created_between(params, e.creation_time))


def update_experiment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateExperiment: the display name and description."""
    with ctx.store.transaction():
        experiment = EXPERIMENTS.get(ctx, params["ExperimentName"])
        experiment.display_name = params.get("DisplayName", experiment.display_name)
        experiment.description = params.get("Description", experiment.description)
        experiment.last_modified_time = ctx.now()
        EXPERIMENTS.save(ctx, experiment)
    return {"ExperimentArn": experiment.arn}


def delete_experiment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteExperiment: only an experiment without trials."""

    def refuse(experiment: Experiment) -> None:
        if any(t.experiment_name.lower() == experiment.key for t in TRIALS.records(ctx)):
            raise ValidationException(
                f"Experiment '{experiment.arn}' has trials; delete them before deleting the "
                "experiment."
            )

    experiment = EXPERIMENTS.get(ctx, params["ExperimentName"])
    EXPERIMENTS.delete(ctx, params["ExperimentName"], refuse=refuse)
    return {"ExperimentArn": experiment.arn}


def new_trial(
    ctx: Context,
    name: str,
    experiment_name: str,
    params: dict[str, Any] | None = None,
    source: Nested | None = None,
) -> Trial:
    """Store a new trial of an existing experiment (CreateTrial, or a job's ExperimentConfig)."""
    params = params or {}
    with ctx.store.transaction():
        experiment = EXPERIMENTS.get(ctx, experiment_name)
        now = ctx.now()
        trial = Trial(
            name=name,
            arn=ctx.arn(TRIAL, name),
            experiment_name=experiment.name,
            creation_time=now,
            last_modified_time=now,
            display_name=params.get("DisplayName"),
            metadata_properties=params.get("MetadataProperties"),
            source=source,
        )
        TRIALS.add(ctx, trial, params.get("Tags", []))
    return trial


def create_trial(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateTrial."""
    trial = new_trial(ctx, params["TrialName"], params["ExperimentName"], params)
    return {"TrialArn": trial.arn}


def describe_trial(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeTrial."""
    return TRIALS.describe(ctx, params["TrialName"])


def update_trial(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateTrial: the display name."""
    with ctx.store.transaction():
        trial = TRIALS.get(ctx, params["TrialName"])
        trial.display_name = params.get("DisplayName", trial.display_name)
        trial.last_modified_time = ctx.now()
        TRIALS.save(ctx, trial)
    return {"TrialArn": trial.arn}


def list_trials(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTrials: of an experiment, or those a trial component belongs to; CreatedAfter/
    CreatedBefore, sorted and paged. A named experiment or component must exist."""
    experiment = params.get("ExperimentName")
    if experiment is not None:
        experiment = EXPERIMENTS.get(ctx, experiment).key
    member_of: set[str] | None = None
    if params.get("TrialComponentName") is not None:
        component = params["TrialComponentName"]
        if ctx.store.get(TRIAL_COMPONENT, entity_key(component)) is None:
            raise ResourceNotFound(
                f"Trial Component '{ctx.arn(TRIAL_COMPONENT, component)}' does not exist."
            )
        member_of = {t.lower() for t in trials_of(ctx, component)}

    def keep(trial: Trial) -> bool:
        return (
            (experiment is None or trial.experiment_name.lower() == experiment)
            and (member_of is None or trial.key in member_of)
            and created_between(params, trial.creation_time)
        )

    return TRIALS.listing(ctx, params, keep=keep)


def delete_trial(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteTrial: only a trial without trial components."""

    def refuse(trial: Trial) -> None:
        if components_of(ctx, trial.name):
            raise ValidationException(
                f"Trial '{trial.arn}' has trial components; disassociate them before deleting "
                "the trial."
            )

    trial = TRIALS.get(ctx, params["TrialName"])
    TRIALS.delete(ctx, params["TrialName"], refuse=refuse)
    return {"TrialArn": trial.arn}


def pipeline_run_group(ctx: Context, config: Nested | None, execution_arn: str) -> None:
    """A pipeline execution's PipelineExperimentConfig: its experiment (by default the
    pipeline's name) and trial (the execution's id) made if missing, so that the steps' jobs
    join them. Names no experiment may have are left alone (the jobs then join nothing)."""
    if not config or not experiment_entity_names(config):
        return
    experiment, trial = config.get("ExperimentName"), config.get("TrialName")
    with ctx.store.transaction():
        if experiment and EXPERIMENTS.find(ctx, str(experiment)) is None:
            name, now = str(experiment), ctx.now()
            made = Experiment(name, ctx.arn(EXPERIMENT, name), now, now)
            EXPERIMENTS.add(ctx, made, [])
        if experiment and trial and TRIALS.find(ctx, str(trial)) is None:
            source: Nested = {"SourceArn": execution_arn,
                              "SourceType": "SageMakerPipelineExecution"}  # fmt: skip
            new_trial(ctx, str(trial), str(experiment), source=source)
