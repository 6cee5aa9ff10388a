"""An interaction's models built from values already of their fields' exact types.

A chat webhook's payload is parsed and validated once (its provider model); the
normaliser then hands plain, already-checked values to ``CustomerIdentity``,
``ReplyPath``, ``ThreadHints``, ``MessageBody`` and ``Interaction`` (and the
default ``Flags``), and pydantic-core validated each of them again: six of a
web-chat request's eight validations. Here each is put together with
:func:`libs.common.constructed.constructed` when every value is of exactly the
type its field keeps as is (``str`` not a subclass, the enum itself, an aware
``datetime`` whose UTC form is what the field's validator would store, an
instance of the nested model itself), which gives the instance validation gives
(``__dict__`` in field order, fields set, bytes; tests/unit/providers/test_prevalidated.py
holds them against ``Model(**values)`` with hypothesis). Any other value goes
through the model's own validation, which also raises its errors as before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
from libs.common.events.interaction import MAX_TEXT_CHARS

_REPLY_PATH_TEXTS = frozenset({"thread", "reply_token", "callback_url"})


def _text(value: object) -> bool:
    return type(value) is str


def _text_or_none(value: object) -> bool:
    return value is None or type(value) is str


def _utc(value: object) -> datetime | None:
    """What ``UtcDatetime`` stores for an aware ``datetime`` (its ``astimezone(UTC)``),
    or None where validation might do otherwise (a subclass, a naive value)."""
    if type(value) is not datetime or value.utcoffset() is None:
        return None
    return value.astimezone(UTC)


def _plain_email(email: object) -> bool:
    # pydantic-core strips (Rust's whitespace) and lower-cases (Rust's to_lowercase); in
    # ASCII, with nothing Python's strip would remove, str.lower() is the same result
    return email is None or (type(email) is str and email.isascii() and email == email.strip())


def customer_identity(
    *,
    handle: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    display_name: str | None = None,
    locale: str | None = None,
) -> CustomerIdentity:
    """``CustomerIdentity(handle=…, email=…, phone=…, display_name=…, locale=…)``."""
    if not (
        _plain_email(email)
        and _text_or_none(phone)
        and _text_or_none(handle)
        and _text_or_none(display_name)
        and _text_or_none(locale)
    ):
        return CustomerIdentity(
            handle=handle, email=email, phone=phone, display_name=display_name, locale=locale
        )
    values = {
        "email": None if email is None else email.lower(),
        "phone": phone,
        "handle": handle,
        "display_name": display_name,
        "locale": locale,
        "anonymous": False,
    }
    return constructed(
        CustomerIdentity, values, {"handle", "email", "phone", "display_name", "locale"}
    )


def reply_path(provider: str, integration: str, address: str, **parts: Any) -> ReplyPath:
    """``ReplyPath(provider=…, integration=…, address=…, **parts)``; only text parts
    (``thread``, ``reply_token``, ``callback_url``) are built without validation."""
    if not (
        _text(provider)
        and _text(integration)
        and _text(address)
        and parts.keys() <= _REPLY_PATH_TEXTS
        and all(_text_or_none(value) for value in parts.values())
    ):
        return ReplyPath(provider=provider, integration=integration, address=address, **parts)
    values = {
        "provider": provider,
        "integration": integration,
        "address": address,
        "thread": parts.get("thread"),
        "reply_token": parts.get("reply_token"),
        "reply_token_expires_at": None,
        "callback_url": parts.get("callback_url"),
        "callback_expires_at": None,
    }
    return constructed(ReplyPath, values, {"provider", "integration", "address", *parts})


def _seconds(value: object) -> bool:
    """A whole number of seconds ``Field(ge=0)`` keeps as it is (an ``int``, not a ``bool``)."""
    return value is None or (type(value) is int and value >= 0)


#: ``CallDetails``' fields: all of them are set by ``call_details``' callers
_CALL_DETAILS_SET = frozenset(CallDetails.model_fields)


def call_details(
    *,
    call_id: str,
    group_id: str | None,
    from_number: str | None,
    to_number: str | None,
    direction: Direction,
    status: str,
    provider_status: str | None,
    started_at: datetime | None,
    answered_at: datetime | None,
    ended_at: datetime | None,
    duration_seconds: int | None,
    billable_seconds: int | None,
    hangup_cause: str | None,
    recording_url: str | None,
    recording_duration_seconds: int | None,
    answered_by: str | None,
    queue: str | None,
    callback_requested: bool,
    number_invalid: bool,
) -> CallDetails:
    """``CallDetails(…)`` of every field, as phone_log builds a call's: callgrind, a CTI
    hangup's 43.3 → 28.3 K instructions (validating its 19 fields was the most costly
    model of a call event)."""
    values = {
        "call_id": call_id,
        "group_id": group_id,
        "from_number": from_number,
        "to_number": to_number,
        "direction": direction,
        "status": status,
        "provider_status": provider_status,
        "started_at": started_at,
        "answered_at": answered_at,
        "ended_at": ended_at,
        "duration_seconds": duration_seconds,
        "billable_seconds": billable_seconds,
        "hangup_cause": hangup_cause,
        "recording_url": recording_url,
        "recording_duration_seconds": recording_duration_seconds,
        "answered_by": answered_by,
        "queue": queue,
        "callback_requested": callback_requested,
        "number_invalid": number_invalid,
    }
    started = None if started_at is None else _utc(started_at)
    answered = None if answered_at is None else _utc(answered_at)
    ended = None if ended_at is None else _utc(ended_at)
    if not (
        _text(call_id)
        and _text(status)
        and type(direction) is Direction
        and (started is not None or started_at is None)
        and (answered is not None or answered_at is None)
        and (ended is not None or ended_at is None)
        and _text_or_none(group_id)
        and _text_or_none(from_number)
        and _text_or_none(to_number)
        and _text_or_none(provider_status)
        and _text_or_none(hangup_cause)
        and _text_or_none(recording_url)
        and _text_or_none(answered_by)
        and _text_or_none(queue)
        and _seconds(duration_seconds)
        and _seconds(billable_seconds)
        and _seconds(recording_duration_seconds)
        and type(callback_requested) is bool
        and type(number_invalid) is bool
    ):
        return CallDetails(**values)
    # the instants as UtcDatetime stores them
    values["started_at"], values["answered_at"], values["ended_at"] = started, answered, ended
    return constructed(CallDetails, values, set(_CALL_DETAILS_SET))


#: The fields every prevalidated ``Interaction`` sets (``_plain_fields``, ``_values``).
_SHARED_SET = frozenset(
    {
        "channel",
        "provider",
        "integration",
        "direction",
        "kind",
        "occurred_at",
        "received_at",
        "customer",
        "customer_key",
        "thread",
        "routing_hints",
        "provider_message_id",
    }
)
#: The keyword arguments ``chat_interaction`` gives ``Interaction``: its fields set.
_INTERACTION_SET = _SHARED_SET | {"body", "attachments", "reply_path", "receipt"}


def interaction(
    *,
    channel: Channel,
    provider: str,
    integration: str,
    direction: Direction,
    kind: InteractionKind,
    occurred_at: datetime,
    received_at: datetime,
    customer: CustomerIdentity,
    customer_key: str,
    thread_id: str | None,
    text: str,
    attachments: list[Attachment],
    routing_hints: RoutingHints,
    provider_message_id: str,
    reply_path: ReplyPath | None,
    receipt: DeliveryReceipt | None,
) -> Interaction:
    """``Interaction(…, thread=ThreadHints(provider_thread_id=thread_id),
    body=MessageBody(text=text), …)`` as ``chat_interaction`` builds it."""
    occurred = _utc(occurred_at)
    received = _utc(received_at)
    key = customer_key or (customer.key() if type(customer) is CustomerIdentity else None)
    if (
        not _plain_fields(
            occurred, received, channel, direction, kind, provider, integration, thread_id
        )
        or not _text(customer_key)
        or not _text_or_none(provider_message_id)
        or type(customer) is not CustomerIdentity
        or not key  # the model's validator refuses an interaction without a customer key
        or type(text) is not str
        or len(text) > MAX_TEXT_CHARS  # MessageBody's validator cuts it
        or type(attachments) is not list
        or any(type(attachment) is not Attachment for attachment in attachments)
        or type(routing_hints) is not RoutingHints
        or (reply_path is not None and type(reply_path) is not ReplyPath)
        or (receipt is not None and type(receipt) is not DeliveryReceipt)
    ):
        return Interaction(
            channel=channel,
            provider=provider,
            integration=integration,
            direction=direction,
            kind=kind,
            occurred_at=occurred_at,
            received_at=received_at,
            customer=customer,
            customer_key=customer_key,
            thread=ThreadHints(provider_thread_id=thread_id),
            body=MessageBody(text=text),
            attachments=attachments,
            routing_hints=routing_hints,
            provider_message_id=provider_message_id,
            reply_path=reply_path,
            receipt=receipt,
        )
    values = _values(channel, provider, integration, direction, kind, occurred, received)
    values.update(
        customer=customer,
        customer_key=key,
        thread=_thread(thread_id),
        body=_body(text),
        attachments=list(attachments),  # validation gives a list of its own
        routing_hints=routing_hints,
        provider_message_id=provider_message_id,
        reply_path=reply_path,
        receipt=receipt,
    )
    return constructed(Interaction, values, set(_INTERACTION_SET))


#: ``Flags()``'s values, read from the model once (all immutable: shared safely)
_NO_FLAGS: dict[str, Any] = dict(Flags().__dict__)


#: The keyword arguments ``call_interaction`` gives ``Interaction``, and the key the
#: model's validator derives: its fields set.
_CALL_INTERACTION_SET = _SHARED_SET | {"call"}


def call_interaction(
    *,
    channel: Channel,
    provider: str,
    integration: str,
    direction: Direction,
    kind: InteractionKind,
    occurred_at: datetime,
    received_at: datetime,
    customer: CustomerIdentity,
    thread_id: str | None,
    call: CallDetails,
    routing_hints: RoutingHints,
    provider_message_id: str | None,
) -> Interaction:
    """``Interaction(…, thread=ThreadHints(provider_thread_id=thread_id), call=call, …)``
    as phone_log builds a call's."""
    occurred = _utc(occurred_at)
    received = _utc(received_at)
    key = customer.key() if type(customer) is CustomerIdentity else None
    if (
        not _plain_fields(
            occurred, received, channel, direction, kind, provider, integration, thread_id
        )
        or not _text_or_none(provider_message_id)
        or not key  # the model's validator refuses an interaction without a customer key
        or type(call) is not CallDetails
        or type(routing_hints) is not RoutingHints
    ):
        return Interaction(
            channel=channel,
            provider=provider,
            integration=integration,
            direction=direction,
            kind=kind,
            occurred_at=occurred_at,
            received_at=received_at,
            customer=customer,
            thread=ThreadHints(provider_thread_id=thread_id),
            call=call,
            routing_hints=routing_hints,
            provider_message_id=provider_message_id,
        )
    values = _values(channel, provider, integration, direction, kind, occurred, received)
    values.update(
        customer=customer,
        customer_key=key,
        thread=_thread(thread_id),
        body=constructed(MessageBody, dict(_EMPTY_BODY), set()),
        call=call,
        routing_hints=routing_hints,
        provider_message_id=provider_message_id,
    )
    return constructed(Interaction, values, set(_CALL_INTERACTION_SET))


def _plain_fields(
    occurred: datetime | None,
    received: datetime | None,
    channel: Channel,
    direction: Direction,
    kind: InteractionKind,
    provider: str,
    integration: str,
    thread_id: str | None,
) -> bool:
    """The checks every prevalidated interaction makes of the fields all kinds share:
    values already of their field's type (else the caller validates them all)."""
    return (
        occurred is not None
        and received is not None
        and type(channel) is Channel
        and type(direction) is Direction
        and type(kind) is InteractionKind
        and _text(provider)
        and _text(integration)
        and _text_or_none(thread_id)
    )


def _values(
    channel: Channel,
    provider: str,
    integration: str,
    direction: Direction,
    kind: InteractionKind,
    occurred: datetime,
    received: datetime,
) -> dict[str, Any]:
    """An Interaction's ``__dict__`` in field order, with the defaults of every field the
    callers may leave unset (they update the rest)."""
    return {
        "schema_version": "1.0",
        "channel": channel,
        "provider": provider,
        "integration": integration,
        "direction": direction,
        "kind": kind,
        "occurred_at": occurred,
        "received_at": received,
        "customer": None,
        "customer_key": None,
        "thread": None,
        "subject": None,
        "body": None,
        "attachments": [],
        "call": None,
        "flags": constructed(Flags, dict(_NO_FLAGS), set()),
        "bounce": None,
        "routing_hints": None,
        "provider_message_id": None,
        "reply_path": None,
        "receipt": None,
        "raw_ref": None,
    }


#: ``MessageBody()``'s values, read from the model once (all immutable: shared safely)
_EMPTY_BODY: dict[str, Any] = dict(MessageBody().__dict__)


def _thread(thread_id: str | None) -> ThreadHints:
    values = {
        "provider_thread_id": thread_id,
        "message_id": None,
        "in_reply_to": [],
        "references": [],
        "subject_token": None,
    }
    return constructed(ThreadHints, values, {"provider_thread_id"})


def _body(text: str) -> MessageBody:
    values = {
        "text": text,
        "quoted": None,
        "signature": None,
        "truncated": False,
        "from_html": False,
        "language": None,
    }
    return constructed(MessageBody, values, {"text"})


#: A prevalidated customer identity's fields set (``customer_identity``'s keywords)
_CUSTOMER_SET = frozenset({"handle", "email", "phone", "display_name", "locale"})


def visitor_chat_interaction(
    *,
    provider: str,
    integration: str,
    occurred: datetime,
    received: datetime,
    visitor_id: str,
    email: str | None,
    display_name: str | None,
    locale: str | None,
    conversation_id: str | None,
    text: str,
    routing_hints: RoutingHints,
    provider_message_id: str,
) -> Interaction | None:
    """A visitor's inbound chat message without attachments or phone, as ``chat_interaction``
    builds it through ``customer_identity``, ``reply_path`` and ``interaction``
    (customer ``<provider>:<visitor_id>``, its key the handle, threaded and answered on
    the conversation, else the visitor): the same instances, written out in one
    function, for web chat's usual message. None where any value is not of its
    field's exact type (or ``occurred``/``received`` not UTC ``datetime``s): the
    caller then goes the general way, which validates. tests/unit/providers/test_prevalidated.py
    holds it against that way (hypothesis)."""
    if not (
        type(occurred) is datetime
        and occurred.tzinfo is UTC
        and type(received) is datetime
        and received.tzinfo is UTC
        and type(provider) is str
        and type(integration) is str
        and type(visitor_id) is str
        and visitor_id
        and _plain_email(email)
        and _text_or_none(display_name)
        and _text_or_none(locale)
        and _text_or_none(conversation_id)
        and type(text) is str
        and len(text) <= MAX_TEXT_CHARS
        and type(routing_hints) is RoutingHints
        and type(provider_message_id) is str
    ):
        return None
    handle = f"{provider}:{visitor_id}"
    customer = constructed(
        CustomerIdentity,
        {
            "email": None if email is None else email.lower(),
            "phone": None,
            "handle": handle,
            "display_name": display_name,
            "locale": locale,
            "anonymous": False,
        },
        set(_CUSTOMER_SET),
    )
    reply_parts = {"provider", "integration", "address", "thread"}
    reply = constructed(
        ReplyPath,
        {
            "provider": provider,
            "integration": integration,
            "address": visitor_id,
            "thread": conversation_id,
            "reply_token": None,
            "reply_token_expires_at": None,
            "callback_url": None,
            "callback_expires_at": None,
        },
        reply_parts,
    )
    thread = _thread(conversation_id or visitor_id)
    body = _body(text)
    values = {
        "schema_version": "1.0",
        "channel": Channel.CHAT,
        "provider": provider,
        "integration": integration,
        "direction": Direction.INBOUND,
        "kind": InteractionKind.MESSAGE,
        "occurred_at": occurred,
        "received_at": received,
        "customer": customer,
        "customer_key": handle,
        "thread": thread,
        "subject": None,
        "body": body,
        "attachments": [],
        "call": None,
        "flags": constructed(Flags, dict(_NO_FLAGS), set()),
        "bounce": None,
        "routing_hints": routing_hints,
        "provider_message_id": provider_message_id,
        "reply_path": reply,
        "receipt": None,
        "raw_ref": None,
    }
    return constructed(Interaction, values, set(_INTERACTION_SET))
