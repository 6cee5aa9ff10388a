"""Base class for every event body that travels on a omnidesk topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are refused."""


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
