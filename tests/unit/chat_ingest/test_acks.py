"""The acknowledgements built without re-validation are the ones validation builds.

``webhook_ack`` and web chat's ``answer`` against ``WebhookAck(...)`` and
``WebchatAck(...)``: the same ``__dict__`` in the same order, fields set and JSON;
values of another type go through validation as before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError

from libs.providers.integrations import Integration, Provider
from libs.providers.webchat.inbound import WebchatAck, WebchatMessage, answer
from libs.providers.webhooks import InboundOptions, Parsed, WebhookAck
from services.chat_ingest.ingest import webhook_ack

SITE = Integration(id="site", provider=Provider.WEBCHAT, secret=SecretStr("k" * 32))
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def assert_same(built: BaseModel, validated: BaseModel) -> None:
    assert type(built) is type(validated)
    assert list(built.__dict__.items()) == list(validated.__dict__.items())
    assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
    assert built.__pydantic_extra__ == validated.__pydantic_extra__
    assert built.__pydantic_private__ == validated.__pydantic_private__
    assert built.model_dump_json(exclude_none=True) == validated.model_dump_json(exclude_none=True)


counts = st.integers(min_value=0, max_value=10)
ids = st.lists(st.text(max_size=20), max_size=3)


@settings(max_examples=100, deadline=None)
@given(
    accepted=counts,
    duplicates=counts,
    ignored=st.one_of(counts, st.booleans(), st.just("2")),
    event_ids=st.one_of(ids, st.lists(st.integers(), min_size=1, max_size=2)),
)
def test_webhook_ack_is_the_validated_one(
    accepted: int, duplicates: int, ignored: Any, event_ids: list[Any]
) -> None:
    def validated() -> WebhookAck:
        return WebhookAck(
            accepted=accepted, duplicates=duplicates, ignored=ignored, event_ids=event_ids
        )

    try:
        expected = validated()
    except ValidationError as refused:
        try:
            webhook_ack(accepted, duplicates, ignored, event_ids)
        except ValidationError as raised:
            assert raised.errors() == refused.errors()
            return
        raise AssertionError("built what validation refuses") from None
    assert_same(webhook_ack(accepted, duplicates, ignored, event_ids), expected)


@settings(max_examples=50, deadline=None)
@given(accepted=counts, duplicates=counts, event_ids=ids)
def test_web_chat_answer_is_the_validated_ack(
    accepted: int, duplicates: int, event_ids: list[str]
) -> None:
    ack = webhook_ack(accepted, duplicates, 0, event_ids)
    message = WebchatMessage.model_validate({"message_id": "m", "visitor": {"id": "v1"}})
    given_answer = answer(Parsed(payload=(message, NOW)), ack, SITE, InboundOptions())
    assert given_answer.status_code == 202
    token = given_answer.body.visitor_token  # type: ignore[union-attr]
    assert isinstance(given_answer.body, BaseModel)
    assert_same(given_answer.body, WebchatAck(**ack.__dict__, visitor_token=token))
