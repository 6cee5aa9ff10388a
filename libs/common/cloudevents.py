"""CloudEvents 1.0, Kafka protocol binding, binary content mode.

Attributes travel as ``ce_*`` headers, the body is the JSON of the pydantic
model, ``content-type: application/json``. Any CloudEvents-aware tool can
read our topics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from libs.common.events.base import EventModel, utc_now
from libs.common.events.registry import EVENT_TYPES, UnknownEventType, model_for

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


class CloudEventError(ValueError):
    """A record that is not a CloudEvent we can read; never worth a retry."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    id: str
    source: str
    type: str
    data: EventModel
    time: datetime = field(default_factory=utc_now)
    subject: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)


_FIELDS = ("id", "source", "type", "data", "time", "subject", "extensions")
assert tuple(f.name for f in fields(CloudEvent)) == _FIELDS, "cloud_event sets these, in order"
assert CloudEvent.__slots__ == _FIELDS, "_CloudEventSlots has CloudEvent's layout"


class _CloudEventSlots:
    """:class:`CloudEvent`'s layout (the same slots, in order) without its frozen
    ``__setattr__``: :func:`cloud_event` fills one and makes it a ``CloudEvent``."""

    __slots__ = _FIELDS


def cloud_event(
    id: str,
    source: str,
    type: str,
    data: EventModel,
    time: datetime,
    subject: str | None,
    extensions: dict[str, str],
) -> CloudEvent:
    """``CloudEvent(id, source, ...)`` with every field given: the same frozen object, for
    the hot paths (each record decoded, each notification outcome published).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; the
    slots are set here on a twin of the same layout, whose class is then switched
    (callgrind, an event: ~6.6 K instructions through the slots' ``__set__`` wrappers,
    ~2.8 K this way)."""
    event = _CloudEventSlots()
    event.id = id
    event.source = source
    event.type = type
    event.data = data
    event.time = time
    event.subject = subject
    event.extensions = extensions
    event.__class__ = CloudEvent  # type: ignore[assignment]
    return event


#: The headers every record carries with the same value (tuples: shared, never changed).
_SPEC_VERSION_HEADER = ("ce_specversion", SPEC_VERSION.encode())
_CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())


def encode(event: CloudEvent) -> tuple[Headers, bytes]:
    headers: Headers = [
        _SPEC_VERSION_HEADER,
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", iso_time(event.time).encode()),
        _CONTENT_TYPE_HEADER,
    ]
    if event.subject is not None:
        headers.append(("ce_subject", event.subject.encode()))
    extensions = event.extensions
    if len(extensions) == 1:
        # one (a notification outcome's about_a_reply): nothing to sort, no generator
        ((name, value),) = extensions.items()
        headers.append((f"ce_{name}", value.encode()))
    elif extensions:
        headers.extend((f"ce_{k}", v.encode()) for k, v in sorted(extensions.items()))
    return headers, _json_bytes(event.data)


#: "YYYY-MM-DDTHH:MM:SS" of the seconds :func:`iso_time` met lately, by their fields.
_ISO_SECONDS: dict[tuple[int, int, int, int, int, int], str] = {}
_ISO_SECONDS_KEPT = 64


def iso_time(time: datetime) -> str:
    """``time.isoformat()``, for a UTC datetime from the seconds' text met before and the
    microseconds: an aware datetime's ``isoformat`` formats every field and its offset
    (~12 K instructions; ~7 K this way, callgrind), and every record encoded writes one
    (a notification outcome, an accepted chat event)."""
    if time.tzinfo is not UTC or type(time) is not datetime:
        return time.isoformat()
    key = (time.year, time.month, time.day, time.hour, time.minute, time.second)
    seconds = _ISO_SECONDS.get(key)
    if seconds is None:
        if len(_ISO_SECONDS) >= _ISO_SECONDS_KEPT:
            _ISO_SECONDS.clear()  # records' times move on: keep the last few seconds
        seconds = _ISO_SECONDS[key] = time.replace(microsecond=0, tzinfo=None).isoformat()
    micro = time.microsecond
    return f"{seconds}.{micro:06d}+00:00" if micro else f"{seconds}+00:00"


#: A model class's own writer of its JSON (``use_json_writer``): its bytes, or None
#: where pydantic-core must write them
_JSON_WRITERS: dict[type, Callable[[EventModel], bytes | None]] = {}


def use_json_writer(model: type[EventModel], writer: Callable[[Any], bytes | None]) -> None:
    """Have :func:`encode` write ``model``'s events with ``writer`` (the bytes
    pydantic-core writes, or None to leave one to it): the webhook services' interactions
    by ``libs.common.model_json`` (~57 -> ~28 K instructions a web-chat interaction)."""
    _JSON_WRITERS[model] = writer


def _json_bytes(data: EventModel) -> bytes:
    """``data.model_dump_json().encode()``, the same bytes, straight from pydantic-core:
    no ``str`` made and encoded again, no keyword handling per call (~1.2 µs less for
    an interaction of ~1 KB: 4.2 → 3.0 µs; 2.0 → 1.4 for a notification outcome); or
    by the model's writer (``use_json_writer``)."""
    writer = _JSON_WRITERS.get(type(data))
    if writer is not None:
        written = writer(data)
        if written is not None:
            return written
    return data.__pydantic_serializer__.to_json(data)


_CORE = frozenset({"specversion", "id", "source", "type", "time", "subject"})
_REQUIRED = ("specversion", "id", "source", "type")

# decode runs once per consumed record in every service (~10 µs an event on this
# machine, ~7 of them pydantic's validation of the body): the steps around the
# validation take the shortest path for the usual record (every header UTF-8, no
# extensions, the schema version seen before) and the long one only to say what is
# wrong with a bad record, with the same messages as before.


#: The header names of a record as :func:`encode` writes it without subject and
#: extensions, in its order; with a subject (the router's relay: the conversation id)
#: ``ce_subject`` follows them. The shapes of (nearly) every record we consume.
_USUAL_NAMES = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type")
_SUBJECT_NAME = "ce_subject"
_SPEC_VERSION_BYTES = SPEC_VERSION.encode()
_from_iso = datetime.fromisoformat
#: ``isinstance``'s classes as a tuple made once: ``list | tuple`` in the call made a
#: ``types.UnionType`` every decode, and isinstance of a union takes a slower path
_LIST_OR_TUPLE = (list, tuple)


def decode(headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> CloudEvent:
    # encode's list, or the tuple of aiokafka's ConsumerRecord (tuple(record.headers))
    if isinstance(headers, _LIST_OR_TUPLE) and 6 <= len(headers) <= 7:
        event = _decode_usual(headers, value)
        if event is not None:
            return event
    return _decode_any(headers, value)


def _decode_usual(headers: Sequence[tuple[str, bytes]], value: bytes | None) -> CloudEvent | None:
    """:func:`_decode_any` of a record in :func:`encode`'s own shape (the six headers in
    their order, then ``ce_subject`` or nothing, all set and UTF-8, a known type, a valid
    body of a known major), read without the dict of attributes and its checks one at a
    time (callgrind: a routing event 141.1 → 131.9 K instructions, an interaction 118.6 →
    108.1 K); ``None`` for any other record, which the general path then reads or rejects
    with its messages (a bad body is validated twice: rare, and its error stays the
    general path's).

    Until stop 27 only a list of six was read here, and no consumed record is one: the
    relay's records carry ``ce_subject`` and aiokafka hands the headers as a tuple, so
    every service's every record took the general path."""
    with_subject = len(headers) == 7
    if with_subject:
        k6, raw_subject = headers[6]
        if k6 != _SUBJECT_NAME:
            return None
        headers = headers[:6]
    (k0, spec), (k1, raw_id), (k2, raw_source), (k3, raw_type), (k4, raw_time), (k5, _) = headers
    if (
        (k0, k1, k2, k3, k4, k5) != _USUAL_NAMES
        or spec != _SPEC_VERSION_BYTES
        or not (raw_id and raw_source and raw_type and raw_time and value)
    ):
        return None
    try:
        event_id, source, ce_type, time = (
            raw_id.decode(),
            raw_source.decode(),
            raw_type.decode(),
            raw_time.decode(),
        )
        subject = raw_subject.decode() if with_subject else None
    except (UnicodeDecodeError, AttributeError):  # not bytes or not UTF-8: the general path says
        return None
    model = EVENT_TYPES.get(ce_type)
    if model is None:
        return None
    try:
        data = model.__pydantic_validator__.validate_json(value)
    except ValidationError:
        return None
    # two dict lookups, not two cached calls (~0.8 K instructions); a version not met
    # before is None here: the general path reads it (and remembers its major)
    if _VERSION_MAJORS.get(data.schema_version) != _MODEL_MAJORS.get(model, -1):
        return None
    return cloud_event(event_id, source, ce_type, data, _from_iso(time), subject, {})


def _decode_any(headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> CloudEvent:
    attrs = _attributes(headers or ())
    for required in _REQUIRED:
        if not attrs.get(required):
            raise CloudEventError(f"missing CloudEvents header ce_{required}")
    if attrs["specversion"] != SPEC_VERSION:
        raise CloudEventError(f"unsupported CloudEvents specversion {attrs['specversion']!r}")
    try:
        model = model_for(attrs["type"])
    except UnknownEventType as exc:
        raise CloudEventError(str(exc)) from None
    data = _parse_body(model, attrs, value)
    time = attrs.get("time")
    return cloud_event(
        attrs["id"],
        attrs["source"],
        attrs["type"],
        data,
        datetime.fromisoformat(time) if time else utc_now(),
        attrs.get("subject"),
        {} if attrs.keys() <= _CORE else _extensions(attrs),
    )


def _extensions(attrs: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attrs.items() if k not in _CORE}


#: Header name → attribute of the core attributes: one lookup a header instead of a
#: slice, a comparison and a slice (a record's 6-7 headers: ~14.8 → ~8.8 K instructions, callgrind).
_CORE_HEADERS = {f"ce_{name}": name for name in _CORE}


def _attributes(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    attrs = {}
    try:
        for key, raw in headers:
            name = _CORE_HEADERS.get(key)
            if name is not None:
                attrs[name] = raw.decode()
            elif key[:3] == "ce_":  # an extension
                attrs[key[3:]] = raw.decode()
        return attrs
    except UnicodeDecodeError:
        pass
    for key, raw in headers:  # which header is not UTF-8
        if key.startswith("ce_"):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CloudEventError(f"header {key} is not UTF-8") from None
    raise AssertionError("unreachable: a ce_ header failed to decode above")


def _parse_body(model: type[EventModel], attrs: dict[str, str], value: bytes | None) -> EventModel:
    if not value:
        raise CloudEventError(f"event {attrs['id']} has an empty body")
    try:
        # the model's validator itself: ``model_validate_json`` is this plus keyword
        # handling in Python (~0.25 µs a record)
        data = model.__pydantic_validator__.validate_json(value)
    except ValidationError as exc:
        raise CloudEventError(f"event {attrs['id']} ({attrs['type']}) invalid: {exc}") from None
    if _major(data.schema_version) != _model_major(model):
        raise CloudEventError(
            f"event {attrs['id']} has schema_version {data.schema_version}; "
            f"this build reads major {model.schema_major()}"
        )
    return data


#: Each model's major; and the major of each ``schema_version`` read lately (a handful
#: are in use; :func:`_major` adds them, a bad one is not kept): :func:`_decode_usual`'s.
_MODEL_MAJORS: dict[type[EventModel], int] = {
    model: model.schema_major() for model in EVENT_TYPES.values()
}
_VERSION_MAJORS: dict[str, int] = {
    model.current_schema_version: major for model, major in _MODEL_MAJORS.items()
}
_VERSION_MAJORS_KEPT = 64


def _model_major(model: type[EventModel]) -> int:
    major = _MODEL_MAJORS.get(model)
    return model.schema_major() if major is None else major


def _major(version: str) -> int:
    major = _VERSION_MAJORS.get(version)
    if major is not None:
        return major
    try:
        major = int(version.split(".", 1)[0])
    except ValueError:
        raise CloudEventError(f"schema_version {version!r} is not major.minor") from None
    if len(_VERSION_MAJORS) >= _VERSION_MAJORS_KEPT:
        _VERSION_MAJORS.clear()
    _VERSION_MAJORS[version] = major
    return major
