"""Stored values to their enum members, by a dict lookup.

``SomeEnum(value)`` goes through ``EnumType.__call__`` and ``__new__`` (~0.5 µs); routing
turns a conversation's stored channel, priority and status back into members several
times per interaction. A value that is no member falls through to the enum call, so
it fails as before (ValueError).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
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


channel_of = member_of(Channel)
priority_of = member_of(Priority)
status_of = member_of(ConversationStatus)
