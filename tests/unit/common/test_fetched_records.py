"""``PlainPartitionRecords`` (``libs/common/kafka/fetched_records.py``) hands out the
records aiokafka's ``PartitionRecords`` hands out, at the same positions, read the way
aiokafka's fetcher reads them (``FetchResult.getall``'s loop, ``getone``'s ``next``); and
the aiokafka internals it relies on are where it expects them."""

from __future__ import annotations

import dataclasses
import inspect
import struct

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.kafka import fetched_records
from libs.common.kafka.fetched_records import (
    AiokafkaMemoryRecords,
    AiokafkaPartitionRecords,
    PlainPartitionRecords,
    relied_on_attributes_missing,
)
from libs.common.kafka.record_batch import FetchedBytes

TP = TopicPartition("support.interactions.v1", 3)
READ_COMMITTED = aiokafka_fetcher.READ_COMMITTED
READ_UNCOMMITTED = aiokafka_fetcher.READ_UNCOMMITTED
#: a v2 record batch's layout (KIP-98): base offset, length, leader epoch, magic, CRC, then
#: the attributes (bit 5: a control batch), from which the CRC-32C is taken to the end
CRC_AT = struct.calcsize(">qiib")
ATTRIBUTES_AT = struct.calcsize(">qiibI")
CONTROL_BIT = 0x20

_header = st.tuples(st.text(max_size=12), st.none() | st.binary(max_size=40))
_record = st.tuples(
    st.none() | st.binary(max_size=30),
    st.none() | st.binary(max_size=300),
    st.lists(_header, max_size=7),
    st.integers(min_value=0, max_value=2**41),  # timestamp, ms
)
#: (records, control batch?) a batch
_batches = st.lists(
    st.tuples(st.lists(_record, min_size=1, max_size=12), st.booleans()), min_size=1, max_size=6
)


def _batch(base_offset: int, records: list, *, control: bool = False) -> bytes:
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 10**7)
    for delta, (key, value, headers, timestamp) in enumerate(records):
        builder.append(delta, timestamp, key, value, headers)
    built = builder.build()
    struct.pack_into(">q", built, 0, base_offset)  # outside the CRC
    if control:  # the control bit set and the CRC made again, as a broker writes one
        (attributes,) = struct.unpack_from(">h", built, ATTRIBUTES_AT)
        struct.pack_into(">h", built, ATTRIBUTES_AT, attributes | CONTROL_BIT)
        struct.pack_into(">I", built, CRC_AT, calc_crc32c(bytes(built[ATTRIBUTES_AT:])))
    return bytes(built)


def _fetched(batches: list) -> tuple[bytes, int]:
    """The batches' bytes one after another, as a fetch response carries them, and the
    offset after the last."""
    data, offset = b"", 0
    for records, control in batches:
        data += _batch(offset, records, control=control)
        offset += len(records)
    return data, offset


def _partition_records(
    cls: type, data: bytes, fetch_offset: int, memory: type = MemoryRecords, **options: object
):
    arguments = {
        "aborted_transactions": [],
        "key_deserializer": None,
        "value_deserializer": None,
        "check_crcs": True,
        "isolation_level": READ_UNCOMMITTED,
        **options,
    }
    return cls(
        TP,
        memory(data),
        arguments["aborted_transactions"],
        fetch_offset,
        arguments["key_deserializer"],
        arguments["value_deserializer"],
        arguments["check_crcs"],
        arguments["isolation_level"],
    )


def _read(partition_records, reads: list[int]) -> list[tuple]:
    """Read as the fetcher does: for each of ``reads`` a ``getall(n)`` (its ``for`` loop,
    broken at ``n`` records; 0: ``getone``'s ``next``), each step's records (their fields
    and attribute order) and ``next_fetch_offset``; then the rest by ``getall``."""
    steps = []
    for n in [*reads, None]:
        got, exhausted = [], False
        if n == 0:
            record = next(partition_records, None)
            got, exhausted = ([], True) if record is None else ([record], False)
        else:
            for record in partition_records:
                got.append(record)
                if n is not None and len(got) >= n:
                    break
            else:
                exhausted = True
        steps.append(
            ([(type(r), list(vars(r).items())) for r in got], partition_records.next_fetch_offset)
        )
        if exhausted:  # FetchResult drops the records (its _partition_records = None)
            break
    return steps


@settings(max_examples=200, deadline=None)
@given(
    batches=_batches,
    skip=st.integers(min_value=0, max_value=20),
    reads=st.lists(st.integers(min_value=0, max_value=15), max_size=6),
    memory=st.sampled_from([MemoryRecords, FetchedBytes]),
)
def test_the_same_records_at_the_same_positions_as_aiokafkas(batches, skip, reads, memory):
    """On aiokafka's ``MemoryRecords`` or on ``FetchedBytes`` (what ``install`` puts in
    the fetcher: the CRC checked by ``crc_ok``)."""
    data, end = _fetched(batches)
    fetch_offset = min(skip, end)  # records before it are skipped (a compacted batch)
    expected = _read(_partition_records(AiokafkaPartitionRecords, data, fetch_offset), reads)
    plain = _partition_records(PlainPartitionRecords, data, fetch_offset, memory)
    assert _read(plain, reads) == expected


HEADERS = (("ce_id", b"1"), ("x", None))


def test_the_records_equal_aiokafkas_and_their_fields():
    records = [(b"k", b"value", list(HEADERS), 1_700_000_000_000)]
    data = _batch(41, records) + _batch(42, [(None, None, [], 5)])
    plain = list(_partition_records(PlainPartitionRecords, data, 41))
    assert plain == list(_partition_records(AiokafkaPartitionRecords, data, 41))
    assert plain == [
        ConsumerRecord(TP.topic, 3, 41, 1_700_000_000_000, 0, b"k", b"value", None, 1, 5, HEADERS),
        ConsumerRecord(TP.topic, 3, 42, 5, 0, None, None, None, -1, -1, ()),
    ]


@pytest.mark.parametrize("changed_at", [-3, ATTRIBUTES_AT + 5, CRC_AT])
@pytest.mark.parametrize("second", [False, True])
def test_a_bad_crc_raises_as_aiokafka_does(changed_at, second):
    """A byte of a record's value, of the header after the CRC, or of the CRC itself, in
    the fetch's first batch or its second."""
    first = _batch(0, [(b"k", b"some value", [], 1)])
    data = bytearray(first + _batch(1, [(b"k", b"other value", [], 2)]))
    data[changed_at + (len(first) if second and changed_at >= 0 else 0)] ^= 0xFF
    ways = [
        (AiokafkaPartitionRecords, MemoryRecords),
        (PlainPartitionRecords, MemoryRecords),
        (PlainPartitionRecords, FetchedBytes),
    ]
    for cls, memory in ways:
        read = _partition_records(cls, bytes(data), 0, memory)
        with pytest.raises(CorruptRecordException) as raised:
            list(read)
        assert str(raised.value).endswith(f"Invalid CRC - {TP}")
    unchecked = [
        list(_partition_records(cls, bytes(data), 0, memory, check_crcs=False))
        for cls, memory in ways
    ]
    assert unchecked[1:] == unchecked[:1] * 2 and unchecked[0]


def test_read_committed_and_deserializers_take_aiokafkas_generator():
    data = _batch(0, [(b"k", b"v", [], 1)])
    aiokafkas = AiokafkaPartitionRecords._unpack_records.__code__
    for options in (
        {"isolation_level": READ_COMMITTED},
        {"key_deserializer": bytes.upper},
        {"value_deserializer": bytes.upper},
    ):
        made = _partition_records(PlainPartitionRecords, data, 0, **options)
        assert made._records_iterator.gi_code is aiokafkas
        assert list(made) == list(_partition_records(AiokafkaPartitionRecords, data, 0, **options))
    plain = _partition_records(PlainPartitionRecords, data, 0)
    assert plain._records_iterator.gi_code is PlainPartitionRecords._plain_records.__code__


def test_install_points_the_fetcher_at_the_plain_class(monkeypatch):
    monkeypatch.setattr(aiokafka_fetcher, "PartitionRecords", AiokafkaPartitionRecords)
    monkeypatch.setattr(aiokafka_fetcher, "MemoryRecords", AiokafkaMemoryRecords)
    assert fetched_records.install()
    assert aiokafka_fetcher.PartitionRecords is PlainPartitionRecords
    assert aiokafka_fetcher.MemoryRecords is FetchedBytes
    assert fetched_records.install()  # again: nothing changes
    assert aiokafka_fetcher.PartitionRecords is PlainPartitionRecords
    assert aiokafka_fetcher.MemoryRecords is FetchedBytes


def test_install_leaves_another_class_in_place(monkeypatch, caplog):
    class Other:
        pass

    monkeypatch.setattr(aiokafka_fetcher, "PartitionRecords", Other)
    assert not fetched_records.install()
    assert aiokafka_fetcher.PartitionRecords is Other
    assert "left in place" in caplog.text


def test_aiokafkas_internals_the_plain_path_relies_on():
    """Pins aiokafka 0.14's private parts: the fetcher makes its records by the module's
    global ``PartitionRecords`` and ``getall`` iterates them with ``for``; the instance
    keeps what ``_plain_records`` reads; ``ConsumerRecord`` has the fields it stores, in
    that order, and no ``__post_init__``; the old generator is what ``_consumer_record``
    makes a record of."""
    processing = inspect.getsource(aiokafka_fetcher.Fetcher._proc_fetch_request)
    assert "PartitionRecords(" in processing
    assert "records = MemoryRecords(part_data[-1])" in processing
    assert AiokafkaMemoryRecords is MemoryRecords
    assert "for msg in self._partition_records:" in inspect.getsource(
        aiokafka_fetcher.FetchResult.getall
    )
    data = _batch(0, [(b"k", b"v", [], 1)])
    made = _partition_records(AiokafkaPartitionRecords, data, 0)
    assert relied_on_attributes_missing(made) == []
    assert isinstance(made._records_iterator, type(x for x in ()))
    assert [f.name for f in dataclasses.fields(ConsumerRecord)] == [
        "topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value",
        "checksum", "serialized_key_size", "serialized_value_size", "headers",
    ]  # fmt: skip
    assert not hasattr(ConsumerRecord, "__post_init__")
    assert "__slots__" not in vars(ConsumerRecord)
    source = inspect.getsource(AiokafkaPartitionRecords._unpack_records)
    assert "self._consumer_record(tp, record)" in source
