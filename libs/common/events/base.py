"""Base class for every event body that travels on a omnidesk topic."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidatorFunctionWrapHandler
from pydantic.functional_validators import WrapValidator

_from_iso = datetime.fromisoformat


def _to_utc(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
    """An aware datetime, in UTC: ``handler(value).astimezone(UTC)``, and for the text our
    own producers write (pydantic's JSON of a UTC datetime, ``YYYY-MM-DDTHH:MM:SSZ`` with
    or without six digits of microseconds) the same datetime from ``fromisoformat``.

    Why: pydantic-core parses a ``Z`` into its own ``TzInfo``, and ``astimezone`` of that
    calls back into it (~4.6 K instructions a field; 2-4 fields an event); the text's
    shape checked here pins ``fromisoformat`` to the fields pydantic would read, and
    anything else (another shape, an out-of-range field, a ``datetime``) takes the
    general path, with its errors. Callgrind (``bench.*_decode_callgrind``): an interaction
    decode 109.7 -> 107.2 K instructions, a routing event 135.0 -> 131.8 K."""
    if type(value) is str and (
        # the separators at 4, 7, 10, 13, 16 and 19 in one slice: ~1 K instructions less
        # than a comparison each
        (len(value) == 27 and value[4:20:3] == "--T::." and value[26] == "Z")
        or (len(value) == 20 and value[4:20:3] == "--T::Z")
    ):
        try:
            return _from_iso(value)
        except ValueError:  # a field out of range: pydantic's error, below
            pass
    return handler(value).astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, WrapValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are refused."""


class ValueEnum(StrEnum):
    """A ``StrEnum`` whose members' ``value`` is read in C (a ``property`` of
    ``attrgetter("_value_")``): the same value, read-only as before.

    Why: ``Enum.value`` is a Python-level descriptor (``enum.property.__get__`` calling
    the ``value`` function: two frames, ~1.5 K instructions), and pydantic-core reads
    ``member.value`` for every enum field it writes to JSON (a routing event's snapshot
    has two: its channel and priority). Callgrind, the 800 snapshots of two warmed
    router polls serialised (``ConversationSnapshot.__pydantic_serializer__.to_json``):
    50.1 -> 47.1 K instructions a snapshot, the same bytes."""

    value: Any = property(attrgetter("_value_"))  # type: ignore[assignment]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventModel(BaseModel):
    """An event body. Unknown fields are ignored so producers can add fields
    in a minor version without breaking older consumers (architecture §3)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    #: CloudEvents ``type`` of this event; also the key of the event registry.
    ce_type: ClassVar[str]
    #: ``major.minor``; consumers dead-letter a major they do not know.
    current_schema_version: ClassVar[str] = "1.0"

    schema_version: str = "1.0"

    @classmethod
    def schema_major(cls) -> int:
        return int(cls.current_schema_version.split(".", 1)[0])


class ValueModel(BaseModel):
    """A nested value inside an event: same tolerance for unknown fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
