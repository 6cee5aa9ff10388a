from libs.common.cloudevents import decode
from libs.common.events.interaction import Channel, CustomerIdentity
from libs.common.events.routing import ConversationSnapshot, InteractionRouted
from services.router.relay import record_headers
from services.router.store.outbox import PendingEvent
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
