"""Instructions a fetched record costs, from a fetch response's bytes to the
``ConsumerRecord`` the runner gets: aiokafka's ``PartitionRecords`` against
``libs.common.kafka.fetched_records.PlainPartitionRecords``.

The records are the router's interactions as chat_ingest encodes them
(``bench.interaction_batch_decode.records``), written by aiokafka's record batch builder
in batches of ``--per-batch`` (a producer's batch for one partition: the loop bench's
backlog of 500-record ``publish_many`` calls over six partitions makes ~83), one after
another as a fetch response carries them; read the way the fetcher's
``FetchResult.getall`` reads them (its ``for`` loop over the partition's records), the
CRC check included (aiokafka's default). Only the reading is instrumented::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/f.out .venv/bin/python -m bench.fetched_records_callgrind \\
        --way plain --count 800
    (instructions a record: the difference of two counts, e.g. 800 and 400, / 400)

Stop 38 (PYTHONHASHSEED=0, 800 - 400 records, batches of 80), K instructions a record:
aiokafka 23.0, plain 18.8 (-4.1). What is left is aiokafka's Cython: ``_read_msg`` 8.5 K
(the record object, its key, value and seven headers' bytes and names), the batch's
CRC-32C 4.6 K (a table-driven crc32c over ~1.3 KB a record), the headers' tuple 0.8 K.

``--way``: ``plain`` reads as the service does since stop 40 (``fetched_records.install``:
the fetch's bytes kept by ``record_batch.FetchedBytes``, a v2 batch's CRC-32C checked by
``google_crc32c``); ``plain-table-crc`` the plain path on aiokafka's ``MemoryRecords``
(its table-driven check, stop 38's ``plain``). Stop 40 (PYTHONHASHSEED=0, 800 - 400,
batches of 80; base 83bf36a's ``plain`` run beside): 18.8 -> 15.8 K a record
(``plain-table-crc`` 19.4); of the CRC-32C 4.6 K -> 0.2 K, and each batch's checked range
is sliced out of the fetch's bytes (a copy, memcpy +1.2 K a record as callgrind counts
``rep movsb``: a byte an instruction).
"""

from __future__ import annotations

import argparse
import gc
import struct

from aiokafka import TopicPartition
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from bench.interaction_batch_decode import records as interaction_records
from bench.notify_instructions import callgrind_instrumentation
from libs.common.kafka.fetched_records import (
    READ_UNCOMMITTED,
    AiokafkaPartitionRecords,
    PlainPartitionRecords,
)
from libs.common.kafka.record_batch import FetchedBytes

TP = TopicPartition("bench.interactions", 0)
#: the partition's records class, and the fetch's records class under it
WAYS = {
    "aiokafka": (AiokafkaPartitionRecords, MemoryRecords),
    # the plain path on aiokafka's MemoryRecords: the CRC checked by its validate_crc
    "plain-table-crc": (PlainPartitionRecords, MemoryRecords),
    # as ``fetched_records.install`` sets the fetcher: the CRC checked by ``crc_ok``
    "plain": (PlainPartitionRecords, FetchedBytes),
}


def fetched(count: int, per_batch: int) -> bytes:
    """``count`` interactions in record batches of ``per_batch``, keyed by customer."""
    records = interaction_records(count)
    data = bytearray()
    for start in range(0, count, per_batch):
        builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 10**8)
        for delta, (headers, value) in enumerate(records[start : start + per_batch]):
            key = b"customer-%d" % ((start + delta) % 97)
            builder.append(delta, 1_700_000_000_000, key, value, list(headers))
        built = builder.build()
        struct.pack_into(">q", built, 0, start)  # the base offset (outside the CRC)
        data += built
    return bytes(data)


def read(way: tuple[type, type], data: bytes) -> list:
    cls, memory = way
    partition_records = cls(TP, memory(data), [], 0, None, None, True, READ_UNCOMMITTED)
    return [record for record in partition_records]  # getall's ``for`` loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--way", choices=sorted(WAYS), default="plain")
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--per-batch", type=int, default=80)
    args = parser.parse_args()
    way = WAYS[args.way]
    data = fetched(args.count, args.per_batch)
    read(way, fetched(2 * args.per_batch, args.per_batch))  # warm: the specialized bytecode
    gc.collect()
    gc.freeze()
    callgrind_instrumentation(True)
    records = read(way, data)
    callgrind_instrumentation(False)
    assert len(records) == args.count and records[-1].offset == args.count - 1
    print(f"{args.way}: {len(records)} records")


if __name__ == "__main__":
    main()
