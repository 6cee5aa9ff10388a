"""The conversation snapshot's JSON by ``orjson`` (``event_json.model_writer``, what
``OutboxWriter._snapshot_text`` writes) against pydantic-core's: the same text for any
snapshot it writes, None (pydantic-core's way) where it does not, never other bytes."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.constructed import constructed
from libs.common.events.interaction import Channel, CustomerIdentity, Flags, ReplyPath
from libs.common.events.routing import AgentRef, ConversationSnapshot, Priority
from services.router.store.event_json import model_writer
from services.router.store.outbox import OutboxWriter

WRITE = model_writer(ConversationSnapshot)
SERIALIZER = ConversationSnapshot.__pydantic_serializer__
KST = timezone(timedelta(hours=9))


class _Status(str):
    """A subclass of str (an enum member's kind) in a text field."""


def pydantic_text(snapshot: object) -> str | None:
    """pydantic-core's JSON of ``snapshot``, or None where it refuses to write it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a value not of its field's type
        try:
            return SERIALIZER.to_json(snapshot).decode()
        except Exception:  # any refusal: the writer must give None too
            return None


def assert_written_alike(snapshot: object, *, written: bool = True) -> None:
    text = WRITE(snapshot)  # type: ignore[misc]
    expected = pydantic_text(snapshot)
    if text is None:  # left to pydantic-core: only where it is not to be written here
        assert not written or expected is None
    else:  # never other bytes
        assert text == expected
    # the outbox's text: the writer's, or pydantic-core's where it gives None
    if expected is not None:
        assert OutboxWriter(None)._snapshot_text(snapshot) == expected  # type: ignore[arg-type]


#: text of every kind: Korean, quotes, backslashes, control characters, DEL, U+2028
_ALPHABET = st.characters(codec="utf-8") | st.sampled_from(
    ['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "한", "국", "어", "é", "😀"]
)
text = st.text(_ALPHABET, max_size=12) | st.text(_ALPHABET, max_size=12).map(_Status)
texts = st.none() | text
_SPAN = {"min_value": datetime(1, 1, 2), "max_value": datetime(9999, 12, 30)}
_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=9)),
        timezone(-timedelta(hours=3, minutes=30)),
        timezone(timedelta(hours=5, minutes=30, seconds=15)),
        ZoneInfo("UTC"),
        ZoneInfo("Asia/Seoul"),
        ZoneInfo("Europe/London"),
    ]
)
aware_times = (
    st.none()
    | st.datetimes(timezones=st.just(UTC), **_SPAN)
    | st.datetimes(timezones=_ZONES, **_SPAN)
)
times = aware_times | st.datetimes(**_SPAN)  # naive: constructed, as validation would not


def in_utc(*values: datetime | None) -> bool:
    """Every time None or in UTC: the snapshots ``model_writer`` writes itself."""
    return all(value is None or value.tzinfo is UTC for value in values)


agents = st.builds(AgentRef, agent_id=text, name=texts, email=texts, locale=texts)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    channel=st.sampled_from(list(Channel)),
    status=text,
    priority=st.sampled_from(list(Priority)),
    language=texts,
    subject=texts,
    tags=st.lists(text, max_size=3),
    customer=st.builds(
        CustomerIdentity,
        email=st.none() | st.emails(),
        phone=texts,
        handle=texts,
        display_name=texts,
        locale=texts,
        anonymous=st.booleans(),
    ),
    flags=st.builds(Flags, bulk=st.booleans(), loop=st.booleans(), spam_verdict=texts),
    assignee=st.none() | agents,
    supervisor=st.none() | agents,
    references=st.lists(text, max_size=3),
    due=times,
    reply_path=st.none()
    | st.builds(
        ReplyPath,
        provider=text,
        integration=text,
        address=text,
        thread=texts,
        reply_token=texts,
        reply_token_expires_at=aware_times,
        callback_expires_at=aware_times,
    ),
    inbound=times,
)
def test_a_snapshot_of_any_values_is_written_as_pydantic_core_writes_it(
    channel, status, priority, language, subject, tags, customer, flags, assignee, supervisor,
    references, due, reply_path, inbound,
) -> None:  # fmt: skip
    # constructed, as the router builds it: the values as given, naive or zoned times too
    snapshot = constructed(
        ConversationSnapshot,
        {
            "conversation_id": "0196f0a1-b2c3-8d4e-95f6-a7b8c9d00001",
            "reference": "C-1",
            "channel": channel,
            "status": status,
            "queue": "일반",
            "priority": priority,
            "language": language,
            "subject": subject,
            "tags": tags,
            "contact_id": "contact-1",
            "customer": customer,
            "customer_flags": flags,
            "assignee": assignee,
            "supervisor": supervisor,
            "last_message_id": None,
            "references": references,
            "first_response_due_at": due,
            "reply_path": reply_path,
            "customer_last_inbound_at": inbound,
        },
    )
    path_times = (
        (reply_path.reply_token_expires_at, reply_path.callback_expires_at) if reply_path else ()
    )
    # written by orjson where every time is in UTC (other offsets: pydantic-core's way)
    assert_written_alike(snapshot, written=in_utc(due, inbound, *path_times))


def _snapshot(**changes: Any) -> ConversationSnapshot:
    snapshot = ConversationSnapshot(
        conversation_id="conv-1",
        reference="C-1",
        channel="chat",
        status="open",
        queue="vip",
        priority="high",
        language="ko",
        subject='환불 "요청" \\ 건\n',
        tags=["vip", "한국어"],
        contact_id="contact-1",
        customer=CustomerIdentity(phone="+821012345678", display_name="김민수"),
        supervisor=AgentRef(agent_id="lead-kim", name="Kim Seo-yeon", locale="ko-KR"),
        first_response_due_at=datetime(2026, 12, 2, 0, 30, tzinfo=UTC),
        customer_last_inbound_at=datetime(2026, 12, 1, 23, 10, 6, 238129, tzinfo=UTC),
    )
    snapshot.__dict__.update(changes)
    return snapshot


def test_a_routing_snapshot_is_written_by_orjson() -> None:
    snapshot = _snapshot()
    assert WRITE(snapshot) == SERIALIZER.to_json(snapshot).decode()


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic's: a value not of its field's type
@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "lone \ud800 surrogate"},  # pydantic-core refuses it: so does the writer
        {"tags": {"a set"}},
        {"tags": [b"bytes"]},
        {"customer": {"phone": "+821012345678"}},  # a dict where a model is
        {"supervisor": CustomerIdentity(phone="+82")},  # another model than the field's
        {"subject": 2**70},  # past 64 bits
        {"reference": 3},
        {"language": 1.5},
        {"status": Channel.CHAT},
        {"channel": "chat"},  # the value, not the member
        {"priority": "urgent"},
        {"customer_flags": Flags(bulk=1)},  # an int where a bool is
        {"references": ("m1", "m2")},
        {"first_response_due_at": "2026-12-02T00:30:00Z"},
        {"first_response_due_at": datetime(2026, 12, 2, 9, 30, tzinfo=KST)},
        {"customer_last_inbound_at": datetime(1908, 1, 1, tzinfo=ZoneInfo("Asia/Seoul"))},
        {"customer_last_inbound_at": datetime(2026, 12, 1, 23, 10)},  # naive
        {"conversation_id": None},
    ],
    ids=repr,
)
def test_values_of_other_types_are_written_alike_or_left_to_pydantic(
    changes: dict[str, Any],
) -> None:
    assert_written_alike(_snapshot(**changes), written=False)


def test_an_instance_of_another_class_is_left_to_pydantic() -> None:
    class Subclass(ConversationSnapshot):
        pass

    values = _snapshot().__dict__
    assert WRITE(constructed(Subclass, dict(values))) is None


def test_models_it_does_not_write_get_no_writer() -> None:
    from pydantic import BaseModel, Field, computed_field, field_serializer

    class Aliased(BaseModel):
        name: str = Field(serialization_alias="n")

    class Serialized(BaseModel):
        at: datetime

        @field_serializer("at")
        def _at(self, at: datetime) -> str:
            return "x"

    class Computed(BaseModel):
        @computed_field  # type: ignore[prop-decorator]
        @property
        def two(self) -> int:
            return 2

    class Floats(BaseModel):
        ratio: float

    class Dicts(BaseModel):
        labels: dict[str, str]

    for model in (Aliased, Serialized, Computed, Floats, Dicts):
        assert model_writer(model) is None, model.__name__
