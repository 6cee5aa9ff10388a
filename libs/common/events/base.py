"""Base class for every event body that travels on a omnidesk topic."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import SchemaValidator, core_schema

_from_iso = datetime.fromisoformat


#: ``AwareDatetime``'s validator: what ``_to_utc`` does not read itself, with its errors
_AWARE_SCHEMA = core_schema.datetime_schema(tz_constraint="aware")
_aware = SchemaValidator(_AWARE_SCHEMA).validate_python


def _to_utc(value: object) -> datetime:
    """An aware datetime, in UTC: ``AwareDatetime``'s then ``astimezone(UTC)``; the text our
    own producers write (pydantic's JSON of a UTC datetime, ``YYYY-MM-DDTHH:MM:SSZ`` with
    or without six digits of microseconds) read by ``fromisoformat``, and a ``datetime`` in
    ``UTC`` given back as it is (what ``AwareDatetime`` and ``astimezone(UTC)`` give).
    Anything else takes the general path; its ``ValidationError``, raised here, pydantic-core
    reports as the field's own (the same errors as before).

    Why: pydantic-core parses a ``Z`` into its own ``TzInfo``, and ``astimezone`` of that
    calls back into it (~4.6 K instructions a field; 2-4 fields an event); the text's
    shape checked here pins ``fromisoformat`` to the fields pydantic would read.
    Callgrind (``bench.*_decode_callgrind``): an interaction decode 109.7 -> 107.2 K
    instructions, a routing event 135.0 -> 131.8 K. Since stop 41 a plain validator
    function, not a wrap around ``AwareDatetime``'s: pydantic-core builds a wrap's handler
    object for each call, used or not (``bench.decode_parts_callgrind``, 800 - 400 records,
    base 244bdf8 run beside: an interaction's validator, two such fields, 88.9 -> 87.0 K,
    its decode 102.5 -> 100.5 K; a routing event's decode 125.8 -> 123.6 K)."""
    if type(value) is str:
        # the separators at 4, 7, 10, 13, 16 and 19 in one slice: ~1 K instructions less
        # than a comparison each
        if (len(value) == 27 and value[4:20:3] == "--T::." and value[26] == "Z") or (
            len(value) == 20 and value[4:20:3] == "--T::Z"
        ):
            try:
                return _from_iso(value)
            except ValueError:  # a field out of range: pydantic's error, below
                pass
    elif type(value) is datetime and value.tzinfo is UTC:
        return value
    return _aware(value).astimezone(UTC)


class _UtcDatetimeSchema:
    """``UtcDatetime``'s schemas: validated by ``_to_utc``; written by the value's type (a
    plain validator function has no serializer of its own: pydantic-core writes a datetime
    as the datetime schema does, ``tests/unit/common/test_utc_datetime.py``), described as
    an aware datetime (its JSON schema)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _to_utc, json_schema_input_schema=_AWARE_SCHEMA
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_AWARE_SCHEMA)


UtcDatetime = Annotated[datetime, _UtcDatetimeSchema()]
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
