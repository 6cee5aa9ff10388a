from datetime import timedelta, timezone

from libs.common.cloudevents import decode
from libs.common.events.interaction import Channel, CustomerIdentity
from libs.common.events.routing import ConversationSnapshot, InteractionRouted
from libs.common.kafka.record_batch import headers_bytes
from services.router.relay import RecordHeaders, record_headers
from services.router.store.outbox import PendingEvent, UnsentId, _unsent_id, id_runs
from tests.unit.router.factories import T0


def test_relayed_records_decode_with_the_cloudevents_codec():
    event = InteractionRouted(
        conversation=ConversationSnapshot(
            conversation_id="conv-1",
            reference="C-7",
            channel=Channel.EMAIL,
            status="open",
            queue="general",
            contact_id="contact-1",
            customer=CustomerIdentity(email="a@b.c"),
        ),
        occurred_at=T0,
        cause_event_id="e-1",
        interaction_id="e-1",
        opened_conversation=True,
    )
    row = PendingEvent(1, "ce-1", event.ce_type, "conv-1", T0, event.model_dump_json())
    decoded = decode(record_headers(row, "omnidesk/router"), row.payload.encode())
    assert (decoded.id, decoded.type, decoded.subject) == ("ce-1", event.ce_type, "conv-1")
    assert decoded.time == T0 and decoded.data == event


def test_record_headers_of_a_relay_are_the_bytes_record_headers_writes():
    """``RecordHeaders`` reuses what rows share (the encoded type, the time of rows with
    the same ``occurred_at`` object): the headers stay byte for byte the same."""
    later = T0 + timedelta(seconds=1)
    same_instant_other_offset = T0.astimezone(timezone(timedelta(hours=9)))
    rows = [
        PendingEvent(0, "ce-1", "support.routing.a.v1", "conv-1", T0, "{}"),
        PendingEvent(0, "ce-2", "support.routing.b.v1", "conv-1", T0, "{}"),
        PendingEvent(0, "ce-3", "support.routing.a.v1", "conv-2", later, "{}"),
        PendingEvent(0, "ce-4", "support.routing.a.v1", "conv-2", same_instant_other_offset, "{}"),
        PendingEvent(0, "ce-5", "support.routing.b.v1", "conv-3", T0, "{}"),
    ]
    headers = RecordHeaders("omnidesk/router")
    assert [headers(row) for row in rows] == [
        record_headers(row, "omnidesk/router") for row in rows
    ]
    assert dict(headers(rows[3]))["ce_time"] == b"2026-03-02T10:00:00+09:00"


def test_a_relays_records_are_the_keys_values_and_headers_of_each_row():
    """``RecordHeaders.records`` encodes a conversation id once for the rows that follow
    with the same object: the records stay byte for byte what each row's own encoding
    and ``cloudevents``' headers are, across shared and unshared objects and zones."""
    later = T0 + timedelta(seconds=1)
    other_offset = T0.astimezone(timezone(timedelta(hours=9)))
    micro = T0 + timedelta(seconds=2, microseconds=1234)  # ce_time: cloudevents.iso_time
    conv = "conv-1"
    rows = [
        PendingEvent(0, "ce-1", "support.routing.a.v1", conv, T0, '{"a":"é"}'),
        PendingEvent(0, "ce-2", "support.routing.b.v1", conv, T0, "{}"),
        PendingEvent(0, "ce-3", "support.routing.a.v1", "".join(["conv-", "1"]), later, "{}"),
        PendingEvent(0, "ce-4", "support.routing.a.v1", "conv-2", other_offset, "{}"),
        PendingEvent(0, "ce-5", "support.routing.b.v1", conv, T0, "[1]"),
        PendingEvent(0, "ce-6", "support.routing.a.v1", conv, micro, "{}"),
        PendingEvent(0, "ce-7", "support.routing.a.v1", conv, T0.replace(tzinfo=None), "{}"),
    ]
    expected = [
        (
            row.conversation_id.encode(),
            row.payload.encode(),
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", row.event_id.encode()),
                ("ce_source", b"omnidesk/router"),
                ("ce_type", row.ce_type.encode()),
                ("ce_time", row.occurred_at.isoformat().encode()),
                ("content-type", b"application/json"),
                ("ce_subject", row.conversation_id.encode()),
            ],
        )
        for row in rows
    ]
    headers = RecordHeaders("omnidesk/router")
    assert headers.records(rows[:2]) + headers.records(rows[2:]) == expected
    assert [headers(row) for row in rows] == [record[2] for record in expected]
    # the headers as the records carry them, written with the records (the relay's
    # batches take them): what ``record_batch.headers_bytes`` makes of each record's
    for source in ("omnidesk/router", "é" * 70):
        headers = RecordHeaders(source)
        for part in (rows[:3], rows[3:], rows):
            records, written = headers.written_records(part)
            assert records == headers.records(part)
            assert written == [headers_bytes(record[2]) for record in records]
    long_id = PendingEvent(0, "x" * 200, "support.routing.a.v1", conv, T0, "{}")
    records, written = RecordHeaders("omnidesk/router").written_records([long_id])
    assert written == [headers_bytes(records[0][2])]


def test_id_runs_are_the_fewest_runs_of_consecutive_ids():
    assert id_runs([]) == []
    assert id_runs([7]) == [(7, 7)]
    assert id_runs([3, 1, 2, 2, 5, 6, 9]) == [(1, 3), (5, 6), (9, 9)]
    assert id_runs(range(100, 600)) == [(100, 599)]


def test_a_read_row_is_the_unsent_id_its_fields_make():
    made = _unsent_id((7, "ce-7"))
    assert type(made) is UnsentId
    assert made == UnsentId(7, "ce-7") and (made.id, made.event_id) == (7, "ce-7")
