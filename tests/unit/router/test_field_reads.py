"""Routing's per-interaction decisions read model fields from ``__dict__`` and read the
clock once per poll: the same answers as the attribute reads and the clock read per
interaction they replace (``services/router/domain/intake.py``, "Field reads";
``services/router/service/interactions.py``, ``_effect_time``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import (
    BounceInfo,
    CallDetails,
    Channel,
    CustomerIdentity,
    Direction,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    RoutingHints,
    ThreadHints,
)
from libs.common.ids import time_ordered_id
from services.router.domain.classification import detect_language, interaction_language
from services.router.domain.contacts import (
    IdentityKey,
    IdentityKind,
    identity_keys,
    normalise_phone,
)
from services.router.domain.intake import (
    ANSWER_NO,
    ANSWER_UNLESS_OURS,
    ANSWER_YES,
    agent_answer,
    bounce_original,
    call_group_key,
    customer_values,
    from_customer,
    ignored_reason,
    is_automated,
    new_contact_id,
    own_message_id,
    thread_key,
)
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.members import (
    CALL_ANSWERED,
    CALL_ENDED,
    DELIVERY_STATUS,
    INBOUND,
    OUTBOUND,
)
from services.router.domain.threading import (
    ConversationRef,
    ThreadCandidates,
    ThreadingPolicy,
    email_reference_ids,
    find_thread,
    reopens,
)
from services.router.service.interactions import _effect_time
from tests.unit.router.factories import T0, interaction

# The functions as they read attributes before (the reference answers).


def thread_key_before(i: Interaction) -> str | None:
    thread_id = i.thread.provider_thread_id
    return f"{i.provider}:{thread_id}" if thread_id else None


def own_message_id_before(i: Interaction) -> str | None:
    return (i.thread.message_id or "").strip("<> ") or None


def ignored_reason_before(status: ConversationStatus, i: Interaction) -> str | None:
    if status == ConversationStatus.RESOLVED:
        return "resolved conversation; automated or outbound interactions do not reopen"
    return "automated mail: no SLA clock" if i.flags.automated else None


def from_customer_before(i: Interaction) -> bool:
    return i.direction is INBOUND and i.kind is not DELIVERY_STATUS and not i.flags.bounce


def agent_answer_before(i: Interaction) -> object:
    if i.kind is DELIVERY_STATUS:
        return ANSWER_NO
    if i.direction is OUTBOUND:
        if i.flags.automated:
            return ANSWER_NO
        if not i.provider_message_id:
            return ANSWER_YES
        return ANSWER_UNLESS_OURS
    answered = i.kind is CALL_ANSWERED or (
        i.kind is CALL_ENDED and i.call is not None and i.call.answered_at is not None
    )
    return ANSWER_YES if answered else ANSWER_NO


def email_reference_ids_before(i: Interaction) -> list[str]:
    ids = [*i.thread.in_reply_to, *reversed(i.thread.references)]
    return list(dict.fromkeys(x.strip("<> ") for x in ids if x))


def identity_keys_before(customer: CustomerIdentity) -> tuple[IdentityKey, ...]:
    if customer.anonymous:
        return ()
    keys: list[IdentityKey] = []
    if customer.email:
        keys.append(IdentityKey(IdentityKind.EMAIL, customer.email.strip().lower()))
    phone = normalise_phone(customer.phone)
    if phone:
        keys.append(IdentityKey(IdentityKind.PHONE, phone))
    if customer.handle:
        handle = customer.handle.strip()
        keys.append(IdentityKey(IdentityKind.HANDLE, handle))
        handle_phone = normalise_phone(handle.split(":", 1)[-1]) if ":" in handle else None
        if handle_phone and handle_phone != phone:
            keys.append(IdentityKey(IdentityKind.PHONE, handle_phone))
    return tuple(dict.fromkeys(keys))


def bounce_original_before(i: Interaction) -> str | None:
    original = i.bounce.original_message_id if i.bounce else None
    return original.strip("<> ") if original else None


def is_automated_before(i: Interaction) -> bool:
    return i.flags.automated or i.kind is DELIVERY_STATUS


def customer_values_before(customer: CustomerIdentity) -> list[str]:
    return [v for v in (customer.email, customer.phone, customer.handle) if v]


def reopens_before(i: Interaction) -> bool:
    return i.direction is INBOUND and not i.flags.automated and i.kind is not DELIVERY_STATUS


def call_group_key_before(i: Interaction) -> str | None:
    call = i.call
    if call is None:
        return None
    return f"{i.provider}:{call.group_id or call.call_id}"


def new_contact_id_before(i: Interaction, keys: tuple[IdentityKey, ...]) -> str:
    if keys:
        return time_ordered_id(
            "router.contact", i.received_at, *(f"{k.kind}:{k.value}" for k in keys)
        )
    return time_ordered_id(
        "router.contact.anonymous", i.received_at, i.customer_key, i.occurred_at.isoformat()
    )


def interaction_language_before(i: Interaction) -> str | None:
    if i.body.language:
        return i.body.language.split("-")[0].lower()
    detected = detect_language(f"{i.subject or ''} {i.body.text}")
    return detected or i.routing_hints.language


def bounce_thread_before(i: Interaction, candidates: ThreadCandidates) -> object:
    original = i.bounce.original_message_id if i.bounce else None
    if not original:
        return None
    return candidates.by_message_id.get(original.strip("<> "))


message_ids = st.sampled_from(["", "<m1@x>", "m2@x", "<>", " <m3@x> "])


@st.composite
def interactions(draw: st.DrawFn) -> Interaction:
    channel = draw(st.sampled_from(list(Channel)))
    kind = draw(st.sampled_from(list(InteractionKind)))
    call = None
    if draw(st.booleans()):
        call = CallDetails(
            call_id="c1",
            status="completed",
            group_id=draw(st.sampled_from([None, "g1"])),
            answered_at=draw(st.sampled_from([None, T0])),
        )
    bounce = draw(st.sampled_from([None, "", "<orig@x>", "orig@x"]))
    customer = CustomerIdentity(
        email=draw(st.sampled_from([None, "kim@example.com", " Kim@Example.COM "])),
        phone=draw(st.sampled_from([None, "+821012345678", "+82 10-1234-5678"])),
        handle=draw(st.sampled_from([None, "whatsapp:+821012345678", "line:U1", " tg:9 "])),
        anonymous=draw(st.booleans()),
    )
    built = interaction(
        channel,
        bounce=None if bounce is None else BounceInfo(original_message_id=bounce or None),
        kind=kind,
        call=call,
        direction=draw(st.sampled_from(list(Direction))),
        provider_message_id=draw(st.sampled_from([None, "", "p1"])),
        thread=ThreadHints(
            message_id=draw(st.sampled_from([None, "<own@x>", "<>"])),
            in_reply_to=draw(st.lists(message_ids, max_size=3)),
            references=draw(st.lists(message_ids, max_size=4)),
            provider_thread_id=draw(st.sampled_from([None, "", "T9"])),
        ),
        flags=Flags(
            bounce=draw(st.booleans()),
            auto_reply=draw(st.booleans()),
            bulk=draw(st.booleans()),
        ),
    )
    body = MessageBody(
        text=draw(st.sampled_from(["hello", "안녕하세요 입금이 안 됐어요", "Hola, no llegó"])),
        language=draw(st.sampled_from([None, "", "ko-KR", "EN"])),
    )
    hints = RoutingHints(language=draw(st.sampled_from([None, "ja"])))
    subject = draw(st.sampled_from([None, "", "Deposit"]))
    return built.model_copy(
        update={"customer": customer, "body": body, "routing_hints": hints, "subject": subject}
    )


@given(interactions())
def test_field_reads_answer_as_attribute_reads(i: Interaction) -> None:
    assert thread_key(i) == thread_key_before(i)
    assert own_message_id(i) == own_message_id_before(i)
    assert from_customer(i) is from_customer_before(i)
    assert agent_answer(i) is agent_answer_before(i)
    assert email_reference_ids(i) == email_reference_ids_before(i)
    assert reopens(i) is reopens_before(i)
    assert identity_keys(i.customer) == identity_keys_before(i.customer)
    assert bounce_original(i) == bounce_original_before(i)
    assert is_automated(i) is is_automated_before(i)
    for status in ConversationStatus:
        assert ignored_reason(status, i) == ignored_reason_before(status, i)
    assert customer_values(i.customer) == customer_values_before(i.customer)
    assert call_group_key(i) == call_group_key_before(i)
    keys = identity_keys(i.customer)
    assert new_contact_id(i, keys) == new_contact_id_before(i, keys)
    assert new_contact_id(i, ()) == new_contact_id_before(i, ())
    assert interaction_language(i) == interaction_language_before(i)
    ref = ConversationRef(
        id="c1",
        contact_id="k1",
        channel=i.channel,
        status=ConversationStatus.OPEN,
        last_activity_at=T0,
        resolved_at=None,
    )
    candidates = ThreadCandidates(by_message_id={"orig@x": ref})
    bounced = bounce_thread_before(i, candidates)
    found, _ = find_thread(i, "k1", candidates, T0, ThreadingPolicy())
    if bounced is not None:
        assert found is bounced


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 2), timezones=st.just(UTC)
)


@given(received_at=moments, poll_now=moments, later=st.integers(min_value=0, max_value=10**9))
def test_effect_time_is_the_minimum_of_received_and_a_clock_read_now(
    received_at: datetime, poll_now: datetime, later: int
) -> None:
    """For a clock that reads no earlier than the poll's own read (``poll_now``): the
    minimum of the interaction's ``received_at`` and the clock, whether read or not."""
    now = poll_now + timedelta(microseconds=later)
    ctx = SimpleNamespace(clock=lambda: now)
    assert _effect_time(ctx, received_at, poll_now) == min(received_at, now)  # type: ignore[arg-type]
