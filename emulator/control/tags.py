"""Tags of any SageMaker resource, kept by ARN: AddTags, DeleteTags, ListTags."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.pagination import page
from smlocal.emulator.errors import ValidationException

KIND = "tags"
MAX_TAGS = 50


def set_tags(ctx: Context, arn: str, tags: list[dict[str, str]]) -> None:
    """Merge tags into a resource's tags (a key given again replaces its value)."""
    with ctx.store.transaction():
        current = {
            t["Key"]: t.get("Value", "") for t in (ctx.store.get(KIND, arn) or {}).get("Tags", [])
        }
        current.update({t["Key"]: t.get("Value", "") for t in tags})
        if len(current) > MAX_TAGS:
            raise ValidationException(
                f"Resource {arn} would have {len(current)} tags; the limit is {MAX_TAGS}."
            )
        ctx.store.put(KIND, arn, {"Tags": [{"Key": k, "Value": v} for k, v in current.items()]})


def tags_of(ctx: Context, arn: str) -> list[dict[str, str]]:
    """A resource's tags."""
    return list((ctx.store.get(KIND, arn) or {}).get("Tags", []))


def drop_tags(ctx: Context, arn: str) -> None:
    """Forget a deleted resource's tags."""
    ctx.store.delete(KIND, arn)


def find_by_arn(ctx: Context, arn: str) -> dict[str, Any] | None:
    """The stored document an ARN names, in any resource kind, or None."""
    prefix = f"arn:aws:sagemaker:{ctx.region}:{ctx.account}:"
    if not arn.startswith(prefix) or "/" not in arn:
        return None
    kind, _, name = arn[len(prefix) :].partition("/")
    return ctx.store.get(kind, name)


def _require_resource(ctx: Context, arn: str) -> None:
    if find_by_arn(ctx, arn) is None:
        raise ValidationException(f'Could not find resource "{arn}".')


def add_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """AddTags: returns the resource's tags after the change."""
    _require_resource(ctx, params["ResourceArn"])
    set_tags(ctx, params["ResourceArn"], params["Tags"])
    return {"Tags": tags_of(ctx, params["ResourceArn"])}


def delete_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteTags."""
    arn = params["ResourceArn"]
    _require_resource(ctx, arn)
    with ctx.store.transaction():
        kept = [t for t in tags_of(ctx, arn) if t["Key"] not in set(params["TagKeys"])]
        ctx.store.put(KIND, arn, {"Tags": kept})
    return {}


def list_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTags (MaxResults is at least 50 in the API)."""
    _require_resource(ctx, params["ResourceArn"])
    chunk, token = page(tags_of(ctx, params["ResourceArn"]), params, default_max=MAX_TAGS)
    return {"Tags": chunk, "NextToken": token}
