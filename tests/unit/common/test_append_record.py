"""``append_record`` (``libs/common/kafka/producer.py``): a webhook's record appended
straight to the batch's record builder makes the batch and the futures aiokafka's
``MessageBatch.append`` makes (the same records, the same point where the batch is full
and closed, a future per record with the same metadata)."""

from __future__ import annotations

import asyncio

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.kafka.producer import append_record, loop_batch

_header = st.tuples(st.text(max_size=12), st.binary(max_size=40))
_records = st.lists(
    st.tuples(
        st.none() | st.binary(max_size=30),
        st.binary(max_size=300),
        st.lists(_header, max_size=7),
    ),
    max_size=40,
)


def _appended(records: list, batch_size: int, append) -> tuple:
    """Records appended to one batch until it refuses one: what was taken, the batch's
    records read back (timestamps left out: both stamp each record when appended), its
    closed flag, and each future's metadata's offset and sizes."""
    loop = asyncio.new_event_loop()
    try:
        batch = loop_batch(TopicPartition("t", 0), BatchBuilder(batch_size, 0), 30, 0, loop)
        taken = 0
        for key, value, headers in records:
            if append(batch, key, value, headers, loop.create_future) is None:
                break
            taken += 1
        closed = batch._builder.closed()
        futures = [
            (future.done(), meta.offset, meta.size, meta.crc is None)
            for future, meta in batch._msg_futures
        ]
        built = DefaultRecordBatch(bytes(batch._builder._build()))
        read = [(r.offset, r.key, r.value, list(r.headers)) for r in built]
        return taken, closed, futures, read
    finally:
        loop.close()


def _by_aiokafka(batch, key, value, headers, create_future):
    return batch.append(key, value, None, create_future, headers=headers)


@settings(max_examples=200, deadline=None)
@given(records=_records, batch_size=st.integers(min_value=64, max_value=4_000))
def test_the_same_batch_and_futures_as_aiokafkas_append(records: list, batch_size: int):
    assert _appended(records, batch_size, append_record) == _appended(
        records, batch_size, _by_aiokafka
    )


def test_a_producer_with_serializers_goes_through_append():
    loop = asyncio.new_event_loop()
    try:
        builder = BatchBuilder(1_000_000, 0, key_serializer=bytes.upper)
        batch = loop_batch(TopicPartition("t", 0), builder, 30, 0, loop)
        assert append_record(batch, b"k", b"v", [], loop.create_future) is not None
        [read] = list(DefaultRecordBatch(bytes(builder._build())))
        assert (read.key, read.value) == (b"K", b"v")
    finally:
        loop.close()


def test_a_closed_batch_takes_nothing():
    loop = asyncio.new_event_loop()
    try:
        batch = loop_batch(TopicPartition("t", 0), BatchBuilder(1_000_000, 0), 30, 0, loop)
        batch._builder.close()
        assert append_record(batch, b"k", b"v", [], loop.create_future) is None
        assert batch._msg_futures == []
    finally:
        loop.close()
