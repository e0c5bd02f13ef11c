"""ML Lineage, as much as the SDK's `Run` uses: artifacts (CreateArtifact, DescribeArtifact,
DeleteArtifact) and associations between entities (AddAssociation, ListAssociations,
DeleteAssociation).

`Run.log_confusion_matrix`, `log_roc_curve` and `log_precision_recall` upload a JSON file and
record it as an artifact associated with the run's trial component. An artifact's ARN ends
in a hash, as on SageMaker; an association names two entities smlocal holds.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.experiments import created_between
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.pagination import page, sort
from smlocal.emulator.control.tags import find_by_arn
from smlocal.emulator.errors import ResourceNotFound, ValidationException
from smlocal.emulator.support.records import Document, Nested, audited, shown

ARTIFACT = "artifact"
ASSOCIATION = "association"
ENTITY_TYPES = {  # an ARN's resource type: ListAssociations' SourceType/DestinationType
    "artifact": "Artifact",
    "experiment-trial-component": "TrialComponent",
    "context": "Context",
    "action": "Action",
}


@dataclass
class Artifact:
    """A lineage artifact: a URI-addressable thing (here, a file a run logged)."""

    key: str  # the hash its ARN ends in
    arn: str
    source: Nested
    artifact_type: str
    creation_time: float
    last_modified_time: float
    name: str | None = None
    properties: Nested | None = None
    metadata_properties: Nested | None = None

    @classmethod
    def from_document(cls, doc: Document) -> Artifact:
        """The artifact of a stored document."""
        return cls(
            key=doc["ArtifactArn"].rsplit("/", 1)[-1],
            arn=doc["ArtifactArn"],
            source=doc["Source"],
            artifact_type=doc["ArtifactType"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            name=doc.get("ArtifactName"),
            properties=doc.get("Properties"),
            metadata_properties=doc.get("MetadataProperties"),
        )

    def to_document(self) -> Document:
        """The stored document: DescribeArtifact's output."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeArtifact's output."""
        return shown(
            (
                ("ArtifactName", self.name),
                ("ArtifactArn", self.arn),
                ("Source", self.source),
                ("ArtifactType", self.artifact_type),
                ("Properties", self.properties),
                *audited(self.creation_time, self.last_modified_time),
                ("MetadataProperties", self.metadata_properties),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListArtifacts' item."""
        return shown(
            (
                ("ArtifactArn", self.arn),
                ("ArtifactName", self.name),
                ("Source", self.source),
                ("ArtifactType", self.artifact_type),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
            )
        )


ARTIFACTS = Kind(
    resource=ARTIFACT,
    load=Artifact.from_document,
    noun="artifact",
    name_key="ArtifactArn",
    list_key="ArtifactSummaries",
    key_of=lambda arn: arn.rsplit("/", 1)[-1],
    quotes_arns=True,
    missing=ResourceNotFound,
    missing_text="Artifact '{name}' does not exist.",
)


def create_artifact(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateArtifact."""
    key = hashlib.md5(uuid.uuid4().bytes, usedforsecurity=False).hexdigest()
    now = ctx.now()
    artifact = Artifact(
        key=key,
        arn=ctx.arn(ARTIFACT, key),
        source=params["Source"],
        artifact_type=params["ArtifactType"],
        creation_time=now,
        last_modified_time=now,
        name=params.get("ArtifactName"),
        properties=params.get("Properties"),
        metadata_properties=params.get("MetadataProperties"),
    )
    ARTIFACTS.add(ctx, artifact, params.get("Tags", []))
    return {"ArtifactArn": artifact.arn}


def _artifact(ctx: Context, arn: str) -> Artifact:
    """The artifact of this ARN (one of another account or region, or with its hash under
    another path, names none: its key alone would find this account's)."""
    artifact = ARTIFACTS.get(ctx, arn)
    if artifact.arn != arn:
        raise ARTIFACTS.not_found(ctx, arn)
    return artifact


def describe_artifact(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeArtifact."""
    return _artifact(ctx, params["ArtifactArn"]).describe()


def delete_artifact(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteArtifact (by ARN; by source URI is not emulated); its associations go too."""
    if not params.get("ArtifactArn"):
        raise ValidationException("smlocal deletes an artifact by its ArtifactArn only.")
    with ctx.store.transaction():
        arn = _artifact(ctx, params["ArtifactArn"]).arn
        ARTIFACTS.delete(ctx, arn)
        forget_associations(ctx, arn)
    return {"ArtifactArn": arn}


def forget_associations(ctx: Context, arn: str) -> None:
    """Drop the associations of a deleted entity (an entity made later under the same name
    must not inherit them)."""
    with ctx.store.transaction():
        for doc in ctx.store.all(ASSOCIATION):
            if arn in (doc["SourceArn"], doc["DestinationArn"]):
                ctx.store.delete(ASSOCIATION, _association_key(doc["SourceArn"],
                                                                doc["DestinationArn"]))  # fmt: skip


def _association_key(source: str, destination: str) -> str:
    return f"{source} {destination}"


def _entity(ctx: Context, arn: str) -> Document:
    found = find_by_arn(ctx, arn)
    if found is None:
        raise ResourceNotFound(f"Entity '{arn}' does not exist.")
    return found


def _type_of(arn: str) -> str:
    kind = arn.split(":", 5)[-1].split("/", 1)[0]
    return ENTITY_TYPES.get(kind, kind)


def add_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """AddAssociation: both entities must exist; a pair already associated is refused."""
    source, destination = params["SourceArn"], params["DestinationArn"]
    with ctx.store.transaction():
        _entity(ctx, source)
        _entity(ctx, destination)
        key = _association_key(source, destination)
        if ctx.store.get(ASSOCIATION, key) is not None:
            raise ValidationException(
                f"Association between source {source} and destination {destination} already exists."
            )
        ctx.store.put(ASSOCIATION, key, {"SourceArn": source, "DestinationArn": destination,
                                         "AssociationType": params.get("AssociationType"),
                                         "CreationTime": ctx.now()})  # fmt: skip
    return {"SourceArn": source, "DestinationArn": destination}


def list_associations(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListAssociations: by source, destination, their types and the edge type; paged."""
    docs = []
    for doc in ctx.store.all(ASSOCIATION):
        item = {**doc, "SourceType": _type_of(doc["SourceArn"]),
                "DestinationType": _type_of(doc["DestinationArn"])}  # fmt: skip
        if all(item.get(k) == params[k] for k in ("SourceArn", "DestinationArn", "SourceType",
               "DestinationType", "AssociationType") if params.get(k)) and created_between(
            params, item["CreationTime"]
        ):  # fmt: skip
            docs.append({k: v for k, v in item.items() if v is not None})
    docs = sort(docs, params, {"CreationTime": "CreationTime", "SourceArn": "SourceArn",
                               "DestinationArn": "DestinationArn", "SourceType": "SourceType",
                               "DestinationType": "DestinationType"})  # fmt: skip
    chunk, token = page(docs, params)
    return {"AssociationSummaries": chunk, "NextToken": token}


def delete_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteAssociation."""
    source, destination = params["SourceArn"], params["DestinationArn"]
    with ctx.store.transaction():
        key = _association_key(source, destination)
        if ctx.store.get(ASSOCIATION, key) is None:
            raise ResourceNotFound(
                f"Association between source {source} and destination {destination} does not exist."
            )
        ctx.store.delete(ASSOCIATION, key)
    return {"SourceArn": source, "DestinationArn": destination}
