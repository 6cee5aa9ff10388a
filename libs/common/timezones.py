"""Time zone names in configuration (business calendars, display zones, phone integrations)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def known_timezone(value: str) -> str:
    """``value`` if it names an IANA time zone this machine knows; a pydantic validator."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (IANA name, e.g. Asia/Seoul)") from None
    return value
