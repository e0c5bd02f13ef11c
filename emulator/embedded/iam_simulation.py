"""IAM's policy simulator, answered as "allowed": a check a local user cannot satisfy.

`iam:SimulatePrincipalPolicy` and `iam:SimulateCustomPolicy` are what tools ask before they
act ("may this role read that bucket?"). Nothing is enforced locally, so every action on
every resource is `allowed`; the answer has the shape botocore's IAM model gives it
(`SimulatePolicyResponse`: `EvaluationResults`, `IsTruncated`, `Marker`), one result per
action and resource, paged by `MaxItems` and `Marker` as IAM pages. moto implements neither.
The principal is not looked up: a role that exists only in AWS is allowed too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from smlocal.emulator.embedded.errors import (
    Call,
    EmbeddedError,
    new_request_id,
    render,
    request_form,
    signing_name,
)
from smlocal.emulator.wire.http_server import reason
from smlocal.emulator.wire.wsgi_bridge import WSGIApp

XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
# The parameter each operation requires besides ActionNames (botocore's IAM model).
REQUIRED = {
    "SimulatePrincipalPolicy": "PolicySourceArn",
    "SimulateCustomPolicy": "PolicyInputList.member.1",
}
DEFAULT_MAX_ITEMS = 100


def simulate(action: str, form: dict[str, list[str]]) -> list[dict[str, str]] | EmbeddedError:
    """Every (action, resource) pair the request names, allowed; or the validation error."""
    actions = _members(form, "ActionNames")
    resources = _members(form, "ResourceArns") or ["*"]
    for name, present in ((REQUIRED[action], form.get(REQUIRED[action])), ("ActionNames", actions)):
        if not present:
            message = f"1 validation error detected: Value null at '{_member_name(name)}' " \
                      "failed to satisfy constraint: Member must not be null"  # fmt: skip
            return EmbeddedError(400, "ValidationError", message, sender=True)
    return [
        {"EvalActionName": name, "EvalResourceName": resource, "EvalDecision": "allowed"}
        for name in actions
        for resource in resources
    ]


def page(
    results: list[dict[str, str]], form: dict[str, list[str]]
) -> tuple[list[dict[str, str]], str | None] | EmbeddedError:
    """One page of results and the marker of the next (IAM's MaxItems, default 100)."""
    try:
        start = int(form.get("Marker", ["0"])[0])
        size = int(form.get("MaxItems", [str(DEFAULT_MAX_ITEMS)])[0])
    except ValueError:
        return EmbeddedError(400, "InvalidInput", "Invalid Marker or MaxItems.", sender=True)
    if start < 0 or not 1 <= size <= 1000:
        return EmbeddedError(400, "InvalidInput", "Invalid Marker or MaxItems.", sender=True)
    end = start + size
    return results[start:end], (str(end) if end < len(results) else None)


def response_xml(action: str, results: list[dict[str, str]], marker: str | None) -> bytes:
    """The query-protocol XML of a SimulatePolicyResponse."""
    members = "".join(
        "<member>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in result.items())
        + "<MatchedStatements/><MissingContextValues/></member>"
        for result in results
    )  # fmt: skip
    paging = f"<IsTruncated>{'true' if marker else 'false'}</IsTruncated>"
    if marker:
        paging += f"<Marker>{marker}</Marker>"
    text = (
        f'<{action}Response xmlns="{XMLNS}"><{action}Result>'
        f"<EvaluationResults>{members}</EvaluationResults>{paging}</{action}Result>"
        f"<ResponseMetadata><RequestId>{new_request_id()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}'.encode()


class IamSimulation:
    """WSGI middleware: answers IAM's two simulate operations, passes the rest on."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if signing_name(environ) != "iam":
            return self.app(environ, start_response)
        form = request_form(environ)
        action = form.get("Action", [""])[0]
        if action not in REQUIRED:
            return self.app(environ, start_response)
        status, headers, body = self._answer(action, form)
        start_response(f"{status} {reason(status)}", headers)
        return [body]

    def _answer(
        self, action: str, form: dict[str, list[str]]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        results = simulate(action, form)
        paged = page(results, form) if isinstance(results, list) else results
        if isinstance(paged, EmbeddedError):
            return render(Call("query", "iam", action), paged, new_request_id())
        body = response_xml(action, *paged)
        return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", new_request_id())], body


def _members(form: dict[str, list[str]], name: str) -> list[str]:
    """A query-protocol list (`Name.member.1`, `Name.member.2`, …) in order."""
    found = []
    index = 1
    while (value := form.get(f"{name}.member.{index}")) is not None:
        found.append(value[0])
        index += 1
    return found


def _member_name(parameter: str) -> str:
    name = parameter.split(".", 1)[0]
    return name[0].lower() + name[1:]
