"""The router's consumer makes a poll's ``Incoming`` records without the frozen
dataclass's ``__init__`` (``incomings_from``, ``libs.common.records.dict_constructor``):
the same records as ``Incoming(event_id=..., interaction=...)``, and the same refusal of a
delivery that is not an interaction."""

from __future__ import annotations

import pytest

from libs.common.cloudevents import CloudEvent
from libs.common.events.notification import NotificationOutcome
from libs.common.kafka.consumer import Delivery, PermanentError
from services.router.consumer import incoming_from, incomings_from
from services.router.service.interactions import Incoming
from tests.unit.router.factories import interaction


def _delivery(event_id: str, data: object) -> Delivery:
    event = CloudEvent(id=event_id, source="s", type="t", data=data)  # type: ignore[arg-type]
    return Delivery(None, event)  # type: ignore[arg-type]


def test_a_polls_incomings_are_the_records_incoming_makes():
    deliveries = [_delivery(f"ev-{n}", interaction()) for n in range(3)]
    expected = [Incoming(event_id=d.event.id, interaction=d.event.data) for d in deliveries]  # type: ignore[union-attr,arg-type]
    made = incomings_from(deliveries)
    assert made == expected
    assert [vars(m) for m in made] == [vars(e) for e in expected]
    assert [incoming_from(d) for d in deliveries] == expected
    assert all(type(m) is Incoming for m in made)


def test_a_delivery_that_is_no_interaction_is_refused_as_before():
    outcome = NotificationOutcome.model_construct()
    for bad, message in (
        (Delivery(None, None), "not an interaction: undecoded"),  # type: ignore[arg-type]
        (_delivery("ev-9", outcome), "not an interaction: t"),
    ):
        with pytest.raises(PermanentError, match=f"^{message}$"):
            incoming_from(bad)
        with pytest.raises(PermanentError, match=f"^{message}$"):
            incomings_from([_delivery("ev-1", interaction()), bad])
