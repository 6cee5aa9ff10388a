"""Record batches (Kafka's v2 format) written and checked with a hardware CRC-32C.

aiokafka 0.14's Cython ``DefaultRecordBatchBuilder`` grows the batch's ``bytearray``
record by record (a ``realloc``, often a copy of all written so far) and checksums the
batch with a table-driven CRC-32C, a byte at a time; its fetched batches'
``validate_crc`` too. In the router's loop (``bench.router_loop_callgrind``, stop 40)
those were ~46 K instructions an interaction of the ~790 K on the event loop's thread:
the relay's appends 29 K (15 K of them the reallocs' copies), the build 12 K (its CRC),
the fetch's CRC check 4.6 K.

``RecordBatchWriter`` writes the same bytes (``tests/unit/common/test_record_batch.py``
holds them against aiokafka's builder, the split where a batch is full included): each
record's bytes are made once and kept in a list, joined once by ``build``, whose
CRC-32C is ``google_crc32c``'s (Google's C library, SSE4.2 where the CPU has it;
Apache-2.0). Its records' headers come written (``headers_bytes``'s bytes, made by the
caller: the relay's ``RecordHeaders`` writes a row's from the parts its decision's rows
share); any other record is written field by field in Python. Callgrind, a relay-sized
record (~1.4 KB, seven headers) into batches of 1 MiB, built (800 - 400 records): aiokafka
20.6 K instructions, this writer 7.8 K with the headers written ahead, 54.6 K without. So
``send_batches`` puts only batches with written headers on it (``written_batch``: the
relay's), the rest on aiokafka's builder as before; not where aiokafka compresses or
serializes.

``crc_ok`` checks a fetched v2 batch's CRC-32C from the fetch's bytes, which aiokafka's
Cython ``MemoryRecords`` does not expose: ``FetchedBytes`` stands in for it in the
fetcher and keeps them (``libs.common.kafka.fetched_records.install``).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from typing import Any

import google_crc32c
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordMetadata
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c, encode_varint

#: Kafka's v2 batch header (aiokafka's ``DefaultRecordBase.HEADER_STRUCT``): base offset,
#: length, partition leader epoch, magic, CRC, attributes, last offset delta, first and
#: max timestamps, producer id and epoch, base sequence, record count
_HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = _HEADER.size  # 61
#: where the length counts from (after base offset and length) and where the CRC is
#: stored and counts from (after it: attributes on)
_AFTER_LENGTH = 12
_CRC_AT = 17
_CRC_FROM = 21
_MAGIC_AT = 16
_NO_PARTITION_LEADER_EPOCH = -1
_TRANSACTIONAL = 0x10
_CRC = struct.Struct(">I")
_LENGTH = struct.Struct(">i")


def _c_batch_crc(checked: bytes, records: bytes) -> int:
    return google_crc32c.extend(google_crc32c.value(checked), records)  # type: ignore[no-any-return]


def _table_batch_crc(checked: bytes, records: bytes) -> int:
    return calc_crc32c(checked + records)


#: a batch's CRC-32C from its header after the CRC and its records, and of any bytes:
#: Google's C code, or where its wheel has no C extension for this platform (it would
#: fall back to pure Python) aiokafka's Cython table, as before
if google_crc32c.implementation == "c":
    batch_crc, crc32c = _c_batch_crc, google_crc32c.value
else:  # pragma: no cover - a platform without the C extension
    batch_crc, crc32c = _table_batch_crc, calc_crc32c


def _varint(value: int) -> bytes:
    """Kafka's varint of ``value`` (aiokafka's encoder, as bytes)."""
    out = bytearray()
    encode_varint(value, out.append)
    return bytes(out)


#: varints of 0 .. _SMALL - 1 (lengths, counts, offset deltas), made once
_SMALL = 1 << 14
_VARINTS = tuple(_varint(n) for n in range(_SMALL))
_NULL = _varint(-1)  # a null key, value or header value


def varint_bytes(value: int) -> bytes:
    """Kafka's varint of ``value``, of the ones made ahead where it is one of them."""
    return _VARINTS[value] if 0 <= value < _SMALL else _varint(value)


_BYTES_LIKE = (bytes, bytearray, memoryview)


def header_bytes(name: str, value: bytes | None) -> bytes:
    """A header as a record carries it: its name's and value's lengths and bytes."""
    if value is not None and not isinstance(value, _BYTES_LIKE):
        raise TypeError(f"header value of {name!r} is not bytes: {type(value).__name__}")
    name_bytes = name.encode("utf-8")
    value_part = (_NULL,) if value is None else (varint_bytes(len(value)), value)
    return b"".join((varint_bytes(len(name_bytes)), name_bytes, *value_part))


def headers_bytes(headers: Sequence[tuple[str, bytes | None]]) -> bytes:
    """A record's headers as it carries them: their count, then each (``header_bytes``);
    what ``append_all``'s ``written_headers`` give, made ahead."""
    return b"".join([varint_bytes(len(headers)), *(header_bytes(n, v) for n, v in headers)])


def _record_parts(
    stamp: bytes,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> tuple[bytes, ...]:
    """A record's pieces after its length, any record (``append_all`` takes the usual one
    its own way): null key or value, lengths of any size, headers as any pairs."""
    parts = [stamp, varint_bytes(offset)]
    for field in (key, value):
        if field is None:
            parts.append(_NULL)
        elif isinstance(field, _BYTES_LIKE):
            parts += (varint_bytes(len(field)), bytes(field))
        else:
            raise TypeError(f"a bytes-like object is required, not {type(field).__name__!r}")
    parts.append(headers_bytes(headers))
    return tuple(parts)


def now_ms() -> int:
    """Milliseconds since the epoch, as aiokafka stamps a record appended without a time."""
    return time.time_ns() // 1_000_000


class RecordBatchWriter:
    """aiokafka's ``DefaultRecordBatchBuilder`` (magic 2, no compression): the same
    methods and the same bytes; records kept as their bytes, joined once by ``build``."""

    __slots__ = (
        "_attributes",
        "_base_sequence",
        "_batch_size",
        "_first_timestamp",
        "_last_offset",
        "_last_size",
        "_max_timestamp",
        "_num_records",
        "_producer_epoch",
        "_producer_id",
        "_records",
        "_size",
    )

    def __init__(self, batch_size: int, *, is_transactional: bool = False) -> None:
        self._batch_size = batch_size
        self._attributes = _TRANSACTIONAL if is_transactional else 0
        self._producer_id = -1
        self._producer_epoch = -1
        self._base_sequence = 0
        self._first_timestamp: int | None = None
        self._max_timestamp = -1  # what aiokafka writes for a batch without records
        self._last_offset = 0
        self._num_records = 0
        self._size = HEADER_SIZE
        self._records: list[bytes] = []
        self._last_size = 0  # the size of the record ``append_all`` wrote last

    def append(
        self,
        offset: int,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
    ) -> DefaultRecordMetadata | None:
        """One record (its metadata), or None when it does not fit (the batch has one)."""
        if timestamp is None:
            timestamp = now_ms()
        written = self.append_all([(key, value, headers)], [0], 0, offset, timestamp)
        if not written:
            return None
        return DefaultRecordMetadata(offset, self._last_size, timestamp)

    def append_all(
        self,
        records: Sequence[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]]]],
        indexes: Sequence[int],
        start: int,
        offset: int,
        timestamp: int,
        written_headers: Sequence[bytes] | None = None,
    ) -> int:
        """``records[i]`` for ``i`` in ``indexes[start:]``, in order, at offsets from
        ``offset`` on, all stamped ``timestamp``, until one does not fit; returns how many
        were written. ``written_headers[i]``: ``records[i]``'s headers as ``headers_bytes``
        writes them, made by the caller where it writes them for less (the relay's: most of
        a row's headers are its decision's). One frame for them all."""
        if offset < 0:
            raise ValueError(f"a record's offset in its batch is from 0 on, not {offset}")
        first = self._first_timestamp
        if first is None:
            first = timestamp
        # attributes, the timestamp's delta: the same for every record of this call
        stamp = b"\x00" + _varint(timestamp - first)
        written = self._records
        append = written.append
        size, limit = self._size, self._batch_size
        varints, join, bytes_type = _VARINTS, b"".join, bytes
        base = offset
        record_size = 0
        for index in indexes[start:]:
            key, value, headers = records[index]
            if written_headers is not None and bytes_type is type(key) is type(value):
                try:
                    body = join(
                        (
                            stamp,
                            varints[offset],
                            varints[len(key)],
                            key,
                            varints[len(value)],
                            value,
                            written_headers[index],
                        )
                    )
                except IndexError:  # a length past the table
                    body = join(_record_parts(stamp, offset, key, value, headers))
            else:
                body = join(_record_parts(stamp, offset, key, value, headers))
            length = len(body)
            prefix = varints[length] if length < _SMALL else _varint(length)
            record_size = len(prefix) + length
            if written and size + record_size >= limit:  # aiokafka's Cython builder: ">="
                break
            append(prefix)
            append(body)
            size += record_size
            offset += 1
        written_count = offset - base
        if written_count:
            if self._first_timestamp is None:
                self._first_timestamp = self._max_timestamp = timestamp
            elif timestamp > self._max_timestamp:
                self._max_timestamp = timestamp
            self._size = size
            self._num_records += written_count
            self._last_offset = offset - 1
            self._last_size = record_size
        return written_count

    def build(self) -> bytes:
        """The batch's bytes (call once, as aiokafka's)."""
        header = _HEADER.pack(
            0,  # base offset: the broker's
            self._size - _AFTER_LENGTH,
            _NO_PARTITION_LEADER_EPOCH,
            2,
            0,  # the CRC, below
            self._attributes,
            self._last_offset,
            -1 if self._first_timestamp is None else self._first_timestamp,
            self._max_timestamp,
            self._producer_id,
            self._producer_epoch,
            self._base_sequence,
            self._num_records,
        )
        records = b"".join(self._records)
        self._records = []
        checked = header[_CRC_FROM:]
        crc = batch_crc(checked, records)
        return b"".join((header[:_CRC_AT], _CRC.pack(crc), checked, records))

    def size(self) -> int:
        return self._size

    def set_producer_state(self, producer_id: int, producer_epoch: int, base_sequence: int) -> None:
        self._producer_id = producer_id
        self._producer_epoch = producer_epoch
        self._base_sequence = base_sequence

    @property
    def producer_id(self) -> int:
        return self._producer_id

    @property
    def producer_epoch(self) -> int:
        return self._producer_epoch

    @property
    def base_sequence(self) -> int:
        return self._base_sequence


class WrittenBatch(BatchBuilder):  # type: ignore[misc]
    """aiokafka's ``BatchBuilder`` on a ``RecordBatchWriter`` (its producer-state setter
    asserts aiokafka's own builder)."""

    def __init__(self, batch_size: int, *, is_transactional: bool) -> None:
        self._builder = RecordBatchWriter(batch_size, is_transactional=is_transactional)
        self._relative_offset = 0
        self._buffer = None
        self._closed = False
        self._key_serializer = None
        self._value_serializer = None

    def _set_producer_state(
        self, producer_id: int, producer_epoch: int, base_sequence: int
    ) -> None:
        self._builder.set_producer_state(producer_id, producer_epoch, base_sequence)


def written_batch(producer: Any) -> BatchBuilder:
    """``producer.create_batch()``, on a ``RecordBatchWriter`` where it writes the same
    bytes (no compression, no serializers); else aiokafka's."""
    accumulator = producer._message_accumulator
    if (
        accumulator._compression_type != 0
        or producer._key_serializer is not None
        or producer._value_serializer is not None
    ):
        return producer.create_batch()
    transactions = accumulator._txn_manager
    return WrittenBatch(
        accumulator._batch_size,
        is_transactional=transactions is not None and transactions.transactional_id is not None,
    )


def crc_ok(data: bytes, start: int) -> bool | None:
    """Whether the v2 batch at ``data[start:]`` has the CRC-32C it carries; None for an
    older batch (magic 0 or 1: a CRC-32 of each message, aiokafka's check)."""
    if data[start + _MAGIC_AT] != 2:
        return None
    (length,) = _LENGTH.unpack_from(data, start + 8)
    (stored,) = _CRC.unpack_from(data, start + _CRC_AT)
    return crc32c(data[start + _CRC_FROM : start + _AFTER_LENGTH + length]) == stored


def batch_size_at(data: bytes, start: int) -> int:
    """The size of the batch at ``data[start:]`` (its length field and what precedes it)."""
    return _AFTER_LENGTH + _LENGTH.unpack_from(data, start + 8)[0]


class FetchedBytes:
    """aiokafka's ``MemoryRecords`` of a fetch's bytes, the bytes kept (``data``) for
    ``crc_ok``: the same batches, in turn; ``position`` is where the next one starts."""

    __slots__ = ("data", "position", "records")

    def __init__(self, data: bytes) -> None:
        self.records = MemoryRecords(data)
        self.data = data if type(data) is bytes else bytes(data)  # what crc_ok's CRC reads
        self.position = 0

    def size_in_bytes(self) -> int:
        return self.records.size_in_bytes()

    def has_next(self) -> bool:
        return self.records.has_next()

    def next_batch(self) -> Any:
        batch = self.records.next_batch()
        if batch is not None:
            self.position += batch_size_at(self.data, self.position)
        return batch
