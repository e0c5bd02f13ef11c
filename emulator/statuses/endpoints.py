"""Endpoint statuses: Creating -> InService / Failed, Updating, RollingBack, Deleting.

The endpoint manager drives every move. After a restart it brings back what was serving
with moves of its own (`RESTORED_ENDPOINT`): a status is written again with a new token,
and an endpoint that was Updating or RollingBack may end InService or Failed at once.
"""

from __future__ import annotations

from smlocal.emulator.errors import AWSError, ValidationException
from smlocal.emulator.statuses.machine import StatusMachine

IN_PROGRESS = ("Creating", "Updating", "RollingBack", "Deleting")
_MOVES = {
    "Creating": frozenset({"InService", "Failed", "Deleting"}),
    "InService": frozenset({"Updating", "Deleting", "Failed"}),  # Failed: it cannot be healed
    "Updating": frozenset({"InService", "RollingBack", "Deleting"}),
    "RollingBack": frozenset({"InService", "UpdateRollbackFailed"}),
    "UpdateRollbackFailed": frozenset({"Deleting"}),
    "Failed": frozenset({"Deleting"}),
    "Deleting": frozenset(),
}


def _refuse(operation: str, status: str, arn: str) -> AWSError:
    """The ValidationException AWS answers when an operation meets the wrong status."""
    verb = "delete" if operation == "DeleteEndpoint" else "update"
    if status in IN_PROGRESS:
        return ValidationException(f'Cannot {verb} in-progress endpoint "{arn}".')
    return ValidationException(
        f'Cannot {verb} endpoint "{arn}" in status {status}; delete it and create it again.'
    )


ENDPOINT = StatusMachine(
    kind="endpoint",
    key="EndpointStatus",
    moves=_MOVES,
    first="Creating",
    accepts={
        "UpdateEndpoint": frozenset({"InService"}),
        "UpdateEndpointWeightsAndCapacities": frozenset({"InService"}),
        "DeleteEndpoint": frozenset(_MOVES) - {"Deleting"},
    },
    refuse=_refuse,
)

# After a restart: each status the manager brings back -> what restoring it may write.
RESTORED_ENDPOINT = StatusMachine(
    kind="restored endpoint",
    key="EndpointStatus",
    moves={
        "Creating": frozenset({"Creating", "InService", "Failed"}),
        "Updating": frozenset({"Updating", "InService", "Failed"}),
        "RollingBack": frozenset({"RollingBack", "InService", "Failed"}),
        "InService": frozenset({"InService", "Failed"}),
        "Deleting": frozenset({"Deleting"}),
        "Failed": frozenset(),
    },
)
