"""Pure helpers every provider's inbound parser uses: identities, times, ids, the event.

Also the one lenient base for provider payload models (providers add fields
without notice; we read what we need and ignore the rest).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import phonenumbers
from pydantic import BaseModel, ConfigDict, ValidationError

from libs.common.cloudevents import CloudEvent, cloud_event
from libs.common.events import (
    Attachment,
    Channel,
    CustomerIdentity,
    DeliveryReceipt,
    Direction,
    Interaction,
    InteractionKind,
    ReplyPath,
    RoutingHints,
)
from libs.common.ids import deterministic_id
from libs.common.webhooks.exceptions import BadSignature, MalformedPayload
from libs.common.webhooks.parsing import describe_validation_error
from libs.providers import prevalidated
from libs.providers.integrations import Integration

_PHONE_PREFIXES = ("whatsapp:", "tel:", "sms:", "messenger:")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Provider timestamps outside this range are nonsense; fall back to the receive time.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Lenient(BaseModel):
    """Base of every provider payload model: unknown fields ignored, aliases allowed."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


P = ParamSpec("P")
R = TypeVar("R")


def normalised(build: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a normaliser; a payload it cannot turn into an Interaction is malformed (400)."""
    try:
        return build(*args, **kwargs)
    except ValidationError as exc:
        raise MalformedPayload(describe_validation_error(exc)) from None


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What a normaliser knows besides the payload."""

    integration_id: str
    received_at: datetime
    region: str = "KR"
    routing: RoutingHints = field(default_factory=RoutingHints)
    agent_ids: frozenset[str] = frozenset()


_CONTEXT_FIELDS = ("integration_id", "received_at", "region", "routing", "agent_ids")
assert tuple(f.name for f in fields(IngestContext)) == _CONTEXT_FIELDS, "ingest_context sets these"
#: The slots' own setters (as ``libs.common.cloudevents.cloud_event``'s): the frozen
#: dataclass's ``__init__`` sets each field through ``object.__setattr__``.
_SET_INTEGRATION_ID, _SET_RECEIVED_AT, _SET_REGION, _SET_ROUTING, _SET_AGENT_IDS = (
    IngestContext.__dict__[name].__set__ for name in _CONTEXT_FIELDS
)


def ingest_context(
    integration_id: str,
    received_at: datetime,
    region: str,
    routing: RoutingHints,
    agent_ids: frozenset[str],
) -> IngestContext:
    """``IngestContext(integration_id, received_at, region, routing, agent_ids)`` with every
    field given: the same frozen object, 11.1 → 4.8 K instructions (callgrind), built for
    every webhook request (tests/unit/providers/test_ingest_context.py)."""
    context = object.__new__(IngestContext)
    _SET_INTEGRATION_ID(context, integration_id)
    _SET_RECEIVED_AT(context, received_at)
    _SET_REGION(context, region)
    _SET_ROUTING(context, routing)
    _SET_AGENT_IDS(context, agent_ids)
    return context


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One normalised interaction and its deterministic event id."""

    id: str
    interaction: Interaction

    @property
    def key(self) -> str:
        return self.interaction.customer_key

    def cloud_event(self) -> CloudEvent:
        data = self.interaction
        # ``cloud_event``, not ``CloudEvent(...)``: the same frozen object without the
        # dataclass ``__init__``'s ``object.__setattr__`` per field (~9 K instructions of
        # a decode's event, libs/common/cloudevents.py), once per accepted chat event
        return cloud_event(
            self.id,
            f"omnidesk/chat_ingest/{data.provider}/{data.integration}",
            data.event_type(),
            data,
            data.occurred_at,
            None,
            {},
        )


def event_id(provider: str, context: IngestContext, *provider_ids: str | int | None) -> str:
    return deterministic_id(provider, context.integration_id, *provider_ids)


def to_e164(raw: str | None, region: str, *, international: bool = False) -> str | None:
    """E.164 for a phone number, or None when it is not one.

    ``international``: digits without ``+`` that already start with the
    country code (WhatsApp ``wa_id``).
    """
    if not raw:
        return None
    number = raw.strip()
    for prefix in _PHONE_PREFIXES:
        if number.lower().startswith(prefix):
            number = number[len(prefix) :]
    if international and number.isdigit():
        number = "+" + number
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def handle(provider: str, user_id: str | int) -> str:
    return f"{provider}:{user_id}"


def from_epoch(value: str | int | float | None, *, millis: bool = False) -> datetime | None:
    """A provider's epoch timestamp, or None if absent or absurd."""
    if value is None or value == "":
        return None
    try:
        seconds = float(value) / (1000 if millis else 1)
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if _EARLIEST <= moment < _LATEST else None


def sane_time(moment: datetime | None, fallback: datetime) -> datetime:
    """``moment`` when it is aware and within the sane range (as its UTC instant when it
    is in another zone: the ``UtcDatetime`` fields it goes to store that), else
    ``fallback``."""
    if moment is None or moment.tzinfo is None:
        return fallback
    if moment.tzinfo is not UTC and moment.utcoffset() is not None:
        # Compared as its UTC instant: each comparison of a datetime of another zone
        # (pydantic's TzInfo, as a parsed payload's) with a bound asked its zone for
        # the offset again, and the interaction's builder converted it once more:
        # 17.7 → 7.6 K instructions a call (callgrind), and its ``_utc`` has nothing
        # left to convert; the same instant (tests/unit/providers/test_sane_time.py).
        try:
            in_utc = moment.astimezone(UTC)
        except OverflowError:  # its UTC instant is before year 1 or after 9999: absurd
            return fallback
        return in_utc if _EARLIEST <= in_utc < _LATEST else fallback
    return moment if _EARLIEST <= moment < _LATEST else fallback


def hex_sha256_or_none(value: str | None) -> str | None:
    if value and _HEX64.match(value.lower()):
        return value.lower()
    return None


def join_name(*parts: str | None) -> str | None:
    name = " ".join(p.strip() for p in parts if p and p.strip())
    return name or None


def chat_interaction(
    context: IngestContext,
    *,
    provider: str,
    customer: CustomerIdentity,
    occurred_at: datetime | None,
    provider_message_id: str,
    text: str = "",
    direction: Direction = Direction.INBOUND,
    kind: InteractionKind = InteractionKind.MESSAGE,
    thread_id: str | None = None,
    attachments: list[Attachment] | None = None,
    customer_key: str = "",
    reply_path: ReplyPath | None = None,
    receipt: DeliveryReceipt | None = None,
) -> Interaction:
    """The Interaction every chat provider produces, with the integration's hints.

    Built from the normaliser's checked values without validating them again where
    they are of their fields' exact types (libs/providers/prevalidated.py)."""
    return prevalidated.interaction(
        channel=Channel.CHAT,
        provider=provider,
        integration=context.integration_id,
        direction=direction,
        kind=kind,
        occurred_at=sane_time(occurred_at, context.received_at),
        received_at=context.received_at,
        customer=customer,
        customer_key=customer_key,
        thread_id=thread_id,
        text=text,
        attachments=attachments or [],
        routing_hints=context.routing,
        provider_message_id=provider_message_id,
        reply_path=reply_path,
        receipt=receipt,
    )


def reply_path(
    context: IngestContext, provider: str, address: str | int, **parts: object
) -> ReplyPath:
    """How to answer on this integration: the recipient plus provider-specific parts."""
    return prevalidated.reply_path(provider, context.integration_id, str(address), **parts)


def authentic(ok: bool, integration: Integration, what: str) -> None:
    """Raise the 401 every provider's check ends in; ``what`` names what was wrong."""
    if not ok:
        raise BadSignature(what, provider=integration.provider.value, integration=integration.id)
