"""The conversation snapshot that routing events carry, built without validation
(``model_construct``, services/router/service/events.py): it must be exactly what
validating the same values would give, or consumers would read a different event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from libs.common.constructed import constructed
from libs.common.events.interaction import CustomerIdentity, Flags, ReplyPath
from libs.common.events.routing import ConversationSnapshot
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context
from services.router.domain.members import channel_of, priority_of
from services.router.service.columns import columns
from services.router.service.events import MAX_REFERENCES, Emitter
from services.router.service.pool import POOL_KEY, AssignmentPool
from services.router.settings import RouterSettings
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import new_row
from tests.unit.router.factories import T0

KST = timezone(timedelta(hours=9))


def stored_conversation(**values: object) -> Conversation:
    return new_row(
        Conversation,
        {
            "id": "conv-1",
            "reference": "C-7",
            "contact_id": "contact-1",
            "channel": "chat",
            "provider": "whatsapp",
            "integration": "wa",
            "status": "open",
            "queue": "no-such-queue",  # no supervisor to look up
            "priority": "high",
            "language": "ko",
            "subject": None,
            "tags": ["vip", "withdrawal"],
            "customer": {"phone": "+821012345678", "display_name": "김"},
            "customer_flags": {"vip": True},
            "last_message_id": "m-30",
            "references": [f"m-{n}" for n in range(30)],
            # a due time as the SLA arithmetic may give it: aware, not in UTC
            "first_response_due_at": (T0 + timedelta(minutes=30)).astimezone(KST),
            "reply_path": {"provider": "whatsapp", "integration": "wa", "address": "821012345678"},
            "customer_last_inbound_at": T0,
            **values,
        },
    )


async def snapshot_of(conversation: Conversation, tmp_path: Path) -> ConversationSnapshot:
    settings = RouterSettings(state_dir=tmp_path, kafka=KafkaSettings(), dev_mode=False)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")  # never opened
    ctx = build_context(settings, engine)
    emitter = Emitter(None, ctx, cause="event-1", now=T0, uses_pool=False)  # type: ignore[arg-type]
    try:
        return await emitter.snapshot(conversation)
    finally:
        await engine.dispose()


async def test_the_snapshot_is_what_validating_its_values_gives(tmp_path: Path) -> None:
    snapshot = await snapshot_of(stored_conversation(), tmp_path)
    validated = ConversationSnapshot.model_validate(snapshot.model_dump())
    assert snapshot.model_dump_json() == validated.model_dump_json()
    body = json.loads(snapshot.model_dump_json())
    assert body["first_response_due_at"] == "2026-03-02T01:30:00Z"  # in UTC, as validated
    assert body["customer_last_inbound_at"] == "2026-03-02T01:00:00Z"
    assert body["channel"] == "chat" and body["priority"] == "high"
    assert body["references"] == [f"m-{n}" for n in range(30 - MAX_REFERENCES, 30)]
    assert body["customer"]["phone"] == "+821012345678"
    assert body["reply_path"]["address"] == "821012345678"


async def test_a_conversation_missing_some_columns_is_read_through_the_orm(tmp_path: Path) -> None:
    conversation = stored_conversation()
    for column in ("first_response_due_at", "reply_path", "language", "last_message_id"):
        del conversation.__dict__[column]  # not on the object: read through the ORM (None)
    snapshot = await snapshot_of(conversation, tmp_path)
    assert snapshot.first_response_due_at is None and snapshot.reply_path is None
    assert snapshot.language is None and snapshot.last_message_id is None
    validated = ConversationSnapshot.model_validate(snapshot.model_dump())
    assert snapshot.model_dump_json() == validated.model_dump_json()


async def test_a_changed_conversation_gets_a_new_snapshot(tmp_path: Path) -> None:
    conversation = stored_conversation()
    settings = RouterSettings(state_dir=tmp_path, kafka=KafkaSettings(), dev_mode=False)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    emitter = Emitter(None, build_context(settings, engine), cause="e", now=T0, uses_pool=False)  # type: ignore[arg-type]
    first = await emitter.snapshot(conversation)
    assert await emitter.snapshot(conversation) is first  # unchanged: built once
    conversation.status = "pending"
    conversation.first_response_due_at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    second = await emitter.snapshot(conversation)
    assert second.status == "pending"
    assert second.first_response_due_at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    await engine.dispose()


async def test_the_snapshot_is_the_instance_model_construct_builds(tmp_path: Path) -> None:
    """Built by setting its ``__dict__`` (libs.common.constructed): every field given, in
    the model's order, the same fields set, no extra or private values."""
    snapshot = await snapshot_of(stored_conversation(), tmp_path)
    assert list(snapshot.__dict__) == list(ConversationSnapshot.model_fields)
    constructed = ConversationSnapshot.model_construct(**snapshot.__dict__)
    assert snapshot == constructed
    assert snapshot.model_fields_set == constructed.model_fields_set
    assert type(snapshot.__pydantic_fields_set__) is set  # its own, as validation makes it
    other = await snapshot_of(stored_conversation(), tmp_path)
    assert other.__pydantic_fields_set__ is not snapshot.__pydantic_fields_set__
    assert snapshot.__pydantic_extra__ is None and snapshot.__pydantic_private__ is None
    assert snapshot.model_dump_json() == constructed.model_dump_json()


class _PooledUnit:
    """A unit of work whose assignment pool is loaded (no agents in it)."""

    def __init__(self) -> None:
        self.cache: dict[str, object] = {POOL_KEY: AssignmentPool([], {})}


async def test_a_snapshot_ready_from_the_pool_is_the_one_snapshot_builds(tmp_path: Path) -> None:
    # emit's way (no coroutine) and the awaited one give the same snapshot; an unchanged
    # conversation the very same object; without a loaded pool it says so (None)
    settings = RouterSettings(state_dir=tmp_path, kafka=KafkaSettings(), dev_mode=False)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    ctx = build_context(settings, engine)
    conversation = stored_conversation()
    pooled = Emitter(_PooledUnit(), ctx, cause="e", now=T0)  # type: ignore[arg-type]
    ready = pooled._ready_snapshot(conversation)
    assert ready is not None
    assert pooled._ready_snapshot(conversation) is ready
    assert await pooled.snapshot(conversation) is ready
    awaited = await snapshot_of(stored_conversation(), tmp_path)
    assert ready.__dict__ == awaited.__dict__ and list(ready.__dict__) == list(awaited.__dict__)
    assert ready.model_fields_set == awaited.model_fields_set
    assert ready.model_dump_json() == awaited.model_dump_json()
    conversation.status = "pending"
    changed = pooled._ready_snapshot(conversation)
    assert changed is not None and changed is not ready and changed.status == "pending"
    unpooled = Emitter(_PooledUnit(), ctx, cause="e", now=T0, uses_pool=False)  # type: ignore[arg-type]
    assert unpooled._ready_snapshot(conversation) is None
    await engine.dispose()


# --- _snapshot_of against the snapshot built through the emitter's helpers, one call a
# part (how _snapshot_of built it before stop 36 wrote the parts' lookups inline) ---


def _by_helpers(
    emitter: Emitter, values: dict[str, object], assignee: Agent | None, supervisor: Agent | None
) -> ConversationSnapshot:
    due_at, inbound_at = values["first_response_due_at"], values["customer_last_inbound_at"]
    reply_path = values["reply_path"]
    return constructed(
        ConversationSnapshot,
        {
            "conversation_id": values["id"],
            "reference": values["reference"],
            "channel": channel_of(values["channel"]),
            "status": values["status"],
            "queue": values["queue"],
            "priority": priority_of(values["priority"]),
            "language": values["language"],
            "subject": values["subject"],
            "tags": list(values["tags"] or []),  # type: ignore[call-overload]
            "contact_id": values["contact_id"],
            "customer": emitter._parse(CustomerIdentity, values["customer"]),  # type: ignore[arg-type]
            "customer_flags": emitter._parse(Flags, values["customer_flags"]),  # type: ignore[arg-type]
            "assignee": emitter.agent_reference(assignee),
            "supervisor": emitter.agent_reference(supervisor),
            "last_message_id": values["last_message_id"],
            "references": list(values["references"] or [])[-MAX_REFERENCES:],  # type: ignore[call-overload]
            "first_response_due_at": due_at
            if due_at is None or due_at.tzinfo is UTC  # type: ignore[attr-defined]
            else due_at.astimezone(UTC),  # type: ignore[attr-defined]
            "reply_path": emitter._parse(ReplyPath, reply_path) if reply_path else None,  # type: ignore[arg-type]
            "customer_last_inbound_at": inbound_at
            if inbound_at is None or inbound_at.tzinfo is UTC  # type: ignore[attr-defined]
            else inbound_at.astimezone(UTC),  # type: ignore[attr-defined]
        },
        set(ConversationSnapshot.model_fields),
    )


_AGENT_KEYS = [attribute.key for attribute in inspect(Agent).column_attrs]
_KINDS = [
    None,
    {},
    {"provider": "whatsapp", "integration": "wa", "address": "8210"},
    {"provider": "line", "integration": "l", "address": "U1", "reply_token": "t"},
]
_texts = st.text(max_size=6)
_times = st.one_of(
    st.none(),
    st.datetimes(timezones=st.sampled_from([UTC, KST, timezone(timedelta(hours=-5))])),
)


def _agent(agent_id: str, name: str, locale: str | None) -> Agent:
    values = {key: None for key in _AGENT_KEYS}
    return new_row(
        Agent, values | {"id": agent_id, "name": name, "email": f"{name}@x", "locale": locale}
    )  # type: ignore[no-any-return]


@settings(max_examples=200, deadline=None)
@given(
    channel=st.sampled_from(["email", "chat", "phone", "fax"]),
    priority=st.sampled_from(["low", "normal", "high", "urgent", "urgentish"]),
    tags=st.one_of(st.none(), st.lists(_texts, max_size=3)),
    references=st.one_of(st.none(), st.lists(_texts, max_size=25)),
    customer=st.one_of(
        st.none(),
        st.fixed_dictionaries({}, optional={"email": st.just("A@B.example"), "phone": _texts}),
        st.just({"anonymous": "maybe"}),  # not valid: the same error both ways
    ),
    flags=st.one_of(st.none(), st.just({}), st.just({"bulk": True, "spam_verdict": "x"})),
    reply_path=st.sampled_from(_KINDS),
    due_at=_times,
    inbound_at=_times,
    assignee=st.sampled_from([None, "a-1", "a-2"]),
    supervisor=st.sampled_from([None, "a-1", "a-3"]),
    parsed_before=st.booleans(),
)
def test_snapshot_of_is_the_snapshot_the_helpers_build(
    channel: str,
    priority: str,
    tags: list[str] | None,
    references: list[str] | None,
    customer: dict[str, object] | None,
    flags: dict[str, object] | None,
    reply_path: dict[str, object] | None,
    due_at: datetime | None,
    inbound_at: datetime | None,
    assignee: str | None,
    supervisor: str | None,
    parsed_before: bool,
) -> None:
    # the same instance (values, their order, fields set, JSON) or the same error, for
    # any of the stored values, parsed before by the emitter or not
    values = {
        **columns(stored_conversation()),
        "channel": channel,
        "priority": priority,
        "tags": tags,
        "references": references,
        "customer": customer,
        "customer_flags": flags,
        "reply_path": reply_path,
        "first_response_due_at": due_at,
        "customer_last_inbound_at": inbound_at,
    }
    agents = {
        "a-1": _agent("a-1", "kim", "ko-KR"),
        "a-2": _agent("a-2", "lee", None),
        "a-3": _agent("a-3", "park", "en"),
    }
    pooled, general = (
        Emitter(_PooledUnit(), None, cause="e", now=T0)  # type: ignore[arg-type]
        for _ in range(2)
    )
    if parsed_before:  # the interaction's own models (interactions.route_one)
        for emitter in (pooled, general):
            if customer is not None and "anonymous" not in customer:
                emitter.already_parsed(customer, CustomerIdentity.model_validate(customer))
            emitter.already_parsed(flags, Flags.model_validate(flags or {}))
    chosen = (agents.get(assignee or ""), agents.get(supervisor or ""))
    try:
        expected = _by_helpers(general, values, *chosen)
    except (ValueError, ValidationError, OverflowError) as error:  # a time out of range too
        with pytest.raises(type(error)):
            pooled._snapshot_of(values, *chosen)
        return
    made = pooled._snapshot_of(values, *chosen)
    assert made.__dict__ == expected.__dict__
    assert list(made.__dict__) == list(expected.__dict__)
    assert made.model_fields_set == expected.model_fields_set
    assert made.__pydantic_fields_set__ is not expected.__pydantic_fields_set__
    assert made.model_dump_json() == expected.model_dump_json()
    assert [type(value) for value in made.__dict__.values()] == [
        type(value) for value in expected.__dict__.values()
    ]
