"""The runner's deliveries of a poll with nothing to skip (``_decoded_deliveries``: the
router's interactions) are the ``Delivery(record, decode(...))`` of each record, and a
record that cannot be decoded raises what ``decode`` raises."""

from __future__ import annotations

import dataclasses

import pytest
from aiokafka import ConsumerRecord

from bench.interaction_batch_decode import records as interaction_records
from libs.common.cloudevents import CloudEventError, decode
from libs.common.kafka.consumer import Delivery, _decoded_deliveries


def _consumer_records(count: int) -> list[ConsumerRecord]:
    return [
        ConsumerRecord("t", 0, offset, 0, 0, None, value, None, -1, len(value), headers)
        for offset, (headers, value) in enumerate(interaction_records(count))
    ]


def test_the_deliveries_are_the_dataclass_own():
    records = _consumer_records(5)
    made = _decoded_deliveries(records)
    expected = [Delivery(r, decode(r.headers, r.value)) for r in records]
    assert made == expected
    assert [type(d) for d in made] == [Delivery] * 5
    assert all(d.record is r for d, r in zip(made, records, strict=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].event = None  # type: ignore[misc]
    assert _decoded_deliveries([]) == []


def test_an_undecodable_record_raises_as_decode_does():
    [good] = _consumer_records(1)
    bad = dataclasses.replace(good, headers=good.headers[1:])  # no ce_specversion
    with pytest.raises(CloudEventError) as expected:
        decode(bad.headers, bad.value)
    with pytest.raises(CloudEventError) as raised:
        _decoded_deliveries([good, bad])
    assert str(raised.value) == str(expected.value)
