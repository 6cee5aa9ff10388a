"""The notifier builds outcomes and chat messages with the model's validator itself
(``outcomes.validated_outcome``, ``compose._new_message``) or, for an outcome of the
handler's own values, without validating them again (``outcomes.new_outcome``), not
``Model(**fields)``: the same objects, the same bytes, the same refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.events import NotificationChannel, NotificationOutcome, NotificationStatus
from libs.common.events.interaction import ReplyPath
from libs.common.events.notification import (
    ABOUT_REPLY_EXTENSION,
    NOT_ABOUT_A_REPLY,
    SingleUsePart,
    about_a_reply,
)
from libs.common.ids import deterministic_id
from libs.providers.outbound import OutboundMessage, OutboundPurpose, QuickReply
from services.notifier.chat import BatchSender, _has_send_many, is_batch_sender
from services.notifier.compose import _new_message
from services.notifier.handler import KafkaOutcomePublisher, outcome_event_id
from services.notifier.outcomes import (
    OUTCOME_FIELDS,
    OUTCOME_SCHEMA_VERSION,
    new_outcome,
    validated_outcome,
)
from services.notifier.webchat import WebchatSender

texts = st.text(max_size=30)
maybe_texts = st.none() | texts
zones = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))])
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones
)
single_use = st.none() | st.builds(
    SingleUsePart, part=st.sampled_from(["callback", "reply_token"]), expires_at=moments
)

outcome_fields = st.fixed_dictionaries(
    {
        "routing_event_id": texts,
        "routing_event_type": texts,
        "conversation_id": texts,
        "channel": st.sampled_from(NotificationChannel),
        "recipient": texts,
        "template": texts,
        "locale": maybe_texts,
        "status": st.sampled_from(NotificationStatus),
        "attempts": st.integers(min_value=0, max_value=20),
        "message_id": maybe_texts,
        "reason": maybe_texts,
        "occurred_at": moments,
        "reply_id": maybe_texts,
        "purpose": maybe_texts,
        "provider": maybe_texts,
        "provider_message_id": maybe_texts,
        "accepted_at": st.none() | moments,
        "error_code": maybe_texts,
        "single_use": single_use,
    }
)

paths = st.builds(
    ReplyPath,
    provider=st.sampled_from(["telegram", "webchat", "line"]),
    integration=texts,
    address=texts,
)
message_fields = st.fixed_dictionaries(
    {
        "idempotency_key": texts,
        "purpose": st.sampled_from([p.value for p in OutboundPurpose]),
        "text": texts,
        "quick_replies": st.lists(
            st.builds(QuickReply, label=st.text(max_size=20), payload=st.text(max_size=40)),
            max_size=3,
        ),
        "path": paths,
        "locale": maybe_texts,
        "customer_last_inbound_at": st.none() | moments,
    }
)


def same_model(direct: object, built: object) -> None:
    assert type(direct) is type(built)
    assert direct == built
    assert direct.model_fields_set == built.model_fields_set  # type: ignore[attr-defined]
    assert direct.model_dump_json() == built.model_dump_json()  # type: ignore[attr-defined]


#: the handler's usual outcome: the sent-log's datetimes in UTC, no error code
utc_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
usual_outcome_fields = outcome_fields.map(
    lambda fields: (
        {"schema_version": OUTCOME_SCHEMA_VERSION}
        | {name: fields[name] for name in OUTCOME_FIELDS[1:]}  # the handler's order
        | {
            "occurred_at": fields["occurred_at"].astimezone(UTC),
            "accepted_at": fields["accepted_at"] and fields["accepted_at"].astimezone(UTC),
            "error_code": None,
        }
    )
)


@settings(max_examples=200, deadline=None)
@given(outcome_fields)
def test_an_outcome_from_the_validator_is_the_models(fields: dict) -> None:
    same_model(validated_outcome(fields), NotificationOutcome(**fields))
    # hypothesis may draw a dict's keys in any order: new_outcome's are the model's
    with_version = {"schema_version": OUTCOME_SCHEMA_VERSION}
    with_version |= {name: fields[name] for name in OUTCOME_FIELDS[1:]}
    same_model(new_outcome(with_version), NotificationOutcome(**fields))


@settings(max_examples=300, deadline=None)
@given(usual_outcome_fields)
def test_an_outcome_built_without_validation_is_the_models(fields: dict) -> None:
    built = NotificationOutcome(**{k: v for k, v in fields.items() if k != "schema_version"})
    direct = new_outcome(fields)
    assert direct.__dict__ is fields  # not validated again
    same_model(direct, built)
    assert list(vars(direct)) == list(vars(built))  # the same __dict__, in field order
    assert vars(direct) == vars(built)
    assert direct.__pydantic_extra__ is None and direct.__pydantic_private__ is None
    assert repr(direct) == repr(built)
    assert direct.model_dump() == built.model_dump()
    assert direct.occurred_at.tzinfo is UTC
    assert tuple(fields) == OUTCOME_FIELDS


def test_the_handlers_fields_are_the_models() -> None:
    """``NotificationHandler._outcome`` names these, in this order (a field added to the
    model and not to the handler's dict sends every outcome through the validator)."""
    assert OUTCOME_FIELDS == (
        "schema_version",
        "routing_event_id",
        "routing_event_type",
        "conversation_id",
        "channel",
        "recipient",
        "template",
        "locale",
        "status",
        "attempts",
        "message_id",
        "reason",
        "occurred_at",
        "reply_id",
        "purpose",
        "provider",
        "provider_message_id",
        "accepted_at",
        "error_code",
        "single_use",
    )


@settings(max_examples=200, deadline=None)
@given(message_fields)
def test_a_chat_message_from_the_validator_is_the_models(fields: dict) -> None:
    built = OutboundMessage(**{**fields, "purpose": OutboundPurpose(fields["purpose"])})
    same_model(_new_message(fields), built)


def test_the_validator_refuses_what_the_model_refuses() -> None:
    naive = {
        "routing_event_id": "e",
        "routing_event_type": "t",
        "conversation_id": "c",
        "channel": "smtp",
        "recipient": "r",
        "template": "x",
        "status": "sent",
        "occurred_at": datetime(2026, 1, 1),  # naive: refused
    }
    with pytest.raises(ValidationError):
        NotificationOutcome(**naive)
    with pytest.raises(ValidationError):
        validated_outcome(naive)
    with pytest.raises(ValidationError):
        new_outcome({"schema_version": "1.0", **naive, "accepted_at": None, "error_code": None})
    usual = {
        "schema_version": OUTCOME_SCHEMA_VERSION,
        **naive,
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
        "accepted_at": None,
    }
    with pytest.raises(ValidationError):
        new_outcome({**usual, "error_code": None, "attempts": -1})


class _Batch:
    async def send_many(self, messages: list) -> list: ...


class _Single:
    async def send(self, message: object) -> object: ...


def test_a_batch_sender_is_told_as_the_protocol_tells_it() -> None:
    for sender in (_Batch(), _Single(), object()):
        assert is_batch_sender(sender) == isinstance(sender, BatchSender)
    assert is_batch_sender(_Batch()) and not is_batch_sender(_Single())
    assert _has_send_many(WebchatSender)  # web chat's outbox takes a poll at once


@settings(max_examples=200, deadline=None)
@given(outcome_fields)
def test_an_outcomes_envelope_is_as_before(fields: dict) -> None:
    """``outcome_event_id`` and the ``aboutreply`` extension written out: the id and the
    extensions of the list-and-unpack id and the ``about_a_reply`` call they replace."""
    outcome = NotificationOutcome(**fields)
    parts = [outcome.routing_event_id, outcome.recipient, outcome.template]
    if outcome.status is NotificationStatus.RETRYING:
        parts.append("retrying")
    assert outcome_event_id(outcome) == deterministic_id("notifier.outcome", *parts)
    event = KafkaOutcomePublisher(None, topic="t", source="notifier")._event(outcome)  # type: ignore[arg-type]
    expected = {} if about_a_reply(outcome) else {ABOUT_REPLY_EXTENSION: NOT_ABOUT_A_REPLY}
    assert event.extensions == expected
    assert (event.id, event.subject, event.time) == (
        outcome_event_id(outcome),
        outcome.conversation_id,
        outcome.occurred_at,
    )
