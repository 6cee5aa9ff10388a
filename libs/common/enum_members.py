"""Enum members to their stored values and back, by a dict lookup.

``SomeEnum(value)`` goes through ``EnumType.__call__`` and ``__new__`` in Python
(~0.5 µs); the router and the notifier turn stored values back into members several
times per record. A value that is no member falls through to the enum call, so it
fails as before (ValueError). The other way, ``member.value`` is a Python-level
property (~0.2 µs): ``values_of`` gives a dict of them.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

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
