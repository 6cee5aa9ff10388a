"""Instructions of the consumer runner's loop a poll: its own work and the decode.

``ConsumerRunner.run`` over polls of ``--batch`` of the router's interactions
(``bench.interaction_batch_decode.records``: chats and mails as chat_ingest encodes
them) from a stand-in for aiokafka's consumer (``getmany`` hands over the next poll,
``commit`` returns), into a batch handler that awaits twice as the router's routing
does (its read and its commit hop to the database thread; here ``asyncio.sleep(0)``:
no thread). What is counted is the runner's own work and the decode (until stop 36 also
the read-ahead's task and turns, removed then: stop 35 measured +1.3 K instructions an
interaction with it). Under callgrind only the polls after ``WARM`` are instrumented::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/rl.out .venv/bin/python -m bench.runner_loop_callgrind \\
        --polls 6
    (instructions a poll: the difference of two sizes, e.g. 6 and 3 polls, / 3)

Threads and the GIL are not in it: valgrind runs one thread at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from bench.interaction_batch_decode import records as encoded_records
from bench.notify_instructions import callgrind_instrumentation
from libs.common.gc_tuning import tune_for_polls
from libs.common.kafka import consumer as consumer_module
from libs.common.kafka.consumer import ConsumerRunner, Delivery
from libs.common.settings import KafkaSettings

WARM = 2  # polls before the window: validators' and the loop's caches
TOPIC = "bench.interactions"


class StandInConsumer:
    """What ``ConsumerRunner.run`` calls on aiokafka's consumer: polls from a list."""

    polls: list[dict[TopicPartition, list[ConsumerRecord]]] = []
    on_poll: Any = None  # called with the poll's number before it is handed over

    def __init__(self, *_topics: str, **_options: object) -> None:
        self._polls = iter(self.polls)
        self._numbers = itertools.count()

    def subscribe(self, *_args: object, **_kwargs: object) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def commit(self, _offsets: object) -> None:
        return None

    async def getmany(self, **_limits: object) -> dict[TopicPartition, list[ConsumerRecord]]:
        type(self).on_poll(next(self._numbers))
        return next(self._polls, {})


def polls(count: int, batch: int) -> list[dict[TopicPartition, list[ConsumerRecord]]]:
    tp = TopicPartition(TOPIC, 0)
    out = []
    records = encoded_records(batch)  # the same records each poll, at growing offsets
    for n in range(count):
        out.append(
            {
                tp: [
                    ConsumerRecord(
                        TOPIC, 0, n * batch + i, 0, 0, None, value, None, 0, len(value), headers
                    )
                    for i, (headers, value) in enumerate(records)
                ]
            }
        )
    return out


async def run(count: int, batch: int, window: bool) -> int:
    handled = 0

    async def whole_poll(deliveries: list[Delivery]) -> None:
        nonlocal handled
        await asyncio.sleep(0)  # the routing's read hop
        await asyncio.sleep(0)  # its commit hop
        handled += len(deliveries)

    async def single(_delivery: Delivery) -> None:
        raise AssertionError("every poll goes to the batch handler")

    StandInConsumer.polls = polls(WARM + count, batch)
    runner = ConsumerRunner(
        KafkaSettings(),
        topics=[TOPIC],
        group_id="bench",
        stage="bench",
        handler=single,
        batch_handler=whole_poll,
        producer=None,  # type: ignore[arg-type]  # nothing is dead-lettered
        max_batch=batch,
        idle_fetch=False,
        commit_interval_s=0.0,
    )

    def on_poll(number: int) -> None:
        # the loop takes poll n when n - 1 is handled
        if window and number == WARM:
            callgrind_instrumentation(True)
        if number == WARM + count:
            if window:
                callgrind_instrumentation(False)
            runner.stop()

    StandInConsumer.on_poll = staticmethod(on_poll)
    consumer_module.AIOKafkaConsumer = StandInConsumer  # type: ignore[misc,assignment]
    # the router's collector settings; the heap so far (imports, the polls) frozen: a
    # whole-heap collection in one size's window would move the difference by millions
    tune_for_polls()
    gc.collect()
    gc.freeze()
    await runner.run()
    return handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--polls", type=int, default=6, help="polls counted")
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--no-window", action="store_true", help="not under valgrind")
    args = parser.parse_args()
    handled = asyncio.run(run(args.polls, args.batch, not args.no_window))
    print(
        {
            "polls": args.polls,
            "batch": args.batch,
            "handled": handled,
        }
    )


if __name__ == "__main__":
    main()
