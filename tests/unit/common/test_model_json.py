"""An interaction's JSON by ``orjson`` (``libs.common.model_json.json_writer``, what the
webhook services' ``cloudevents.encode`` writes) against pydantic-core's: the same bytes
for any interaction it writes, None (pydantic-core's way) where it does not, never other
bytes."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.cloudevents import _JSON_WRITERS, cloud_event, encode
from libs.common.constructed import constructed
from libs.common.events import (
    Attachment,
    CallDetails,
    Channel,
    CustomerIdentity,
    DeliveryReceipt,
    Direction,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    ReplyPath,
    RoutingHints,
    ThreadHints,
)
from libs.common.events.interaction import DeliveryState
from libs.common.model_json import json_writer
from libs.common.webhooks.publish import write_interactions_by_orjson

WRITE = json_writer(Interaction)
SERIALIZER = Interaction.__pydantic_serializer__


class _Text(str):
    """A subclass of str in a text field."""


class _Body(MessageBody):
    """A subclass of a nested model: pydantic-core writes it by the field's schema."""


def pydantic_bytes(interaction: object) -> bytes | None:
    """pydantic-core's JSON of ``interaction``, or None where it refuses to write it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a value not of its field's type
        try:
            return SERIALIZER.to_json(interaction)
        except Exception:  # any refusal: the writer must give None too
            return None


_ALPHABET = st.characters(codec="utf-8") | st.sampled_from(
    ['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "한", "국", "é", "😀", "\ud800"]
)
text = st.text(_ALPHABET, max_size=10) | st.text(_ALPHABET, max_size=10).map(_Text)
texts = st.none() | text
_SPAN = {"min_value": datetime(1, 1, 2), "max_value": datetime(9999, 12, 30)}
_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=9)),
        timezone(timedelta(hours=5, minutes=30, seconds=15)),
        ZoneInfo("UTC"),
        ZoneInfo("Asia/Seoul"),
    ]
)
times = (
    st.datetimes(timezones=st.just(UTC), **_SPAN)
    | st.datetimes(timezones=_ZONES, **_SPAN)
    | st.datetimes(**_SPAN)  # naive: constructed, as validation would not
)
integers = st.none() | st.integers(min_value=-(2**70), max_value=2**70)
booleans = st.booleans() | st.sampled_from([0, 1, None])  # the odd ones: inferred


def _model(model: type, values: dict[str, Any]) -> Any:
    """``values`` over the model's defaults, constructed as the webhook services build it."""
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
    }
    return constructed(model, {**defaults, **values})


@st.composite
def interactions(draw: st.DrawFn) -> Interaction:
    body_class = draw(st.sampled_from([MessageBody, MessageBody, _Body]))
    values = {
        "channel": draw(st.sampled_from(list(Channel))),
        "provider": draw(text),
        "integration": draw(text),
        "direction": draw(st.sampled_from(list(Direction))),
        "kind": draw(st.sampled_from(list(InteractionKind))),
        "occurred_at": draw(times),
        "received_at": draw(times),
        "customer": _model(
            CustomerIdentity,
            {"email": draw(texts), "phone": draw(texts), "handle": draw(texts)},
        ),
        "customer_key": draw(text),
        "thread": _model(
            ThreadHints,
            {"provider_thread_id": draw(texts), "references": draw(st.lists(text, max_size=2))},
        ),
        "subject": draw(texts),
        "body": _model(body_class, {"text": draw(text), "truncated": draw(booleans)}),
        "attachments": draw(st.sampled_from([[], [], [Attachment(name="a.png", size=3)]])),
        "call": draw(
            st.none()
            | st.builds(
                lambda call_id, started, duration: _model(
                    CallDetails,
                    {
                        "call_id": call_id,
                        "status": "completed",
                        "started_at": started,
                        "duration_seconds": duration,
                    },
                ),
                text,
                st.none() | times,
                integers,
            )
        ),
        "flags": _model(Flags, {"bulk": draw(booleans), "spam_verdict": draw(texts)}),
        "routing_hints": _model(RoutingHints, {"tags": draw(st.lists(text, max_size=2))}),
        "provider_message_id": draw(texts),
        "reply_path": draw(
            st.none()
            | st.builds(
                lambda address, expires: _model(
                    ReplyPath,
                    {
                        "provider": "webchat",
                        "integration": "desk",
                        "address": address,
                        "reply_token_expires_at": expires,
                    },
                ),
                text,
                st.none() | times,
            )
        ),
        "receipt": draw(
            st.none()
            | st.builds(
                lambda state: _model(
                    DeliveryReceipt, {"provider_message_id": "m-1", "state": state}
                ),
                st.sampled_from(list(DeliveryState)),
            )
        ),
        "raw_ref": draw(texts),
    }
    return _model(Interaction, values)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(interactions())
def test_an_interaction_of_any_values_is_written_as_pydantic_core_writes_it(
    interaction: Interaction,
) -> None:
    assert WRITE is not None
    written = WRITE(interaction)
    expected = pydantic_bytes(interaction)
    if written is not None:  # never other bytes
        assert written == expected
    # what the writer leaves to pydantic-core: not its kind of value
    values = interaction.__dict__
    plain = (
        not values["attachments"]
        and type(values["body"]) is MessageBody
        and all(
            value is None or value.tzinfo is UTC
            for value in (values["occurred_at"], values["received_at"])
        )
    )
    if written is None and expected is not None and plain:
        # only a time of the nested models not in UTC, or an integer orjson refuses
        call, reply = values["call"], values["reply_path"]
        assert (
            (call is not None and call.started_at is not None and call.started_at.tzinfo is not UTC)
            or (call is not None and abs(call.duration_seconds or 0) >= 2**63)
            or (
                reply is not None
                and reply.reply_token_expires_at is not None
                and reply.reply_token_expires_at.tzinfo is not UTC
            )
        )


def test_a_validated_interaction_is_written_by_the_writer() -> None:
    interaction = Interaction(
        channel=Channel.CHAT,
        provider="webchat",
        integration="desk",
        occurred_at=datetime(2026, 12, 2, 9, 30, 1, 5, tzinfo=timezone(timedelta(hours=9))),
        received_at=datetime(2026, 12, 2, 0, 30, 2, tzinfo=UTC),
        customer={"handle": "webchat:v-1", "email": "A@Example.com"},
        body={"text": '한국어 "quoted" \\ \n'},
        routing_hints={"tags": ["vip"]},
    )
    assert WRITE is not None
    assert WRITE(interaction) == SERIALIZER.to_json(interaction)


def test_another_class_or_a_missing_field_is_left_to_pydantic_core() -> None:
    interaction = Interaction(
        channel=Channel.CHAT,
        provider="webchat",
        integration="desk",
        occurred_at=datetime(2026, 12, 2, tzinfo=UTC),
        received_at=datetime(2026, 12, 2, tzinfo=UTC),
        customer={"handle": "webchat:v-1"},
    )
    assert WRITE is not None
    short = constructed(
        Interaction, {k: v for k, v in interaction.__dict__.items() if k != "raw_ref"}
    )
    assert WRITE(short) is None

    class Sub(Interaction):
        pass

    assert WRITE(Sub.model_validate(interaction.model_dump())) is None


def test_encode_writes_the_same_bytes_with_the_writer() -> None:
    interaction = Interaction(
        channel=Channel.PHONE,
        provider="cti",
        integration="pbx",
        kind=InteractionKind.CALL_MISSED,
        occurred_at=datetime(2026, 12, 2, tzinfo=UTC),
        received_at=datetime(2026, 12, 2, 0, 0, 0, 1, tzinfo=UTC),
        customer={"phone": "+821012345678"},
        call={"call_id": "c-1", "status": "missed", "duration_seconds": 0},
    )
    event = cloud_event("e-1", "src", "t", interaction, interaction.occurred_at, None, {})
    write_interactions_by_orjson()
    assert Interaction in _JSON_WRITERS
    with_writer = encode(event)
    writer = _JSON_WRITERS.pop(Interaction)
    try:
        assert encode(event) == with_writer
    finally:
        _JSON_WRITERS[Interaction] = writer
