"""From one provider callback's facts to the Interaction event we publish.

Providers parse their payloads into :class:`CallFacts` (pure, per provider);
:func:`build_event` turns facts into the CloudEvent for
``support.interactions.v1`` the same way for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.common.cloudevents import CloudEvent, cloud_event
from libs.common.events import (
    CallDetails,
    Channel,
    CustomerIdentity,
    Direction,
    Interaction,
    InteractionKind,
    RoutingHints,
)
from libs.common.records import slot_constructor
from libs.providers.prevalidated import call_details, call_interaction
from services.phone_log.lifecycle import CallStatus, callback_requested, phase_of
from services.phone_log.phone_numbers import (
    PhoneNumber,
    customer_identity,
    customer_side,
    parse_number,
)


class PayloadError(ValueError):
    """The provider's payload lacks what we need or is not what it claims to be (400)."""


# Not frozen (nothing changes a callback's facts once parsed): a frozen dataclass's
# __init__ sets each of these 25 fields through object.__setattr__, 46 K instructions a
# callback against 16 K (callgrind), ~5 % of a CTI callback in the app.
@dataclass(slots=True, kw_only=True)
class CallFacts:
    """What one callback says about one call, in our vocabulary, before number parsing."""

    provider: str
    event_id: str
    call_id: str
    status: CallStatus
    direction: Direction = Direction.INBOUND
    group_id: str | None = None
    provider_status: str | None = None
    from_raw: str | None = None
    to_raw: str | None = None
    caller_name: str | None = None
    occurred_at: datetime | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    billable_seconds: int | None = None
    hangup_cause: str | None = None
    recording_url: str | None = None
    recording_duration_seconds: int | None = None
    answered_by: str | None = None
    queue: str | None = None
    customer_known: bool = True
    #: A leg we placed to reach an agent or forward the call (Twilio `outbound-dial`,
    #: a FreeSWITCH b-leg): its outcome is not the customer's, the parent's is.
    leg: bool = False
    #: The sender said the direction outright (CTI `direction`, a dialplan variable).
    direction_stated: bool = False


@dataclass(frozen=True, slots=True)
class EventContext:
    """What the route knows besides the payload: which line, where, when."""

    integration_id: str
    region: str
    received_at: datetime
    routing: RoutingHints
    extension_max_digits: int = 6
    own_numbers: frozenset[str] = frozenset()

    def at(self, received_at: datetime) -> EventContext:
        """This line's context of a callback received at ``received_at``: the same frozen
        object as ``EventContext(…, received_at, …)``, made by its slot constructor, not
        through the frozen __init__'s object.__setattr__ per field (10.7 → 6.1 K
        instructions a callback, callgrind)."""
        return _new_context(
            self.integration_id,
            self.region,
            received_at,
            self.routing,
            self.extension_max_digits,
            self.own_numbers,
        )


_new_context = slot_constructor(EventContext)


def event_source(provider: str, integration_id: str) -> str:
    return f"omnidesk/phone_log/{provider}/{integration_id}"


def build_interaction(facts: CallFacts, context: EventContext) -> Interaction:
    from_number = _number(facts.from_raw, context)
    to_number = _number(facts.to_raw, context)
    # The direction is passed along, not put into a copy of the facts: dataclasses.replace
    # of these 25 fields cost ~18 µs per callback (timeit, this machine).
    direction = _direction(facts, from_number, to_number, context)
    kind = phase_of(facts.status, direction)
    own = context.own_numbers
    number = _customer_number(facts, direction, from_number, to_number, own)
    invalid = _invalid(facts, number)
    # Built from values of the models' own types without validating them again where
    # that gives the validated instance (libs/providers/prevalidated.py).
    return call_interaction(
        channel=Channel.PHONE,
        provider=facts.provider,
        integration=context.integration_id,
        direction=direction,
        kind=kind,
        occurred_at=facts.occurred_at or context.received_at,
        received_at=context.received_at,
        customer=_customer(facts, number, from_number),
        thread_id=facts.group_id or facts.call_id,
        call=_call_details(facts, direction, from_number, to_number, kind, number_invalid=invalid),
        routing_hints=_routing_hints(context.routing, facts.queue),
        provider_message_id=facts.call_id,
    )


def build_event(facts: CallFacts, context: EventContext) -> CloudEvent:
    interaction = build_interaction(facts, context)
    # cloud_event: the same frozen event without the dataclass __init__'s setattr per field
    return cloud_event(
        facts.event_id,
        event_source(facts.provider, context.integration_id),
        interaction.event_type(),
        interaction,
        interaction.occurred_at,
        facts.call_id,
        {},
    )


def _direction(
    facts: CallFacts, from_number: PhoneNumber, to_number: PhoneNumber, context: EventContext
) -> Direction:
    """One of ours (an extension, a softphone, our own DID) calling out is outbound,
    whatever the provider called the leg, unless the sender stated the direction."""
    if facts.direction_stated or facts.leg:
        return facts.direction
    own = context.own_numbers
    if _ours(from_number, own) and not _ours(to_number, own):
        return Direction.OUTBOUND
    return facts.direction


def _number(raw: str | None, context: EventContext) -> PhoneNumber:
    return parse_number(raw, context.region, extension_max_digits=context.extension_max_digits)


def _customer(facts: CallFacts, number: PhoneNumber, from_number: PhoneNumber) -> CustomerIdentity:
    # Keys without a number name the whole call (all its legs), not one leg.
    call = facts.group_id or facts.call_id
    if not facts.customer_known:
        # e.g. a Twilio recording callback carries no numbers: the call id threads it.
        return CustomerIdentity(handle=f"phone:call:{call}")
    name = facts.caller_name if number is from_number else None
    return customer_identity(number, call_id=call, display_name=name)


def _customer_number(
    facts: CallFacts,
    direction: Direction,
    from_number: PhoneNumber,
    to_number: PhoneNumber,
    own: frozenset[str],
) -> PhoneNumber:
    """The customer's side; never one of our own numbers when the other side will do."""
    if facts.leg:
        # A <Dial>/bridge leg keeps the caller in From when forwarding an inbound call
        # and shows our number in From when an agent calls out.
        return to_number if _ours(from_number, own) else from_number
    number = customer_side(from_number, to_number, direction)
    other = to_number if number is from_number else from_number
    if _ours(number, own) and not _ours(other, own):
        return other
    return number


def _invalid(facts: CallFacts, number: PhoneNumber) -> bool:
    """The customer's side is neither withheld, nor one of ours, nor a real number."""
    if not facts.customer_known:
        return False
    return not (number.anonymous or number.extension or number.e164)


def _ours(number: PhoneNumber, own: frozenset[str]) -> bool:
    return number.extension or (number.e164 is not None and number.e164 in own)


def _call_details(
    facts: CallFacts,
    direction: Direction,
    from_number: PhoneNumber,
    to_number: PhoneNumber,
    kind: InteractionKind,
    *,
    number_invalid: bool = False,
) -> CallDetails:
    # built from values of the model's own types without validating them again
    return call_details(
        call_id=facts.call_id,
        group_id=facts.group_id or facts.call_id,
        from_number=from_number.display,
        to_number=to_number.display,
        direction=direction,
        status=facts.status.value,
        provider_status=facts.provider_status,
        started_at=facts.started_at,
        answered_at=facts.answered_at,
        ended_at=facts.ended_at,
        duration_seconds=facts.duration_seconds,
        billable_seconds=facts.billable_seconds,
        hangup_cause=facts.hangup_cause,
        recording_url=facts.recording_url,
        recording_duration_seconds=facts.recording_duration_seconds,
        answered_by=facts.answered_by,
        queue=facts.queue,
        # Nobody can call back a number that is not one.
        callback_requested=callback_requested(kind, direction)
        and not facts.leg
        and not number_invalid,
        number_invalid=number_invalid,
    )


def _routing_hints(configured: RoutingHints, queue: str | None) -> RoutingHints:
    if queue and not configured.queue:
        return configured.model_copy(update={"queue": queue})
    return configured
