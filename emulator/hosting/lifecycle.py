"""Endpoint statuses and the transitions between them, as data."""

from __future__ import annotations

from smlocal.emulator.errors import ValidationException

# status -> statuses it may move to (the endpoint manager drives every move)
TRANSITIONS: dict[str, frozenset[str]] = {
    "Creating": frozenset({"InService", "Failed", "Deleting"}),
    "InService": frozenset({"Updating", "Deleting", "Failed"}),  # Failed: it cannot be healed
    "Updating": frozenset({"InService", "RollingBack", "Deleting"}),
    "RollingBack": frozenset({"InService", "UpdateRollbackFailed"}),
    "UpdateRollbackFailed": frozenset({"Deleting"}),
    "Failed": frozenset({"Deleting"}),
    "Deleting": frozenset(),
}

# operation -> statuses in which the control plane accepts it
ALLOWED: dict[str, frozenset[str]] = {
    "UpdateEndpoint": frozenset({"InService"}),
    "UpdateEndpointWeightsAndCapacities": frozenset({"InService"}),
    "DeleteEndpoint": frozenset(TRANSITIONS) - {"Deleting"},
}


class IllegalTransition(RuntimeError):
    """A move the table does not allow (a bug in the manager, not a user error)."""


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition unless current -> target is in the table."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"endpoint cannot go from {current} to {target}")


def require(operation: str, status: str, arn: str) -> None:
    """The ValidationException AWS answers when an operation meets the wrong status."""
    if status in ALLOWED[operation]:
        return
    verb = "delete" if operation == "DeleteEndpoint" else "update"
    if status in ("Creating", "Updating", "RollingBack", "Deleting"):
        raise ValidationException(f'Cannot {verb} in-progress endpoint "{arn}".')
    raise ValidationException(
        f'Cannot {verb} endpoint "{arn}" in status {status}; delete it and create it again.'
    )
