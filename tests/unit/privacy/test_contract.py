"""ContactErased: no personal data on a topic that keeps it for ever; deterministic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.cloudevents import CloudEvent, decode, encode
from libs.common.events.privacy import ContactErased
from libs.common.kafka.admin import topic_specs
from libs.common.privacy.erasure import (
    WrongHashKey,
    check_hash_key,
    erasure_event_id,
    erasure_key,
    erasure_request,
)
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from libs.common.settings import KafkaSettings, TopicSettings

HASHER = IdentifierHasher(b"k" * 32)
WHEN = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ALICE = [
    (IdentifierKind.EMAIL, "Alice.Kim@example.co.kr"),
    (IdentifierKind.PHONE, "+82 10 1234 5678"),
    (IdentifierKind.HANDLE, "telegram:998877"),
]


def _request(**overrides) -> ContactErased:
    values = {"identifiers": ALICE, "contact_id": None, "requested_by": "cli", "erased_at": WHEN}
    values.update(overrides)
    return erasure_request(HASHER, **values)


def test_the_request_carries_hashes_never_the_identifiers():
    request = _request()
    event = CloudEvent(id=erasure_event_id(request), source="test", type=request.ce_type,
                       data=request, time=WHEN)  # fmt: skip
    headers, body = encode(event)
    wire = body + b"".join(value for _name, value in headers)
    for needle in (b"alice", b"Alice", b"1234", b"5678", b"998877", b"telegram"):
        assert needle not in wire
    decoded = decode(headers, body).data
    assert isinstance(decoded, ContactErased)
    assert decoded.hashes(IdentifierKind.EMAIL) == {HASHER.email("alice.kim@example.co.kr")}
    assert len(decoded.identifiers) == 3 and decoded.hash_key_id == HASHER.key_id


def test_the_same_identifiers_make_the_same_tombstone_event_and_key():
    first, again = (
        _request(),
        _request(identifiers=list(reversed(ALICE)), erased_at=datetime.now(UTC)),
    )
    assert first.tombstone_id == again.tombstone_id
    assert erasure_event_id(first) == erasure_event_id(again)
    assert erasure_key(first) == first.tombstone_id
    with_contact = _request(contact_id="ct_42")
    assert erasure_key(with_contact) == "ct_42"
    assert with_contact.tombstone_id != first.tombstone_id


def test_a_request_names_someone():
    with pytest.raises(ValueError, match="at least one"):
        _request(identifiers=[])


def test_a_store_refuses_hashes_made_under_another_key():
    with pytest.raises(WrongHashKey, match="PRIVACY_HASH_KEY"):
        check_hash_key(_request(), IdentifierHasher(b"o" * 32))


def test_the_privacy_topic_is_compacted_and_the_others_expire_in_a_week():
    settings = KafkaSettings(topics=TopicSettings())
    specs = {spec.name: dict(spec.topic_configs) for spec in topic_specs(settings)}
    assert specs["support.privacy.v1"]["cleanup.policy"] == "compact"
    assert "retention.ms" not in specs["support.privacy.v1"]
    week = str(7 * 24 * 3600 * 1000)
    for name in ("support.interactions.v1", "support.routing.v1", "support.notifications.v1",
                 "support.deadletter.v1", "support.assistant.v1"):  # fmt: skip
        assert specs[name]["retention.ms"] == week
        assert specs[name]["segment.ms"] == str(24 * 3600 * 1000)  # gone within a day of that
        assert "cleanup.policy" not in specs[name]
