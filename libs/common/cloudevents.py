"""CloudEvents 1.0, Kafka protocol binding, binary content mode.

Attributes travel as ``ce_*`` headers, the body is the JSON of the pydantic
model, ``content-type: application/json``. Any CloudEvents-aware tool can
read our topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from libs.common.events.base import EventModel, utc_now
from libs.common.events.registry import UnknownEventType, model_for

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


def encode(event: CloudEvent) -> tuple[Headers, bytes]:
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if event.subject is not None:
        headers.append(("ce_subject", event.subject.encode()))
    headers.extend((f"ce_{k}", v.encode()) for k, v in sorted(event.extensions.items()))
    return headers, event.data.model_dump_json().encode()


_CORE = {"specversion", "id", "source", "type", "time", "subject"}


def decode(headers: Headers | None, value: bytes | None) -> CloudEvent:
    attrs = _attributes(headers or [])
    for required in ("specversion", "id", "source", "type"):
        if not attrs.get(required):
            raise CloudEventError(f"missing CloudEvents header ce_{required}")
    if attrs["specversion"] != SPEC_VERSION:
        raise CloudEventError(f"unsupported CloudEvents specversion {attrs['specversion']!r}")
    try:
        model = model_for(attrs["type"])
    except UnknownEventType as exc:
        raise CloudEventError(str(exc)) from None
    data = _parse_body(model, attrs, value)
    return CloudEvent(
        id=attrs["id"],
        source=attrs["source"],
        type=attrs["type"],
        data=data,
        time=datetime.fromisoformat(attrs["time"]) if attrs.get("time") else utc_now(),
        subject=attrs.get("subject"),
        extensions={k: v for k, v in attrs.items() if k not in _CORE},
    )


def _attributes(headers: Headers) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for key, raw in headers:
        if key.startswith("ce_"):
            try:
                attrs[key[3:]] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CloudEventError(f"header {key} is not UTF-8") from None
    return attrs


def _parse_body(model: type[EventModel], attrs: dict[str, str], value: bytes | None) -> EventModel:
    if not value:
        raise CloudEventError(f"event {attrs['id']} has an empty body")
    try:
        data = model.model_validate_json(value)
    except ValidationError as exc:
        raise CloudEventError(f"event {attrs['id']} ({attrs['type']}) invalid: {exc}") from None
    major = _major(data.schema_version)
    if major != model.schema_major():
        raise CloudEventError(
            f"event {attrs['id']} has schema_version {data.schema_version}; "
            f"this build reads major {model.schema_major()}"
        )
    return data


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        raise CloudEventError(f"schema_version {version!r} is not major.minor") from None
