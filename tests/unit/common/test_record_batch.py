"""``libs/common/kafka/record_batch.py``: ``RecordBatchWriter`` writes the bytes aiokafka's
Cython ``DefaultRecordBatchBuilder`` writes (the same records, the same split where a batch
is full, the same CRC-32C), ``fill_batch`` and ``send_batches`` put it under the batches
they fill, and ``crc_ok`` / ``FetchedBytes`` read fetched batches as aiokafka does."""

from __future__ import annotations

import asyncio

import google_crc32c
import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.kafka import record_batch
from libs.common.kafka.producer import fill_batch
from libs.common.kafka.record_batch import (
    FetchedBytes,
    RecordBatchWriter,
    WrittenBatch,
    crc_ok,
    headers_bytes,
    written_batch,
)

_header = st.tuples(st.text(max_size=12), st.none() | st.binary(max_size=40))
_record = st.tuples(
    st.none() | st.binary(max_size=30),
    st.none() | st.binary(max_size=300),
    st.lists(_header, max_size=7),
)
_timestamp = st.integers(min_value=0, max_value=2**41)


def _aiokafka_builder(batch_size: int, transactional: bool = False) -> DefaultRecordBatchBuilder:
    return DefaultRecordBatchBuilder(
        2,
        0,
        is_transactional=transactional,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=0,
        batch_size=batch_size,
    )


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(_record, max_size=40),
    batch_size=st.integers(min_value=64, max_value=4_000),
    timestamp=_timestamp,
    transactional=st.booleans(),
    producer_state=st.none() | st.tuples(st.integers(0, 2**40), st.integers(0, 2**14), _timestamp),
    prewritten=st.booleans(),
)
def test_append_all_writes_aiokafkas_bytes(
    records: list,
    batch_size: int,
    timestamp: int,
    transactional: bool,
    producer_state: tuple,
    prewritten: bool,
) -> None:
    """With each record's headers written ahead (``headers_bytes``, the relay's) or not."""
    ours = RecordBatchWriter(batch_size, is_transactional=transactional)
    theirs = _aiokafka_builder(batch_size, transactional)
    headers = [headers_bytes(record[2]) for record in records] if prewritten else None
    written = ours.append_all(records, list(range(len(records))), 0, 0, timestamp, headers)
    fitted = 0
    for offset, (key, value, headers) in enumerate(records):
        if theirs.append(offset, timestamp, key, value, headers) is None:
            break
        fitted += 1
    assert written == fitted
    assert ours.size() == theirs.size()
    if producer_state is not None:
        producer_id, epoch, sequence = producer_state
        sequence %= 2**31
        ours.set_producer_state(producer_id, epoch, sequence)
        theirs.set_producer_state(producer_id, epoch, sequence)
    assert (ours.producer_id, ours.producer_epoch, ours.base_sequence) == (
        theirs.producer_id,
        theirs.producer_epoch,
        theirs.base_sequence,
    )
    assert ours.build() == bytes(theirs.build())


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.tuples(_record, _timestamp), max_size=20),
    batch_size=st.integers(min_value=64, max_value=4_000),
)
def test_append_one_by_one_writes_aiokafkas_bytes(records: list, batch_size: int) -> None:
    """``append`` (aiokafka's ``BatchBuilder.append`` and the producer's own path call it):
    each record's own timestamp, its metadata as aiokafka's."""
    ours, theirs = RecordBatchWriter(batch_size), _aiokafka_builder(batch_size)
    for offset, ((key, value, headers), timestamp) in enumerate(records):
        mine = ours.append(offset, timestamp, key, value, headers)
        their = theirs.append(offset, timestamp, key, value, headers)
        assert (mine is None) == (their is None)
        if their is None:
            break
        assert (mine.offset, mine.size, mine.timestamp) == (
            their.offset,
            their.size,
            their.timestamp,
        )
    assert ours.build() == bytes(theirs.build())


def test_headers_as_lists_and_large_lengths() -> None:
    """A header given as a list (not hashable) and lengths past the varints made ahead."""
    big = b"v" * 20_000
    records = [(b"k" * 17_000, big, [["name", b"x" * 16_500], ("n", None)])]
    ours, theirs = RecordBatchWriter(1 << 20), _aiokafka_builder(1 << 20)
    assert ours.append_all(records, [0], 0, 20_000, 5) == 1
    theirs.append(20_000, 5, *records[0][:2], [("name", b"x" * 16_500), ("n", None)])
    assert ours.build() == bytes(theirs.build())


def test_other_bytes_like_and_wrong_types() -> None:
    """A bytearray or memoryview is written as its bytes; a str key or value or header
    value is refused when appended, as aiokafka refuses it (not when the batch is built)."""
    records = [(bytearray(b"key"), memoryview(b"value"), [("h", b"x")])]
    ours, theirs = RecordBatchWriter(1 << 20), _aiokafka_builder(1 << 20)
    assert ours.append_all(records, [0], 0, 0, 5) == 1
    theirs.append(0, 5, *records[0])
    assert ours.build() == bytes(theirs.build())
    for record in [("key", b"v", []), (b"k", "value", []), (b"k", b"v", [("h", "text")])]:
        with pytest.raises(TypeError):
            RecordBatchWriter(1 << 20).append_all([record], [0], 0, 0, 5)
    with pytest.raises(ValueError):
        RecordBatchWriter(1 << 20).append_all([(b"k", b"v", [])], [0], 0, -1, 5)


def test_empty_batch() -> None:
    assert RecordBatchWriter(100).build() == bytes(_aiokafka_builder(100).build())


@settings(max_examples=100, deadline=None)
@given(records=st.lists(_record, max_size=40), batch_size=st.integers(64, 4_000))
def test_fill_batch_on_a_writer_splits_as_aiokafka(records: list, batch_size: int) -> None:
    """``fill_batch`` on a ``WrittenBatch``: the batches aiokafka's ``BatchBuilder`` makes,
    record for record (timestamps aside: both stamp the time of appending)."""

    def batches(make: type, written: list[bytes] | None = None) -> list[tuple]:
        built, position, indexes = [], 0, list(range(len(records)))
        while True:
            batch = make(batch_size)
            end = fill_batch(batch, records, indexes, position, written)
            assert batch.closed() == (end < len(indexes))
            buffer = batch._build()
            read = DefaultRecordBatch(bytes(buffer))
            assert read.validate_crc()
            content = [(r.offset, r.key, r.value, list(r.headers)) for r in read]
            built.append((end - position, batch.record_count(), len(buffer), content))
            position = end
            if position >= len(indexes):
                return built

    expected = batches(lambda size: BatchBuilder(size, 0))
    writer = lambda size: WrittenBatch(size, is_transactional=False)  # noqa: E731
    assert batches(writer) == expected
    assert batches(writer, [headers_bytes(record[2]) for record in records]) == expected


def test_written_batch_only_where_the_bytes_are_aiokafkas() -> None:
    class Accumulator:
        _compression_type = 0
        _batch_size = 4096
        _txn_manager = None

    class Producer:
        _message_accumulator = Accumulator()
        _key_serializer = None
        _value_serializer = None

        def create_batch(self) -> str:
            return "aiokafka's"

    producer = Producer()
    batch = written_batch(producer)
    assert isinstance(batch, WrittenBatch) and batch._builder._batch_size == 4096
    batch._set_producer_state(7, 1, 3)  # aiokafka's own asserts its builder
    assert (batch._builder.producer_id, batch._builder.base_sequence) == (7, 3)
    producer._value_serializer = str.encode
    assert written_batch(producer) == "aiokafka's"
    producer._value_serializer = None
    Accumulator._compression_type = 1
    assert written_batch(producer) == "aiokafka's"


def _v2_batch(records: list, timestamp: int = 1) -> bytes:
    builder = _aiokafka_builder(1 << 20)
    for offset, (key, value, headers) in enumerate(records):
        builder.append(offset, timestamp, key, value, headers)
    return bytes(builder.build())


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(st.lists(_record, min_size=1, max_size=5), max_size=5), cut=st.integers(0, 50)
)
def test_fetched_bytes_read_as_memory_records(batches: list, cut: int) -> None:
    """The same batches as ``MemoryRecords`` (a partial one at the end skipped), each one's
    CRC found good where it is, and bad once a byte of it changes."""
    data = b"".join(_v2_batch(records) for records in batches)
    data = data[: len(data) - cut]
    ours, theirs = FetchedBytes(data), MemoryRecords(data)
    assert ours.size_in_bytes() == theirs.size_in_bytes()
    while theirs.has_next():
        assert ours.has_next()
        start = ours.position
        mine, their = ours.next_batch(), theirs.next_batch()
        assert [(r.offset, r.value) for r in mine] == [(r.offset, r.value) for r in their]
        assert crc_ok(data, start) is True
        broken = bytearray(data)
        broken[start + 61] ^= 1  # the first record's first byte: a whole batch holds one
        assert crc_ok(bytes(broken), start) is False
    assert not ours.has_next() and ours.next_batch() is None


def test_crc_ok_leaves_older_batches_to_aiokafka() -> None:
    builder = LegacyRecordBatchBuilder(1, 0, 1 << 20)
    builder.append(0, 1, b"k", b"v")
    assert crc_ok(bytes(builder.build()), 0) is None


def test_the_crc_is_aiokafkas() -> None:
    """Google's C CRC-32C where its wheel has the C extension (here), else aiokafka's."""
    data = bytes(range(256)) * 7
    assert google_crc32c.implementation == "c" and record_batch.crc32c is google_crc32c.value
    assert google_crc32c.value(data) == calc_crc32c(data)
    for batch_crc in (record_batch._c_batch_crc, record_batch._table_batch_crc):
        assert batch_crc(data[:40], data[40:]) == calc_crc32c(data)


@pytest.mark.parametrize("size", [0, 1, 61, 1000])
def test_writer_size_counts_the_header(size: int) -> None:
    writer = RecordBatchWriter(1 << 20)
    if size:
        writer.append_all([(None, b"x" * size, [])], [0], 0, 0, 1)
    assert writer.size() == len(writer.build())


def test_no_event_loop_needed() -> None:
    """Writing a batch touches no loop (the relay's call runs in the loop's turn)."""
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert RecordBatchWriter(100).append(0, None, b"k", b"v", []) is not None
