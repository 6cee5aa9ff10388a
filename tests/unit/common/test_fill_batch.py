"""``fill_batch`` (``libs/common/kafka/producer.py``): records appended straight to the
batch's record builder make the batches aiokafka's ``BatchBuilder.append`` makes (the
same records in each, the same split where one is full, the same counts), and the
aiokafka internals it relies on are where it expects them."""

from __future__ import annotations

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.kafka.producer import fill_batch

_header = st.tuples(st.text(max_size=12), st.binary(max_size=40))
_records = st.lists(
    st.tuples(
        st.none() | st.binary(max_size=30),
        st.none() | st.binary(max_size=300),
        st.lists(_header, max_size=7),
    ),
    max_size=40,
)


def _read(buffer: bytearray) -> tuple[int, list[tuple]]:
    """A built batch's size and records, their timestamps left out (both ways stamp each
    record with the time it is appended at: ``timestamp=None``)."""
    records = DefaultRecordBatch(bytes(buffer))
    return len(buffer), [(r.offset, r.key, r.value, list(r.headers)) for r in records]


def _by_append(records: list, batch_size: int) -> list[tuple]:
    """aiokafka's way: ``BatchBuilder.append`` until full, then a new batch."""
    built, batch, count = [], BatchBuilder(batch_size, 0), 0
    for key, value, headers in records:
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            built.append((count, batch.record_count(), _read(batch._build())))
            batch = BatchBuilder(batch_size, 0)
            batch.append(key=key, value=value, timestamp=None, headers=headers)
            count = 0
        count += 1
    built.append((count, batch.record_count(), _read(batch._build())))
    return built


def _by_fill(records: list, batch_size: int) -> list[tuple]:
    built, position, indexes = [], 0, list(range(len(records)))
    while True:
        batch = BatchBuilder(batch_size, 0)
        end = fill_batch(batch, records, indexes, position)
        assert batch.closed() == (end < len(indexes))
        built.append((end - position, batch.record_count(), _read(batch._build())))
        position = end
        if position >= len(indexes):
            return built


@settings(max_examples=200, deadline=None)
@given(records=_records, batch_size=st.integers(min_value=64, max_value=4_000))
def test_the_same_batches_as_aiokafkas_append(records: list, batch_size: int):
    assert _by_fill(records, batch_size) == _by_append(records, batch_size)


def test_the_records_read_back():
    records = [(b"k1", b"v1", [("ce_id", b"1")]), (None, b"v2", []), (b"k3", None, [])]
    batch = BatchBuilder(1_000_000, 0)
    assert fill_batch(batch, records, [0, 1, 2], 0) == 3
    read = list(DefaultRecordBatch(bytes(batch._build())))
    assert [(r.offset, r.key, r.value, list(r.headers)) for r in read] == [
        (0, b"k1", b"v1", [("ce_id", b"1")]),
        (1, None, b"v2", []),
        (2, b"k3", None, []),
    ]


def test_a_producer_with_serializers_goes_through_append():
    batch = BatchBuilder(1_000_000, 0, key_serializer=bytes.upper, value_serializer=bytes.upper)
    assert fill_batch(batch, [(b"k", b"v", [])], [0], 0) == 1
    [read] = list(DefaultRecordBatch(bytes(batch._build())))
    assert (read.key, read.value) == (b"K", b"V")


def test_a_closed_batch_takes_nothing():
    batch = BatchBuilder(1_000_000, 0)
    batch.close()
    assert fill_batch(batch, [(b"k", b"v", [])], [0], 0) == 0
    assert batch.record_count() == 0
