"""The generic status machine (pure)."""

from __future__ import annotations

import pytest

from smlocal.emulator.errors import AWSError, ValidationException
from smlocal.emulator.statuses.machine import IllegalTransition, StatusMachine


def refuse(operation: str, status: str, subject: str) -> AWSError:
    return ValidationException(f"{operation} refused: {subject} is {status}")


LAMP = StatusMachine(
    kind="lamp",
    key="LampStatus",
    moves={"Off": frozenset({"On"}), "On": frozenset({"Off", "Broken"}), "Broken": frozenset()},
    first="Off",
    accepts={"Switch": frozenset({"Off", "On"})},
    refuse=refuse,
)


def test_statuses_and_terminal_statuses_come_from_the_table() -> None:
    assert LAMP.statuses == {"Off", "On", "Broken"}
    assert LAMP.terminal == {"Broken"}


def test_move_sets_the_status_key_when_the_table_allows_it() -> None:
    doc = LAMP.move({"Name": "desk"}, "Off")  # a new document starts in `first`
    assert LAMP.move(doc, "On") is doc
    assert doc == {"Name": "desk", "LampStatus": "On"}


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("Off", "Broken", "lamp cannot go from Off to Broken"),
        ("Broken", "On", "lamp cannot go from Broken to On"),
        ("Lost", "On", "lamp cannot go from Lost to On"),
        (None, "On", "lamp cannot go from None to On"),
    ],
)
def test_a_move_outside_the_table_is_an_illegal_transition(
    current: str | None, target: str, message: str
) -> None:
    doc = {} if current is None else {"LampStatus": current}
    with pytest.raises(IllegalTransition, match=f"^{message}$"):
        LAMP.move(doc, target)
    assert doc.get("LampStatus") == current  # unchanged
    assert issubclass(IllegalTransition, RuntimeError)


def test_a_kind_without_a_first_status_cannot_be_created() -> None:
    restored = StatusMachine(kind="lamp", key="LampStatus", moves={"On": frozenset({"On"})})
    restored.check("On", "On")
    with pytest.raises(IllegalTransition):
        restored.check(None, "On")


def test_require_answers_the_kinds_own_error() -> None:
    LAMP.require("Switch", "On", "desk")
    with pytest.raises(ValidationException) as caught:
        LAMP.require("Switch", "Broken", "desk")
    assert caught.value.message == "Switch refused: desk is Broken"


def test_a_table_naming_an_unknown_status_or_operations_without_a_refusal_is_refused() -> None:
    with pytest.raises(ValueError, match="lamp statuses not in its table: Dimmed"):
        StatusMachine(kind="lamp", key="S", moves={"On": frozenset({"Dimmed"})})
    with pytest.raises(ValueError, match="Gone"):
        StatusMachine(kind="lamp", key="S", moves={"On": frozenset()}, first="Gone")
    with pytest.raises(ValueError, match="Off"):
        StatusMachine(
            kind="lamp",
            key="S",
            moves={"On": frozenset()},
            accepts={"Switch": frozenset({"Off"})},
            refuse=refuse,
        )
    with pytest.raises(ValueError, match="no refusal"):
        StatusMachine(kind="lamp", key="S", moves={"On": frozenset()}, accepts={"X": frozenset()})
