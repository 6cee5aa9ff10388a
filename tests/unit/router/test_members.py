"""``members.member_of``: the member ``enum(value)`` gives, by a dict lookup."""

from __future__ import annotations

import pytest

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.members import channel_of, priority_of, status_of


@pytest.mark.parametrize(
    ("convert", "enum"),
    [(channel_of, Channel), (priority_of, Priority), (status_of, ConversationStatus)],
)
def test_the_member_the_enum_gives(convert, enum) -> None:  # type: ignore[no-untyped-def]
    for member in enum:
        assert convert(member.value) is enum(member.value)
        assert convert(member) is member


def test_a_value_that_is_no_member_fails_as_the_enum_does() -> None:
    with pytest.raises(ValueError, match="'fax' is not a valid Channel"):
        channel_of("fax")
    with pytest.raises(ValueError):
        status_of(None)


def test_values_are_the_members_values_as_plain_strings() -> None:
    from libs.common.events.interaction import Direction, InteractionKind
    from services.router.domain.contacts import IdentityKind
    from services.router.domain.members import (
        CHANNEL_VALUES,
        DIRECTION_VALUES,
        IDENTITY_KIND_VALUES,
        KIND_VALUES,
        PRIORITY_VALUES,
    )

    for values, enum in [
        (CHANNEL_VALUES, Channel),
        (DIRECTION_VALUES, Direction),
        (KIND_VALUES, InteractionKind),
        (PRIORITY_VALUES, Priority),
        (IDENTITY_KIND_VALUES, IdentityKind),
    ]:
        for member in enum:
            assert values[member] == member.value and type(values[member]) is str
