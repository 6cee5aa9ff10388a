"""Enum members to their stored values and back, by a dict lookup.

``SomeEnum(value)`` goes through ``EnumType.__call__`` and ``__new__`` (~0.5 µs); routing
turns a conversation's stored channel, priority and status back into members several
times per interaction. A value that is no member falls through to the enum call, so
it fails as before (ValueError). The other way, ``member.value`` is a Python-level
property (~0.2 µs); routing stores ~8 per interaction (``values_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from libs.common.events.interaction import Channel, Direction, InteractionKind
from libs.common.events.routing import Priority
from services.router.domain.contacts import IdentityKind
from services.router.domain.lifecycle import ConversationStatus

E = TypeVar("E", bound=Enum)


def member_of(enum: type[E]) -> Callable[[object], E]:
    """A function doing what ``enum(value)`` does: the member of that value (or the member
    itself), else the enum's own error."""
    members: dict[object, E] = {member.value: member for member in enum}

    def member(value: object) -> E:
        found = members.get(value)
        return found if found is not None else enum(value)

    return member


def values_of(enum: type[E]) -> dict[E, object]:
    """``{member: member.value}``: ``values[member]`` is ``member.value``."""
    return {member: member.value for member in enum}


channel_of = member_of(Channel)
priority_of = member_of(Priority)
status_of = member_of(ConversationStatus)
CHANNEL_VALUES: dict[Channel, str] = values_of(Channel)  # type: ignore[assignment]
DIRECTION_VALUES: dict[Direction, str] = values_of(Direction)  # type: ignore[assignment]
KIND_VALUES: dict[InteractionKind, str] = values_of(InteractionKind)  # type: ignore[assignment]
PRIORITY_VALUES: dict[Priority, str] = values_of(Priority)  # type: ignore[assignment]
IDENTITY_KIND_VALUES: dict[IdentityKind, str] = values_of(IdentityKind)  # type: ignore[assignment]
