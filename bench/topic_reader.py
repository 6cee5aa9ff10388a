"""A topic read from its start in the background, each poll handed to a callback with the
time it arrived (so arrivals are stamped when they arrive, also while the bench is busy)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.common.settings import KafkaSettings

#: (records of one poll by partition, arrival time) -> None
OnPoll = Callable[[Mapping[TopicPartition, Sequence[Any]], float], None]


class BackgroundTopicReader:
    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        on_poll: OnPoll,
        *,
        timeout_ms: int = 50,
        max_records: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.kafka = kafka
        self.topic = topic
        self._on_poll = on_poll
        self._timeout_ms = timeout_ms
        self._max_records = max_records
        self._clock = clock
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            self.topic,
            **self.kafka.client_options(),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.consumer:
            await self.consumer.stop()

    async def _read(self) -> None:
        assert self.consumer is not None
        while True:
            batch = await self.consumer.getmany(
                timeout_ms=self._timeout_ms, max_records=self._max_records
            )
            self._on_poll(batch, self._clock())
