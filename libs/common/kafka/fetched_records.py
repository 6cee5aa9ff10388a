"""The records of a fetched partition, unpacked without aiokafka's frames a record.

aiokafka (0.14) turns each record of a fetch response into a ``ConsumerRecord`` inside
``PartitionRecords._unpack_records``, a generator that the fetcher's ``FetchResult.getall``
drives through ``PartitionRecords.__next__`` (a Python frame a record); each record then
goes through ``_consumer_record`` (another frame: the deserializer checks, the sizes) and
the dataclass's generated ``__init__`` (a third, eleven attribute stores). The router reads
one such record an interaction it routes.

``PlainPartitionRecords`` is the same class with a plain path for what every consumer of
this project reads (read_uncommitted, no deserializers): one generator over the batches
that makes each ``ConsumerRecord`` with ``object.__new__`` and its ``__dict__`` at once,
and hands ``getall``'s loop that generator itself (``__iter__``), not ``self``. The same
records (type, fields, equality), the same ``next_fetch_offset`` at every record handed
out, the same CRC check, the control batches skipped as before
(``tests/unit/common/test_fetched_records.py``: hypothesis against aiokafka's class).
Callgrind (``bench.fetched_records_callgrind``, the router's interactions, 800 - 400
records): 23.0 -> 18.8 K instructions a record; the rest is aiokafka's Cython reader and
its CRC check. Anything else (read_committed's aborted transactions, deserializers) takes
aiokafka's own generator.

The batch's CRC-32C (stop 40): aiokafka's ``validate_crc`` is a table-driven crc32c, ~4.6 K
instructions a record of ~1.3 KB; the plain path checks a v2 batch with
``record_batch.crc_ok`` instead (Google's C CRC-32C over the fetch's bytes, the same
verdict), from the bytes ``record_batch.FetchedBytes`` keeps where aiokafka's Cython
``MemoryRecords`` does not expose them; older batches (magic 0/1) by aiokafka's check.
Callgrind (the same bench): 18.8 -> 15.8 K instructions a record.

aiokafka's fetcher makes its ``PartitionRecords`` and ``MemoryRecords`` by the module's
global names (``Fetcher._proc_fetch_request``); ``install`` points those names at this
class and at ``FetchedBytes``, once, for every consumer of the process (all of them this
project's ``ConsumerRunner``s or readers of plain bytes). Where the attributes this relies
on are missing (another aiokafka), ``install`` leaves aiokafka's classes in place and says
so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from aiokafka import ConsumerRecord
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.errors import CorruptRecordException

from libs.common.kafka.record_batch import FetchedBytes, crc_ok

log = logging.getLogger(__name__)

#: aiokafka's own class, kept for ``install``'s check and the tests
AiokafkaPartitionRecords = aiokafka_fetcher.PartitionRecords
AiokafkaMemoryRecords = aiokafka_fetcher.MemoryRecords
READ_UNCOMMITTED = aiokafka_fetcher.READ_UNCOMMITTED

#: what the plain path reads of aiokafka's instance (set by its ``__init__``)
_RELIED_ON = (
    "_tp",
    "_records",
    "_key_deserializer",
    "_value_deserializer",
    "_check_crcs",
    "_isolation_level",
    "next_fetch_offset",
)


class PlainPartitionRecords(AiokafkaPartitionRecords):  # type: ignore[misc]
    """aiokafka's ``PartitionRecords`` with a plain path (see the module doc)."""

    def __iter__(self) -> Iterator[ConsumerRecord]:
        # ``getall``'s ``for msg in partition_records`` runs over the generator itself: no
        # ``__next__`` frame a record. The generator is the one ``__next__`` (``getone``)
        # advances, so the two ways of reading share one position.
        iterator = self._records_iterator
        return iterator if iterator is not None else iter(())

    def _unpack_records(self) -> Iterator[ConsumerRecord]:
        if (
            self._isolation_level != READ_UNCOMMITTED
            or self._key_deserializer is not None
            or self._value_deserializer is not None
        ):
            return super()._unpack_records()
        return self._plain_records()

    def _plain_records(self) -> Iterator[ConsumerRecord]:
        """aiokafka's ``_unpack_records`` for read_uncommitted and no deserializers."""
        tp = self._tp
        topic, partition = tp.topic, tp.partition
        records = self._records
        check_crcs = self._check_crcs
        new = object.__new__
        record_class = ConsumerRecord
        fetched = records if type(records) is FetchedBytes else None
        while records.has_next():
            start = 0 if fetched is None else fetched.position
            batch = records.next_batch()
            if check_crcs:
                valid = None if fetched is None else crc_ok(fetched.data, start)
                if not (batch.validate_crc() if valid is None else valid):
                    raise CorruptRecordException(f"Invalid CRC - {tp}")
            if batch.is_control_batch:
                self.next_fetch_offset = batch.next_offset
                continue
            position = self.next_fetch_offset
            for record in batch:
                offset = record.offset
                if offset < position:  # a compacted or already read part of the batch
                    continue
                key, value = record.key, record.value
                made = new(record_class)
                # stored in ConsumerRecord's field order, as its __init__ stores them: the
                # instance's values inline, in the keys all its records share (a dict of
                # its own, built at once, cost ~2.9 K instructions a record more)
                made.topic = topic
                made.partition = partition
                made.offset = offset
                made.timestamp = record.timestamp
                made.timestamp_type = record.timestamp_type
                made.key = key
                made.value = value
                made.checksum = record.checksum
                made.serialized_key_size = -1 if key is None else len(key)
                made.serialized_value_size = -1 if value is None else len(value)
                made.headers = tuple(record.headers)
                position = self.next_fetch_offset = offset + 1
                yield made
            self.next_fetch_offset = batch.next_offset


def relied_on_attributes_missing(instance: object) -> list[str]:
    """The attributes of aiokafka's ``PartitionRecords`` the plain path reads that
    ``instance`` lacks (none with aiokafka 0.14)."""
    return [name for name in _RELIED_ON if not hasattr(instance, name)]


def install() -> bool:
    """Point aiokafka's fetcher at ``PlainPartitionRecords`` (idempotent); False when this
    aiokafka does not look like the one it was written against (left as it is)."""
    current = getattr(aiokafka_fetcher, "PartitionRecords", None)
    if current is PlainPartitionRecords:
        return True
    if current is not AiokafkaPartitionRecords or not hasattr(current, "_unpack_records"):
        log.warning("aiokafka's PartitionRecords is not the expected class; left in place")
        return False
    if getattr(aiokafka_fetcher, "MemoryRecords", None) is AiokafkaMemoryRecords:
        aiokafka_fetcher.MemoryRecords = FetchedBytes  # the fetch's bytes kept: crc_ok's
    aiokafka_fetcher.PartitionRecords = PlainPartitionRecords
    return True
