from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest
from pydantic import ValidationError

from libs.common.events import (
    Attachment,
    CallDetails,
    Channel,
    CustomerIdentity,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
)
from libs.common.events.interaction import MAX_TEXT_CHARS
from libs.common.ids import deterministic_id

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_interaction(**overrides) -> Interaction:
    fields = dict(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=NOW,
        received_at=NOW,
        customer=CustomerIdentity(email="Kim@Example.COM", display_name="김민준"),
    )
    fields.update(overrides)
    return Interaction(**fields)


def test_customer_key_is_lower_cased_email_first():
    event = make_interaction()
    assert event.customer.email == "kim@example.com"
    assert event.customer_key == "kim@example.com"


def test_customer_key_falls_back_to_phone_then_handle():
    phone = make_interaction(customer=CustomerIdentity(phone="+821012345678", handle="x:1"))
    handle = make_interaction(customer=CustomerIdentity(handle="telegram:42"))
    assert phone.customer_key == "+821012345678"
    assert handle.customer_key == "telegram:42"


def test_interaction_without_identity_is_refused():
    with pytest.raises(ValidationError, match="customer email, phone or handle"):
        make_interaction(customer=CustomerIdentity(display_name="nobody"))


def test_naive_datetimes_are_refused_and_aware_ones_become_utc():
    with pytest.raises(ValidationError):
        make_interaction(occurred_at=datetime(2026, 1, 1, 9, 0))
    kst = timezone(timedelta(hours=9))
    event = make_interaction(occurred_at=datetime(2026, 1, 1, 18, 0, tzinfo=kst))
    assert event.occurred_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert event.occurred_at.tzinfo == UTC


def test_body_is_capped_and_marked_truncated():
    body = MessageBody(text="가" * (MAX_TEXT_CHARS + 10))
    assert len(body.text) == MAX_TEXT_CHARS
    assert body.truncated


def test_unknown_fields_are_ignored_for_forward_compatibility():
    raw = make_interaction().model_dump(mode="json")
    raw["field_from_the_future"] = {"x": 1}
    assert Interaction.model_validate(raw) == make_interaction()


def test_attachment_sha256_must_be_hex():
    with pytest.raises(ValidationError):
        Attachment(name="a.pdf", sha256="not-a-hash")


def test_event_type_follows_kind():
    call = CallDetails(call_id="CA1", status="missed", callback_requested=True)
    missed = make_interaction(
        channel=Channel.PHONE,
        kind=InteractionKind.CALL_MISSED,
        call=call,
        customer=CustomerIdentity(phone="+821012345678"),
    )
    assert missed.event_type() == "support.call.missed"
    assert make_interaction().event_type() == "support.message.received"


def test_automated_flags():
    assert not Flags().automated
    assert Flags(auto_submitted=True).automated
    assert Flags(bounce=True).automated


_AUTOMATING = (
    "auto_submitted",
    "auto_reply",
    "out_of_office",
    "bulk",
    "mailing_list",
    "loop",
    "bounce",
)


def test_automated_is_any_automating_flag() -> None:
    # read from the instance's dict: the same answer, a bool, as any() of the fields,
    # for each of the 128 combinations
    for flags in product((False, True), repeat=len(_AUTOMATING)):
        values = dict(zip(_AUTOMATING, flags, strict=True))
        assert Flags(**values).automated is any(flags)


def test_deterministic_ids_are_stable_and_namespaced():
    first = deterministic_id("email", "support", "<abc@x>")
    assert first == deterministic_id("email", "support", "<abc@x>")
    assert first != deterministic_id("email", "sales", "<abc@x>")
    assert deterministic_id("slack", "Ev1") != deterministic_id("telegram", "Ev1")
    with pytest.raises(ValueError):
        deterministic_id("email")
