"""The pure decisions of routing one interaction (services/router/domain/intake.py)."""

import uuid
from datetime import datetime, time, timedelta

from libs.common.events.interaction import (
    BounceInfo,
    CallDetails,
    Channel,
    CustomerIdentity,
    Direction,
    Flags,
    InteractionKind,
    ThreadHints,
)
from services.router.domain.contacts import IdentityKey, IdentityKind
from services.router.domain.intake import (
    AgentAnswer,
    agent_answer,
    bounce_original,
    call_group_key,
    callback_phone,
    callback_reason,
    conversation_reference,
    conversation_tags,
    customer_values,
    first_of_each,
    from_customer,
    ignored_reason,
    is_automated,
    new_contact_id,
    newer_reply_path,
    own_message_id,
    referenced_ids,
    response_promise,
    short_subject,
    thread_key,
)
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.sla import BusinessCalendar
from tests.unit.router.factories import T0, interaction

SEOUL_OFFICE = BusinessCalendar(
    name="office",
    timezone="Asia/Seoul",
    weekly={d: ((time(9), time(18)),) for d in range(5)},
)
ALWAYS = BusinessCalendar(name="24x7", always_open=True)


def call(**fields) -> CallDetails:
    return CallDetails(**{"call_id": "leg-1", "status": "completed", **fields})


def test_first_of_each_keeps_the_first_item_per_key_in_first_seen_order():
    items = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)]
    assert first_of_each(items, key=lambda i: i[0]) == [("a", 1), ("b", 2), ("c", 4)]
    assert first_of_each([], key=str) == []


def test_keys_of_threads_calls_and_bounces():
    chat = interaction(Channel.CHAT, thread=ThreadHints(provider_thread_id="T9"))
    assert thread_key(chat) == "whatsapp:T9"
    assert thread_key(interaction(Channel.CHAT)) is None
    grouped = interaction(Channel.PHONE, call=call(group_id="g-7"))
    assert call_group_key(grouped) == "twilio:g-7"
    assert call_group_key(interaction(Channel.PHONE, call=call())) == "twilio:leg-1"
    assert call_group_key(interaction(Channel.PHONE)) is None
    bounce = interaction(bounce=BounceInfo(original_message_id="<m1@us>"))
    assert bounce_original(bounce) == "m1@us"
    assert bounce_original(interaction()) is None


def test_referenced_ids_are_the_replies_then_the_bounced_mail():
    mail = interaction(
        thread=ThreadHints(in_reply_to=["<r2@x>"], references=["<r1@x>", "<r2@x>"]),
        bounce=BounceInfo(original_message_id="<b@x>"),
    )
    assert referenced_ids(mail) == ["r2@x", "r1@x", "b@x"]
    assert referenced_ids(interaction()) == []


def test_own_message_id_is_bare_and_never_blank():
    assert own_message_id(interaction(thread=ThreadHints(message_id="<m@x>"))) == "m@x"
    assert own_message_id(interaction(thread=ThreadHints(message_id="<>"))) is None
    assert own_message_id(interaction()) is None


def test_a_contact_id_is_made_from_the_interaction_alone():
    """Replays and replicas routing the same interaction agree on its contact's id."""
    keys = (IdentityKey(IdentityKind.EMAIL, "kim@example.com"),)
    first = new_contact_id(interaction(), keys)
    assert first == new_contact_id(interaction(), keys)
    assert first != new_contact_id(
        interaction(), (IdentityKey(IdentityKind.PHONE, "+821012345678"),)
    )
    assert uuid.UUID(first).version == 8


def test_contact_ids_of_different_first_interactions_with_the_same_keys_differ():
    """Intended: a contact is found by its identities (contact_identities), never by
    recomputing its id from the keys, so the id is free to carry the first
    interaction's time; a customer back after an erasure gets a new contact."""
    keys = (IdentityKey(IdentityKind.EMAIL, "kim@example.com"),)
    assert new_contact_id(interaction(), keys) != new_contact_id(
        interaction(at=T0 + timedelta(days=1)), keys
    )


def test_contact_ids_sort_by_the_time_omnidesk_received_the_interaction():
    def email_key(n: int) -> tuple[IdentityKey, ...]:
        return (IdentityKey(IdentityKind.EMAIL, f"c{n}@example.com"),)

    ids = [
        new_contact_id(
            interaction(email=f"c{n}@example.com", at=T0 + timedelta(seconds=n)), email_key(n)
        )
        for n in range(50)
    ]
    assert ids == sorted(ids)
    assert ids[0][:13] == id_time(T0)
    # mail that happened long ago (a backfill, a late delivery) sorts by its arrival
    arrived = T0 + timedelta(hours=2)
    late = interaction(at=T0 - timedelta(days=365)).model_copy(update={"received_at": arrived})
    assert new_contact_id(late, email_key(99))[:13] == id_time(arrived)
    assert new_contact_id(late, email_key(99)) > ids[-1]


def id_time(at: datetime) -> str:
    """The first 48 bits of a time-ordered id at ``at``, as text (``xxxxxxxx-xxxx``)."""
    millis = f"{int(at.timestamp() * 1000):012x}"
    return f"{millis[:8]}-{millis[8:]}"


def test_anonymous_callers_get_a_contact_each_still_ordered_by_time():
    anonymous = interaction(Channel.PHONE, email=None, handle="twilio:anonymous")
    later = interaction(
        Channel.PHONE, email=None, handle="twilio:anonymous", at=T0 + timedelta(minutes=1)
    )
    assert new_contact_id(anonymous, ()) != new_contact_id(later, ())
    assert new_contact_id(anonymous, ()) == new_contact_id(anonymous, ())
    assert new_contact_id(anonymous, ()) < new_contact_id(later, ())
    assert new_contact_id(anonymous, ())[:13] == id_time(T0)


def test_reference_subject_tags_and_classification_values():
    assert conversation_reference(1234) == "C-1234"
    assert short_subject(None) is None
    assert short_subject("") is None
    assert short_subject("x" * 600) == "x" * 500
    assert conversation_tags(["vip"], automated=True) == ["vip", "automated"]
    assert conversation_tags([], automated=False) == []
    customer = CustomerIdentity(email="kim@example.com", handle="line:U1")
    assert customer_values(customer) == ["kim@example.com", "line:U1"]


def test_automated_means_flagged_or_a_delivery_receipt():
    assert not is_automated(interaction())
    assert is_automated(interaction(flags=Flags(auto_reply=True)))
    assert is_automated(interaction(Channel.CHAT, kind=InteractionKind.DELIVERY_STATUS))


def test_from_customer_excludes_our_side_receipts_and_bounces():
    assert from_customer(interaction())
    assert not from_customer(interaction(direction=Direction.OUTBOUND))
    assert not from_customer(interaction(Channel.CHAT, kind=InteractionKind.DELIVERY_STATUS))
    assert not from_customer(interaction(flags=Flags(bounce=True)))


def test_agent_answer():
    assert agent_answer(interaction()) is AgentAnswer.NO
    receipt = interaction(
        Channel.CHAT, direction=Direction.OUTBOUND, kind=InteractionKind.DELIVERY_STATUS
    )
    assert agent_answer(receipt) is AgentAnswer.NO
    bot = interaction(Channel.CHAT, direction=Direction.OUTBOUND, flags=Flags(auto_reply=True))
    assert agent_answer(bot) is AgentAnswer.NO
    by_hand = interaction(Channel.CHAT, direction=Direction.OUTBOUND)
    assert agent_answer(by_hand) is AgentAnswer.YES
    echo = interaction(Channel.CHAT, direction=Direction.OUTBOUND, provider_message_id="wamid.1")
    assert agent_answer(echo) is AgentAnswer.UNLESS_SENT_BY_OMNIDESK
    picked_up = interaction(Channel.PHONE, kind=InteractionKind.CALL_ANSWERED, call=call())
    assert agent_answer(picked_up) is AgentAnswer.YES
    ended = interaction(Channel.PHONE, kind=InteractionKind.CALL_ENDED, call=call(answered_at=T0))
    assert agent_answer(ended) is AgentAnswer.YES
    missed = interaction(Channel.PHONE, kind=InteractionKind.CALL_ENDED, call=call())
    assert agent_answer(missed) is AgentAnswer.NO


def test_ignored_reason():
    assert ignored_reason(ConversationStatus.RESOLVED, interaction()).startswith("resolved")
    automated = interaction(flags=Flags(auto_reply=True))
    assert ignored_reason(ConversationStatus.OPEN, automated) == "automated mail: no SLA clock"
    assert ignored_reason(ConversationStatus.OPEN, interaction()) is None


def test_a_late_older_message_keeps_the_newer_reply_path():
    assert newer_reply_path(None, T0)
    assert newer_reply_path(T0, T0)
    assert newer_reply_path(T0, T0 + timedelta(seconds=1))
    assert not newer_reply_path(T0, T0 - timedelta(seconds=1))


def test_callbacks():
    voicemail = interaction(
        Channel.PHONE,
        email=None,
        handle="twilio:CA1",
        kind=InteractionKind.VOICEMAIL,
        call=call(from_number="+821099990000"),
    )
    assert callback_reason(voicemail) == "voicemail"
    assert callback_phone(voicemail) == "+821099990000"
    missed = interaction(Channel.PHONE, email=None, phone="+821011112222", call=call())
    assert callback_reason(missed) == "missed call"
    assert callback_phone(missed) == "+821011112222"


def test_response_promise():
    monday_10_kst = T0
    promise = response_promise(
        automated=False,
        due_at=T0 + timedelta(hours=1),
        target_minutes=60,
        calendar_name="office",
        calendar=SEOUL_OFFICE,
        at=monday_10_kst,
    )
    assert promise is not None
    assert (promise.target_minutes, promise.open_now, promise.timezone) == (60, True, "Asia/Seoul")
    assert not promise.always_open
    saturday = T0 + timedelta(days=5)
    closed = response_promise(
        automated=False,
        due_at=saturday + timedelta(days=2),
        target_minutes=60,
        calendar_name="office",
        calendar=SEOUL_OFFICE,
        at=saturday,
    )
    assert closed is not None and not closed.open_now
    always = response_promise(
        automated=False,
        due_at=T0,
        target_minutes=5,
        calendar_name="24x7",
        calendar=ALWAYS,
        at=saturday,
    )
    assert always is not None and always.open_now and always.always_open
    for automated, due, target in ((True, T0, 60), (False, None, 60), (False, T0, None)):
        assert (
            response_promise(
                automated=automated,
                due_at=due,
                target_minutes=target,
                calendar_name="office",
                calendar=SEOUL_OFFICE,
                at=T0,
            )
            is None
        )
