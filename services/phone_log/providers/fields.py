"""Tolerant readers for provider fields: a malformed optional field becomes None."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from services.phone_log.calls import PayloadError

Fields = Mapping[str, Any]

#: Timestamps PBXs write without an offset ("2024-05-01 10:00:00").
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


def text(fields: Fields, *names: str) -> str | None:
    """The first non-empty value among ``names``, stripped; lists give their first item.

    A form's value (a list of ``str``) and a JSON text are told by their exact types
    first: no ``isinstance`` of a text and no ``str()`` of it, ~10 reads a CTI callback
    (the same results as the general reading: tests/unit/phone_log/test_fields.py)."""
    for name in names:
        value = fields.get(name)
        if type(value) is list or isinstance(value, list):
            value = value[0] if value else None
        if type(value) is str:
            value = value.strip()
        elif value is None or isinstance(value, dict):
            continue
        else:
            value = str(value).strip()
        if value:
            return value
    return None


def texts(fields: Fields, *names: str) -> list[str]:
    """Every value of a repeated field (``user[]=a&user[]=b`` or a JSON list)."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        if value is not None and str(value).strip():
            return [str(value).strip()]
    return []


def required(fields: Fields, name: str) -> str:
    value = text(fields, name)
    if value is None:
        raise PayloadError(f"missing field {name!r}")
    return value


def seconds(fields: Fields, *names: str) -> int | None:
    """A non-negative whole number of seconds, or None."""
    value = text(fields, *names)
    if value is None:
        return None
    try:
        number = int(float(value))
    except (ValueError, OverflowError):
        return None
    return number if 0 <= number < 10**9 else None


def epoch(fields: Fields, *names: str) -> datetime | None:
    """Unix seconds (``0`` means "never", as FreeSWITCH writes an unanswered answer_epoch)."""
    value = text(fields, *names)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return epoch_to_datetime(number)


def epoch_to_datetime(number: float) -> datetime | None:
    """Unix seconds, or milliseconds when the number is too large to be seconds."""
    if number >= 10**11:
        number /= 1000
    if not 0 < number < 10**10:
        return None
    return datetime.fromtimestamp(number, UTC)


def rfc2822(fields: Fields, *names: str) -> datetime | None:
    """Twilio's ``Mon, 16 Aug 2010 03:45:01 +0000``."""
    value = text(fields, *names)
    return None if value is None else _rfc2822_time(value)


@lru_cache(maxsize=1024)
def _rfc2822_time(value: str) -> datetime | None:
    """Cached: callbacks sent in the same second carry the same text (``email.utils``
    parses it in ~6 µs; a datetime is immutable)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def pbx_time(fields: Fields, name: str, zone: tzinfo) -> datetime | None:
    """ISO with offset, Unix seconds, or a naive local time in the PBX's zone."""
    value = text(fields, name)
    if value is None or value.startswith("0000"):
        return None
    if value.replace(".", "", 1).isdigit():
        return epoch(fields, name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _naive(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _naive(value: str) -> datetime | None:
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def decode_json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise PayloadError("JSON body must be an object")
    return value
