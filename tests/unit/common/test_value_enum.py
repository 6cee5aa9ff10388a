"""``ValueEnum`` (libs/common/events/base.py): the event enums' ``value`` read in C, the
same as ``Enum``'s own descriptor gives, and events written as before."""

from __future__ import annotations

import enum
import pickle

import pytest

from libs.common.events.base import ValueEnum
from libs.common.events.interaction import Channel, DeliveryState, Direction, InteractionKind
from libs.common.events.routing import Priority, SlaMetric

EVENT_ENUMS = (Channel, Direction, InteractionKind, DeliveryState, Priority, SlaMetric)
#: what ``member.value`` was before: the ``Enum`` class's own descriptor
ENUM_VALUE = vars(enum.Enum)["value"]


@pytest.mark.parametrize("kind", EVENT_ENUMS)
def test_a_members_value_is_the_one_enum_gives(kind: type[ValueEnum]) -> None:
    assert issubclass(kind, enum.StrEnum)
    for member in kind:
        assert member.value == ENUM_VALUE.__get__(member, kind)
        assert type(member.value) is str and member.value == str(member)
        assert kind(member.value) is member and kind[member.name] is member
        assert pickle.loads(pickle.dumps(member)) is member  # noqa: S301 - our own bytes
        with pytest.raises(AttributeError):
            member.value = "other"  # type: ignore[misc]


def test_a_value_enum_has_no_member_named_value() -> None:
    class Colour(ValueEnum):
        RED = "red"

    assert list(Colour) == [Colour.RED] and Colour.RED.value == "red"
    assert "value" not in Colour.__members__
