"""An interaction's models built without re-validation are the instances validation builds.

Each builder of libs/providers/prevalidated.py against ``Model(**values)``, the path it
replaces, over generated values (including ones it must leave to validation: a
``str`` subclass, naive or non-UTC times, over-long text, non-ASCII or padded
emails, values of the wrong type): the same ``__dict__`` in the same order, the
same fields set (nested too) and the same bytes, or the same validation error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from libs.common.events import (
    Attachment,
    CallDetails,
    Channel,
    CustomerIdentity,
    DeliveryReceipt,
    Direction,
    Interaction,
    InteractionKind,
    MessageBody,
    ReplyPath,
    RoutingHints,
    ThreadHints,
)
from libs.common.events.interaction import MAX_TEXT_CHARS
from libs.providers import prevalidated


class Name(StrEnum):  # a str subclass: validation gives a plain str, so it is left to it
    WEBCHAT = "webchat"


def assert_same_instance(built: BaseModel, validated: BaseModel) -> None:
    assert type(built) is type(validated)
    assert list(built.__dict__) == list(validated.__dict__)
    for name, value in validated.__dict__.items():
        mine = built.__dict__[name]
        assert type(mine) is type(value), name
        if isinstance(value, BaseModel):
            assert_same_instance(mine, value)
        elif isinstance(value, list):
            assert len(mine) == len(value)
            for a, b in zip(mine, value, strict=True):
                if isinstance(b, BaseModel):
                    assert_same_instance(a, b)
                else:
                    assert a == b
        else:
            assert mine == value, name
            if isinstance(value, datetime):
                assert mine.tzinfo is value.tzinfo, name
    assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
    assert built.__pydantic_extra__ == validated.__pydantic_extra__
    assert built.__pydantic_private__ == validated.__pydantic_private__
    assert built == validated
    serializer = validated.__pydantic_serializer__
    assert serializer.to_json(built) == serializer.to_json(validated)
    assert built.model_dump_json(exclude_unset=True) == validated.model_dump_json(
        exclude_unset=True
    )


def same_or_same_error(build: Any, validate: Any) -> None:
    try:
        validated = validate()
    except ValidationError as expected:
        try:
            build()
        except ValidationError as raised:
            # the messages and places (the context holds the ValueError itself)
            assert raised.errors(include_context=False) == expected.errors(include_context=False)
            return
        raise AssertionError("built what validation refuses") from None
    assert_same_instance(build(), validated)


texts = st.text(max_size=30)
some_texts = st.one_of(st.none(), texts)
odd_values = st.one_of(st.integers(), st.just(Name.WEBCHAT), st.binary(max_size=4))
emails = st.one_of(
    st.none(),
    st.emails().map(str),
    st.sampled_from(["A@B.KR", " a@b.kr", "a@b.kr\x1f", "ÄÖ@b.kr", "İ@x.kr", "ΣΑΣ@x.kr"]),
    texts,
)
offsets = st.sampled_from([UTC, timezone(timedelta(0)), timezone(timedelta(hours=9)), timezone.min])
moments = st.one_of(
    st.datetimes(
        min_value=datetime(2001, 1, 1),
        max_value=datetime(2099, 1, 1),
        timezones=offsets,
    ),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1)),  # naive
)
customers = st.builds(
    CustomerIdentity,
    email=st.one_of(st.none(), st.emails().map(str)),
    phone=some_texts,
    handle=some_texts,
)
attachments = st.lists(
    st.builds(Attachment, name=some_texts, size=st.one_of(st.none(), st.integers(0, 99))),
    max_size=2,
)


@settings(max_examples=150, deadline=None)
@given(
    handle=st.one_of(some_texts, odd_values),
    email=emails,
    phone=st.one_of(some_texts, odd_values),
    display_name=some_texts,
    locale=some_texts,
)
def test_customer_identity_is_the_validated_one(
    handle: Any, email: Any, phone: Any, display_name: Any, locale: Any
) -> None:
    values = {
        "handle": handle,
        "email": email,
        "phone": phone,
        "display_name": display_name,
        "locale": locale,
    }
    same_or_same_error(
        lambda: prevalidated.customer_identity(**values), lambda: CustomerIdentity(**values)
    )


@settings(max_examples=150, deadline=None)
@given(
    provider=st.one_of(texts, st.just(Name.WEBCHAT)),
    address=st.one_of(texts, odd_values),
    parts=st.dictionaries(
        st.sampled_from(["thread", "reply_token", "callback_url", "reply_token_expires_at"]),
        st.one_of(some_texts, odd_values, moments),
        max_size=3,
    ),
)
def test_reply_path_is_the_validated_one(
    provider: Any, address: Any, parts: dict[str, Any]
) -> None:
    same_or_same_error(
        lambda: prevalidated.reply_path(provider, "site", address, **parts),
        lambda: ReplyPath(provider=provider, integration="site", address=address, **parts),
    )


@settings(max_examples=200, deadline=None)
@given(
    provider=st.one_of(texts, st.just(Name.WEBCHAT)),
    direction=st.sampled_from(Direction),
    kind=st.sampled_from(InteractionKind),
    occurred_at=moments,
    received_at=moments,
    customer=customers,
    customer_key=st.one_of(st.just(""), texts, odd_values),
    thread_id=st.one_of(some_texts, odd_values),
    text=st.one_of(texts, st.just("x" * (MAX_TEXT_CHARS + 1)), odd_values),
    files=attachments,
    routing=st.builds(RoutingHints, queue=some_texts, tags=st.lists(texts, max_size=2)),
    provider_message_id=st.one_of(some_texts, odd_values),
    reply_path=st.one_of(
        st.none(), st.builds(ReplyPath, provider=texts, integration=texts, address=texts)
    ),
    receipt=st.one_of(
        st.none(), st.builds(DeliveryReceipt, provider_message_id=texts, state=st.just("sent"))
    ),
)
def test_interaction_is_the_validated_one(
    provider: Any,
    direction: Direction,
    kind: InteractionKind,
    occurred_at: datetime,
    received_at: datetime,
    customer: CustomerIdentity,
    customer_key: Any,
    thread_id: Any,
    text: Any,
    files: list[Attachment],
    routing: RoutingHints,
    provider_message_id: Any,
    reply_path: ReplyPath | None,
    receipt: DeliveryReceipt | None,
) -> None:
    common = {
        "channel": Channel.CHAT,
        "provider": provider,
        "integration": "site",
        "direction": direction,
        "kind": kind,
        "occurred_at": occurred_at,
        "received_at": received_at,
        "customer": customer,
        "customer_key": customer_key,
        "attachments": files,
        "routing_hints": routing,
        "provider_message_id": provider_message_id,
        "reply_path": reply_path,
        "receipt": receipt,
    }

    def validated() -> Interaction:
        return Interaction(
            **common,
            thread=ThreadHints(provider_thread_id=thread_id),
            body=MessageBody(text=text),
        )

    same_or_same_error(
        lambda: prevalidated.interaction(**common, thread_id=thread_id, text=text), validated
    )


def test_the_usual_web_chat_values_give_the_validated_instances() -> None:
    """What the web-chat normaliser hands over: an email to lower-case, a non-UTC time."""
    received = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    customer = prevalidated.customer_identity(handle="webchat:v1", email="V@Example.kr")
    path = prevalidated.reply_path("webchat", "site", "v1", thread="c1")
    values: dict[str, Any] = {
        "channel": Channel.CHAT,
        "provider": "webchat",
        "integration": "site",
        "direction": Direction.INBOUND,
        "kind": InteractionKind.MESSAGE,
        "occurred_at": received.astimezone(timezone(timedelta(hours=9))),
        "received_at": received,
        "customer": customer,
        "customer_key": "webchat:v1",
        "attachments": [],
        "routing_hints": RoutingHints(),
        "provider_message_id": "m1",
        "reply_path": path,
        "receipt": None,
    }
    built = prevalidated.interaction(**values, thread_id="c1", text="hello")
    validated = Interaction(
        **values, thread=ThreadHints(provider_thread_id="c1"), body=MessageBody(text="hello")
    )
    assert_same_instance(built, validated)
    assert built.occurred_at.tzinfo is UTC
    assert customer.email == "v@example.kr"
    validated_customer = CustomerIdentity(
        handle="webchat:v1", email="V@Example.kr", phone=None, display_name=None, locale=None
    )
    assert_same_instance(customer, validated_customer)
    assert_same_instance(
        path, ReplyPath(provider="webchat", integration="site", address="v1", thread="c1")
    )
    assert built.customer is customer and built.routing_hints is values["routing_hints"]
    assert built.attachments is not values["attachments"]  # a list of its own, as validation's


@settings(max_examples=200, deadline=None)
@given(
    provider=st.one_of(texts, st.just(Name.WEBCHAT)),
    direction=st.sampled_from(Direction),
    kind=st.sampled_from(InteractionKind),
    occurred_at=moments,
    received_at=moments,
    customer=st.one_of(
        customers, st.builds(CustomerIdentity, handle=some_texts, anonymous=st.booleans())
    ),
    thread_id=st.one_of(some_texts, odd_values),
    call=st.builds(CallDetails, call_id=texts, status=texts, ended_at=st.none()),
    routing=st.builds(RoutingHints, queue=some_texts, tags=st.lists(texts, max_size=2)),
    provider_message_id=st.one_of(some_texts, odd_values),
)
def test_call_interaction_is_the_validated_one(
    provider: Any,
    direction: Direction,
    kind: InteractionKind,
    occurred_at: datetime,
    received_at: datetime,
    customer: CustomerIdentity,
    thread_id: Any,
    call: CallDetails,
    routing: RoutingHints,
    provider_message_id: Any,
) -> None:
    common = {
        "channel": Channel.PHONE,
        "provider": provider,
        "integration": "desk",
        "direction": direction,
        "kind": kind,
        "occurred_at": occurred_at,
        "received_at": received_at,
        "customer": customer,
        "call": call,
        "routing_hints": routing,
        "provider_message_id": provider_message_id,
    }

    def validated() -> Interaction:
        return Interaction(**common, thread=ThreadHints(provider_thread_id=thread_id))

    same_or_same_error(
        lambda: prevalidated.call_interaction(**common, thread_id=thread_id), validated
    )


#: CallDetails' optional text, time, seconds and flag fields
CALL_TEXTS = (
    "group_id",
    "from_number",
    "to_number",
    "provider_status",
    "hangup_cause",
    "recording_url",
    "answered_by",
    "queue",
)
CALL_TIMES = ("started_at", "answered_at", "ended_at")
CALL_SECONDS = ("duration_seconds", "billable_seconds", "recording_duration_seconds")
CALL_FLAGS = ("callback_requested", "number_invalid")
aware_moments = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=offsets
)


def call_values(
    texts_of: Any, call_id: Any, status: Any, times: Any, seconds_of: Any, flags: Any
) -> st.SearchStrategy[dict[str, Any]]:
    """CallDetails' keyword arguments, each field's values drawn from its strategy."""
    return st.fixed_dictionaries(
        {
            "call_id": call_id,
            "status": status,
            **{name: texts_of for name in CALL_TEXTS},
            **{name: times for name in CALL_TIMES},
            **{name: seconds_of for name in CALL_SECONDS},
            **{name: flags for name in CALL_FLAGS},
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    values=call_values(
        texts_of=st.one_of(some_texts, odd_values),
        call_id=st.one_of(texts, odd_values),
        status=st.one_of(texts, odd_values),
        times=st.one_of(st.none(), moments),
        seconds_of=st.one_of(st.none(), st.integers(-2, 10**6), st.booleans(), st.floats(0, 9)),
        flags=st.one_of(st.booleans(), st.sampled_from([0, 1, "yes", None])),
    ),
    direction=st.one_of(st.sampled_from(Direction), st.sampled_from(["inbound", "sideways"])),
)
def test_call_details_is_the_validated_one(values: dict[str, Any], direction: Any) -> None:
    values = {**values, "direction": direction}
    same_or_same_error(lambda: prevalidated.call_details(**values), lambda: CallDetails(**values))


@settings(max_examples=150, deadline=None)
@given(
    values=call_values(
        texts_of=some_texts,
        call_id=texts,
        status=texts,
        times=st.one_of(st.none(), aware_moments),
        seconds_of=st.one_of(st.none(), st.integers(0, 10**6)),
        flags=st.booleans(),
    ),
    direction=st.sampled_from(Direction),
)
def test_call_details_of_a_callback_s_values_is_the_validated_one(
    values: dict[str, Any], direction: Direction
) -> None:
    """The values phone_log gives (each of its field's own type): built without validation."""
    values = {**values, "direction": direction}
    same_or_same_error(lambda: prevalidated.call_details(**values), lambda: CallDetails(**values))
