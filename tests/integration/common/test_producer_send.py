"""EventProducer.send / publish against the real broker: one record, acked before it returns.

``send`` appends to aiokafka's open batch itself when nothing needs waiting for
(``EventProducer._append_now``) and bounds the ack with a timer of its own; these
check that it does so — same partitions, same shared batches, same errors — and
that what aiokafka must wait for or refuse still goes through aiokafka.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.produce import ProduceRequest

from libs.common.kafka.producer import EventProducer, PublishError
from tests.helpers.kafka import read_topic

pytestmark = pytest.mark.integration


def _refuse_aiokafka_send(producer: EventProducer) -> None:
    """From now on only the direct append may publish: aiokafka's ``send`` fails."""

    async def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("aiokafka's send was used")

    assert producer._producer is not None
    producer._producer.send = refused  # type: ignore[method-assign]


async def _read(settings, topic: str, count: int) -> list[tuple[int, int, bytes, bytes]]:
    records = await asyncio.wait_for(read_topic(settings, topic, count), 20)
    return sorted((r.partition, r.offset, r.key, r.value) for r in records)


async def test_concurrent_sends_share_batches_and_land_where_the_default_partitioner_puts_them(
    kafka_topics,
):
    topic = kafka_topics.topics.interactions
    keys = [f"webchat:visitor-{n % 9}".encode() for n in range(90)]
    async with EventProducer(kafka_topics, client_id="t-send-direct") as producer:
        await producer.send(topic, b"warm", key=b"warm", headers=[])  # the topic's metadata
        _refuse_aiokafka_send(producer)
        acked = await asyncio.gather(
            *(
                producer.send(topic, b"v%d" % n, key=key, headers=[("n", b"%d" % n)])
                for n, key in enumerate(keys)
            )
        )
        partitions = sorted(producer._producer.client.cluster.partitions_for_topic(topic))
        # the loop _append_now makes the records' futures with and LingerWindow times with
        assert producer._producer._message_accumulator._loop is asyncio.get_running_loop()

    default = DefaultPartitioner()
    assert [meta.partition for meta in acked] == [
        default(key, partitions, partitions) for key in keys
    ]
    # sent together, they went out in shared batches: consecutive offsets per partition,
    # in the order sent (one key's records keep their order)
    by_partition: dict[int, list[int]] = defaultdict(list)
    for meta in acked:
        by_partition[meta.partition].append(meta.offset)
    for offsets in by_partition.values():
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))
    read = await _read(kafka_topics, topic, len(keys) + 1)
    placed = {(meta.partition, meta.offset): n for n, meta in enumerate(acked)}
    for partition, offset, key, value in read:
        if key == b"warm":
            continue
        n = placed[(partition, offset)]
        assert (key, value) == (keys[n], b"v%d" % n)


async def test_a_record_larger_than_a_request_is_refused_and_the_producer_goes_on(kafka_topics):
    topic = kafka_topics.topics.interactions
    async with EventProducer(
        kafka_topics, client_id="t-send-large", max_request_size=20_000
    ) as producer:
        await producer.send(topic, b"warm", key=b"k", headers=[])
        with pytest.raises(PublishError, match="MessageSizeTooLargeError"):
            await producer.send(topic, b"x" * 50_000, key=b"k", headers=[])
        meta = await producer.send(topic, b"small", key=b"k", headers=[])
    assert meta.offset >= 1


async def test_an_ack_not_in_time_raises_publish_error(kafka_topics):
    topic = kafka_topics.topics.interactions
    async with EventProducer(kafka_topics, client_id="t-send-late") as producer:
        await producer.send(topic, b"warm", key=b"k", headers=[])
        producer._settings = kafka_topics.model_copy(update={"send_timeout_s": 1e-9})
        _refuse_aiokafka_send(producer)  # the direct append's timer, not asyncio.timeout
        with pytest.raises(PublishError, match="TimeoutError") as raised:
            await producer.send(topic, b"late", key=b"k", headers=[])
    assert isinstance(raised.value.__cause__, TimeoutError)


@pytest.mark.parametrize("linger_ms", [0, 2, 50])
async def test_a_lone_record_is_sent_when_its_linger_is_up(kafka_topics, linger_ms):
    """A new batch does not wake aiokafka's sender at once (``LingerWindow``): the timer
    at the end of its linger does, or, without a linger, the append itself."""
    topic = kafka_topics.topics.interactions
    settings = kafka_topics.model_copy(update={"linger_ms": linger_ms})
    async with EventProducer(settings, client_id=f"t-send-linger-{linger_ms}") as producer:
        await producer.send(topic, b"warm", key=b"k", headers=[])
        _refuse_aiokafka_send(producer)
        for n in range(3):  # one at a time: each record opens a batch of its own
            meta = await producer.send(topic, b"%d" % n, key=b"k%d" % n, headers=[])
            assert meta.offset >= 0


def _count_produce_requests(producer: EventProducer) -> list[int]:
    """From now on, the number of partitions (batches) in each produce request sent."""
    assert producer._producer is not None
    client = producer._producer.client
    send = client.send
    sizes: list[int] = []

    async def counted(node_id, request, *args, **kwargs):
        if isinstance(request, ProduceRequest):
            sizes.append(sum(len(partitions) for _, partitions in request._topics))
        return await send(node_id, request, *args, **kwargs)

    client.send = counted  # type: ignore[method-assign]
    return sizes


async def test_batches_opened_while_one_lingers_go_out_with_it_in_one_produce_request(
    kafka_topics,
):
    """Batches of several partitions opened within one linger go out together, in one
    produce request, every record acked and on the topic once (the linger is long so
    that every append falls inside it; ``tests/unit/common/test_linger_window.py``
    checks the window's clock itself, which appends this close together do not need)."""
    topic = kafka_topics.topics.interactions
    settings = kafka_topics.model_copy(update={"linger_ms": 1000})
    keys = [f"webchat:visitor-{n}".encode() for n in range(24)]
    async with EventProducer(settings, client_id="t-send-window") as producer:
        await producer.send(topic, b"warm", key=b"warm", headers=[])
        _refuse_aiokafka_send(producer)
        requests = _count_produce_requests(producer)
        acked = await asyncio.gather(
            *(producer.send(topic, b"w%d" % n, key=key, headers=[]) for n, key in enumerate(keys))
        )
    partitions = {meta.partition for meta in acked}
    assert len(partitions) > 1  # batches of several partitions …
    assert requests == [len(partitions)]  # … all in one produce request
    read = await _read(kafka_topics, topic, len(keys) + 1)
    assert sorted((key, value) for _, _, key, value in read if key != b"warm") == sorted(
        (key, b"w%d" % n) for n, key in enumerate(keys)
    )
