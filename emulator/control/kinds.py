"""What every resource kind shares: the generic Describe/List/Delete over typed records.

A kind's module declares a record (a dataclass that converts to and from the JSON document
the store keeps, and lists the AWS keys of its Describe output and List item) and one
`Kind` naming how it is stored, found, listed and worded in errors; its operations are then
a few lines each. What records of every room share (`Document`, `Nested`, `shown`) is in
`smlocal.emulator.support.records`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import AWSError, ValidationException
from smlocal.emulator.support.records import Document


class Record(Protocol):
    """What the generic operations need of a kind's record."""

    @property
    def key(self) -> str:
        """The key the store keeps it under."""

    @property
    def arn(self) -> str:
        """Its ARN (tags are kept by it)."""

    def to_document(self) -> Document:
        """The JSON document the store keeps."""

    def describe(self) -> dict[str, object]:
        """The Describe output."""

    def summary(self) -> dict[str, object]:
        """The item of the List output."""


R = TypeVar("R", bound=Record)


def _same(name: str) -> str:
    return name


@dataclass(frozen=True)
class Kind(Generic[R]):
    """One resource kind: its store kind (also its ARN's resource type), how a record is
    loaded from a stored document, and what its errors and List output say."""

    resource: str  # "model": the store kind and the ARN's resource type
    load: Callable[[Document], R]  # the record of a stored document
    noun: str  # "endpoint configuration": in the not-found and already-exists messages
    name_key: str  # the document key NameContains and SortBy=Name look at
    list_key: str  # "Models": the List output's key of the items
    equals: Mapping[str, str] = field(default_factory=dict)  # StatusEquals -> document key
    sort_keys: Mapping[str, str] = field(default_factory=dict)  # SortBy values besides Name
    default_order: str = "Descending"  # SortOrder when not given
    key_of: Callable[[str], str] = _same  # the store key of a name (or ARN, where accepted)
    quotes_arns: bool = False  # not-found quotes an ARN given as it was given
    missing: type[AWSError] = ValidationException
    missing_text: str = 'Could not find {noun} "{arn}".'  # may also use {name}, as given
    duplicate: type[AWSError] = ValidationException
    duplicate_text: str = 'Cannot create already existing {noun} "{arn}".'

    def find(self, ctx: Context, name_or_arn: str) -> R | None:
        """The record, or None."""
        doc = ctx.store.get(self.resource, self.key_of(name_or_arn))
        return None if doc is None else self.load(doc)

    def get(self, ctx: Context, name_or_arn: str) -> R:
        """The record, or the kind's not-found error."""
        record = self.find(ctx, name_or_arn)
        if record is None:
            raise self.not_found(ctx, name_or_arn)
        return record

    def not_found(self, ctx: Context, name_or_arn: str) -> AWSError:
        """SageMaker's not-found error; the SDK relies on "Could not find" in it."""
        if self.quotes_arns and f":{self.resource}/" in name_or_arn:
            arn = name_or_arn
        else:
            arn = ctx.arn(self.resource, self.key_of(name_or_arn))
        return self.missing(self.missing_text.format(noun=self.noun, arn=arn, name=name_or_arn))

    def records(self, ctx: Context) -> list[R]:
        """Every record of the kind, in the order they were created."""
        return [self.load(doc) for doc in ctx.store.all(self.resource)]

    def add(self, ctx: Context, record: R, tags: list[dict[str, str]]) -> None:
        """Store a new record and its tags, refusing a name already taken."""
        with ctx.store.transaction():
            self.refuse_taken(ctx, record.key)
            self.save(ctx, record)
            set_tags(ctx, record.arn, tags)

    def refuse_taken(self, ctx: Context, key: str) -> None:
        """The kind's already-exists error if a record is stored under that key."""
        if ctx.store.get(self.resource, key) is not None:
            arn = ctx.arn(self.resource, key)
            raise self.duplicate(self.duplicate_text.format(noun=self.noun, arn=arn, name=key))

    def save(self, ctx: Context, record: R) -> None:
        """Insert or replace a record."""
        ctx.store.put(self.resource, record.key, record.to_document())

    def describe(self, ctx: Context, name_or_arn: str) -> dict[str, object]:
        """DescribeX."""
        return self.get(ctx, name_or_arn).describe()

    def listing(
        self,
        ctx: Context,
        params: dict[str, Any],
        keep: Callable[[R], bool] | None = None,
        records: Iterable[R] | None = None,
    ) -> dict[str, object]:
        """ListX: the records `keep` accepts, filtered, sorted and paged as the params say;
        `records` lists those instead of the stored ones (e.g. brought up to date first)."""
        listed = self.records(ctx) if records is None else records
        docs = [r.to_document() for r in listed if keep is None or keep(r)]
        docs = sort(
            filtered(docs, params, self.name_key, equals=self.equals),
            params,
            {"Name": self.name_key, "CreationTime": "CreationTime", **self.sort_keys},
            default_order=self.default_order,
        )
        chunk, token = page(docs, params)
        return {self.list_key: [self.load(d).summary() for d in chunk], "NextToken": token}

    def delete(
        self, ctx: Context, name_or_arn: str, refuse: Callable[[R], None] | None = None
    ) -> dict[str, object]:
        """DeleteX, with the resource's tags; `refuse` raises if it may not go yet."""
        with ctx.store.transaction():
            record = self.get(ctx, name_or_arn)
            if refuse is not None:
                refuse(record)
            ctx.store.delete(self.resource, record.key)
            drop_tags(ctx, record.arn)
        return {}
