"""Control-plane resources, one module per SageMaker resource."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context

Document = dict[str, Any]


def pick(doc: Document, keys: tuple[str, ...]) -> Document:
    """The listed AWS keys of a stored document (those that are set), in that order."""
    return {k: doc[k] for k in keys if doc.get(k) is not None}


def find_by_arn(ctx: Context, arn: str) -> Document | None:
    """The stored document an ARN names, in any resource kind, or None."""
    prefix = f"arn:aws:sagemaker:{ctx.region}:{ctx.account}:"
    if not arn.startswith(prefix) or "/" not in arn:
        return None
    kind, _, name = arn[len(prefix) :].partition("/")
    return ctx.store.get(kind, name)
