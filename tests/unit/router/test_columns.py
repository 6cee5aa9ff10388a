"""Routing reads columns from a row's own dict (services/router/service/columns.py):
exactly what the ORM's descriptors return, and through them for a row missing any."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from libs.common.events.interaction import Channel, CustomerIdentity, Flags
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context
from services.router.service import columns as columns_module
from services.router.service.columns import columns
from services.router.service.interactions import (
    Incoming,
    _new_conversation,
    customer_identity_values,
    flags_values,
)
from services.router.settings import RouterSettings
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import new_row, set_values
from tests.unit.router.factories import interaction

COLUMNS = [attribute.key for attribute in inspect(Conversation).column_attrs]


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.CHAT, Channel.PHONE])
def test_a_conversation_routing_opens_holds_every_column_in_its_dict(
    tmp_path: Path, channel: Channel
) -> None:
    settings = RouterSettings(state_dir=tmp_path, kafka=KafkaSettings(), dev_mode=False)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")  # never opened
    ctx = build_context(settings, engine)
    item = Incoming("event-1", interaction(channel, phone="+821012345678"))
    conversation = _new_conversation(ctx, item, "contact-1", 7)
    assert set(COLUMNS) <= conversation.__dict__.keys()
    # in the table's order: its INSERT's values are its dict copied (_column_values)
    assert [key for key in conversation.__dict__ if key in COLUMNS] == COLUMNS
    values = columns(conversation)
    assert values is conversation.__dict__  # the dict itself: no ORM read at all
    assert {key: values[key] for key in COLUMNS} == {
        key: getattr(conversation, key) for key in COLUMNS
    }


def test_a_row_missing_a_column_is_read_through_the_orm() -> None:
    conversation = new_row(Conversation, {"id": "conv-1", "queue": "vip"})
    values = columns(conversation)
    assert values is not conversation.__dict__
    assert values["queue"] == "vip"
    assert values["priority"] is None  # what the ORM gives for a column never set
    assert "priority" not in conversation.__dict__  # and reading did not set it
    set_values(conversation, {"queue": "general"})
    assert values["queue"] == "general"  # a live view, as the dict is
    with pytest.raises(KeyError):
        values["no_such_column"]
    assert sorted(values) == sorted(COLUMNS)


def test_an_agent_with_every_column_is_read_from_its_dict() -> None:
    keys = [attribute.key for attribute in inspect(Agent).column_attrs]
    agent = new_row(Agent, {key: None for key in keys} | {"id": "a-1", "name": "Kim"})
    values = columns(agent)
    assert values is agent.__dict__
    assert (values["id"], values["name"], values["email"]) == ("a-1", "Kim", None)


@pytest.mark.parametrize("complete", [True, False])
def test_a_models_first_row_is_read_as_any_other(
    monkeypatch: pytest.MonkeyPatch, complete: bool
) -> None:
    """The column count is worked out at a model's first row (its KeyError), which is
    read as the rows after it."""
    monkeypatch.setattr(columns_module, "_COLUMN_COUNTS", {})
    given = {key: None for key in COLUMNS} if complete else {}
    conversation = new_row(Conversation, given | {"id": "conv-1", "queue": "vip"})
    first = columns(conversation)
    assert {Conversation: len(COLUMNS)} == columns_module._COLUMN_COUNTS
    assert (first is conversation.__dict__) is complete
    assert (columns(conversation) is conversation.__dict__) is complete
    assert (first["id"], first["queue"], first["priority"]) == ("conv-1", "vip", None)


# --- _record stores the interaction's flags as their own values (flags_values) ---


def test_every_flag_is_the_same_in_json_mode() -> None:
    # what flags_values relies on: a field of another type (a datetime…) would dump
    # differently in JSON mode than the instance holds it
    assert {name: info.annotation for name, info in Flags.model_fields.items()} == {
        name: bool if name != "spam_verdict" else str | None for name in Flags.model_fields
    }


@pytest.mark.parametrize(
    "flags",
    [
        Flags(),
        Flags(auto_reply=True, spam_verdict="spam"),
        Flags.model_validate_json('{"bounce": true, "loop": true, "unknown": 1}'),
        Flags.model_validate({"bulk": True, "spam_verdict": None}),
    ],
)
def test_flags_values_are_their_json_dump(flags: Flags) -> None:
    dumped = flags_values(flags)
    assert dumped == flags.model_dump(mode="json")
    assert list(dumped) == list(flags.model_dump(mode="json"))  # same order
    assert dumped is not flags.__dict__  # a copy: the stored value is its own


def test_every_customer_identity_field_is_the_same_in_json_mode() -> None:
    fields = CustomerIdentity.model_fields
    assert fields["anonymous"].annotation is bool
    for name in ("phone", "handle", "display_name", "locale"):
        assert fields[name].annotation == str | None
    assert str(fields["email"].annotation).startswith("typing.Optional[typing.Annotated[str,")
    assert not CustomerIdentity.__pydantic_decorators__.field_serializers
    assert not CustomerIdentity.__pydantic_decorators__.model_serializers


@pytest.mark.parametrize(
    "customer",
    [
        CustomerIdentity(email="Kim@Example.com"),
        CustomerIdentity(phone="+821012345678", display_name="김", locale="ko"),
        CustomerIdentity.model_validate_json('{"handle": "@kim", "anonymous": true, "x": 1}'),
        CustomerIdentity(),
    ],
)
def test_customer_identity_values_are_their_json_dump(customer: CustomerIdentity) -> None:
    expected = customer.model_dump(mode="json", exclude_none=True)
    dumped = customer_identity_values(customer)
    assert dumped == expected
    assert list(dumped) == list(expected)


def test_new_conversations_share_no_mutable_column(tmp_path: Path) -> None:
    """``_new_conversation`` copies a template: each row gets its own lists and dicts."""
    settings = RouterSettings(state_dir=tmp_path, kafka=KafkaSettings(), dev_mode=False)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")  # never opened
    ctx = build_context(settings, engine)
    first, second = (
        _new_conversation(
            ctx, Incoming(f"event-{n}", interaction(Channel.CHAT)), "contact-1", n
        ).__dict__
        for n in (1, 2)
    )
    for key in ("customer", "customer_flags", "references", "tags", "skills"):
        assert first[key] is not second[key]
    first["references"].append("m1")
    assert second["references"] == []
