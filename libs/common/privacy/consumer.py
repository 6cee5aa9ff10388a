"""A service's consumer of ``support.privacy.v1``: each request to its eraser.

A record that is not an erasure request, or one hashed under another
``PRIVACY_HASH_KEY``, is a dead letter (no retry fixes it; an operator does);
anything else is retried by the runner. The eraser is idempotent, so
redelivery is harmless.
"""

from __future__ import annotations

from libs.common.events.privacy import ContactErased
from libs.common.kafka.consumer import ConsumerRunner, Delivery, PermanentError
from libs.common.kafka.producer import EventProducer
from libs.common.privacy.erasure import Eraser, WrongHashKey
from libs.common.settings import KafkaSettings


def erasure_consumer(
    kafka: KafkaSettings, *, group_id: str, stage: str, producer: EventProducer, eraser: Eraser
) -> ConsumerRunner:
    async def handle(delivery: Delivery) -> None:
        assert delivery.event is not None
        request = delivery.event.data
        if not isinstance(request, ContactErased):
            raise PermanentError(f"{delivery.event.type} is not an erasure request")
        try:
            await eraser.erase(request)
        except WrongHashKey as exc:  # no retry fixes a key mismatch: an operator must
            raise PermanentError(str(exc)) from exc

    return ConsumerRunner(
        kafka,
        topics=[kafka.topics.privacy],
        group_id=group_id,
        stage=stage,
        handler=handle,
        producer=producer,
        sparse_topic=True,  # erasure requests are rare: no batch to wait for
    )
