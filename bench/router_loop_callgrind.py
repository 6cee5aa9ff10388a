"""Instructions of the router's whole loop per routed interaction (SQLite), under callgrind:
fetch, decode, ``route_batch``, the relay's round and produce, the offset commits.

The real ``RouterRuntime`` (store, relay, its producer) on a SQLite store in a scratch
folder, and the interactions consumer built by ``services.router.consumer.build_consumer``
as the runtime builds it, on topics of its own on the broker of ``KAFKA_BOOTSTRAP_SERVERS``
(start your own: ``omnidesk kafka start`` with ``OMNIDESK_KAFKA_PORT``), in an event loop
of uvloop's, as the service runs under uvicorn. The scheduler and the two other consumers
(outcomes, assistant) are not run: their work is by the clock, not by the interaction.

1. warm-up: ``--warm`` interactions of ``bench.router_poll_cpu.Traffic`` (the poll benches'
   mix, earlier customers coming back) published and routed, every routed event relayed;
2. the consumer's partitions paused, the measured backlog (``--count`` interactions of the
   same traffic, encoded as the ingest services do) published and acknowledged;
3. callgrind's instrumentation switched on (``callgrind_instrumentation``), the partitions
   resumed; switched off once the consumer has handled the backlog and the relay has
   published every row those polls committed (nothing handed over is left).

Run two sizes and take the difference, so that the window's fixed costs (the switch, the
first idle-mode fetch, the last round) cancel; every thread in a file of its own::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \\
        --callgrind-out-file=/tmp/loop-1600.out \\
        .venv/bin/python -m bench.router_loop_callgrind --count 1600 --dilate 40
    ... --callgrind-out-file=/tmp/loop-800.out ... --count 800 --dilate 40
    python -m bench.router_loop_callgrind --report /tmp/loop-1600.out /tmp/loop-800.out \\
        --difference 800

``--report`` prints each thread's instructions (and the SQLite thread's part with the GIL
released, as ``bench.router_db_thread_callgrind``) and, for the main thread, the functions
whose inclusive instructions differ most between the two runs, per interaction
(``callgrind_annotate --inclusive=yes``): where the loop's instructions go. Compare with
``bench.router_poll_callgrind`` (``route_batch`` alone, the same traffic) for the part
outside the decision.

Stop 35 (PYTHONHASHSEED=0, 1,600 - 800 interactions, ``--dilate 40``, 00e4cb7): the main
thread 1,034.5-1,075.8 K instructions an interaction (runs of different minutes; the
relay's rounds, 11-19 a window, move it), the SQLite thread 335 K (85 K of it holding
the GIL). ``bench.router_poll_callgrind`` (``route_batch`` alone, 3 - 1 polls, the same
minutes): 756.8 K; so ~280-320 K is the loop around it, of which the interactions'
decode 102.7 K (``bench.interaction_decode_callgrind``, 800 - 400) and the relay's rounds
~109 K (``bench.relay_callgrind``, 3 - 1 polls); the rest is aiokafka's fetch and the
records it builds, the runner, the commits, the marks and the loop's turns. In C under
the relay's: aiokafka's Cython record builder ~38 K (append 26 K, build 12 K), its
CRC-32C 16.8 K (the fetched batches' check 4.6 K), memcpy 33-40 K.

Stop 38 (the same flags, base 6863f81 and 1864a3f started together at 02:46 UTC, load
~38): the main thread 979.9 and 978.3 K an interaction (relay rounds 46/29 and 44/29,
commits 5/3 and 5/4), where the parts' own benches add up to ~-5 K (fetched records
-4.1, the decode's isinstance -0.4, the runner's deliveries -0.4); the same tree at
02:16 and 02:27 gave 959.1 and 918.3. So this bench does not resolve a cut below
~20-40 K: measure a part with its own bench (``bench.fetched_records_callgrind``,
``bench.runner_loop_callgrind``, ``bench.relay_callgrind``) and use this one for where
the instructions go.

Stop 40 (the same flags, base 83bf36a and 5c97ddd started together at 10:10 UTC, load
5-13, the same windows: 12 / 8 relay rounds, 3 / 2 commits, 3 / 3 marks): the main thread
806.9 -> 793.8 K an interaction (the relay's batches by ``record_batch.RecordBatchWriter``,
the fetched batches' CRC by ``record_batch.crc_ok``): aiokafka's crc32c 16.8 -> 0 and
google_crc32c's 0.7, memcpy 35.7 -> 26.0, the interpreter +9.6 (the writer's and the
written headers' Python). The parts' own benches: ``bench.relay_callgrind`` 97.3 -> 83.6 K,
``bench.fetched_records_callgrind`` 18.8 -> 15.8 K a record.

``--no-callgrind --count 4000`` (natively, load 5-14): 500-1,500 of the window's 8,800
relayed rows were read back from the store (``rows read apart``: a round between a unit
of work's COMMIT and its hand-over); under callgrind the turns fall otherwise (0).

``--dilate D``: what the loop does by the clock (the offset commit at most every
``COMMIT_INTERVAL_S``, the relay's idle wake-up every ``relay_interval_s``, the SQLite mark
loop's ``MARK_INTERVAL_S``, the memory upkeep's interval, the consumer's session and the
producer's send timeouts) is stretched D times, so that under callgrind (20-50x slower)
such work comes about as often per interaction as in the service at full speed; the
window's count of polls, relay rounds, commits and marks is printed to check it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import re
import time
import uuid
from collections import defaultdict
from pathlib import Path

from bench.common import annotate_inclusive, bootstrap_servers, delete_run_topics, scratch_folder
from bench.notify_instructions import callgrind_instrumentation
from bench.router_db_thread_callgrind import report as thread_report
from bench.router_db_thread_callgrind import thread_files
from bench.router_poll_cpu import Traffic
from libs.common.cloudevents import CloudEvent
from libs.common.gc_tuning import tune_for_polls
from libs.common.kafka import consumer as consumer_module
from libs.common.kafka.admin import create_topics
from libs.common.kafka.producer import EventProducer
from libs.common.memory import glibc, tune_allocator
from libs.common.settings import KafkaSettings
from services.router import relay as relay_module
from services.router.runtime import RouterRuntime
from services.router.settings import RouterSettings
from tools.testing.system import run_topics

SOURCE = "omnidesk/chat-ingest"


@dataclasses.dataclass
class Window:
    """What the measured window did, counted by wrappers around the loop's steps."""

    target: int
    handled: int = 0
    polls: int = 0
    rounds: int = 0
    rows: int = 0
    commits: int = 0
    marks: int = 0
    #: rows the relay read from the store, not handed over (``OutboxRelay._rows_read_apart``)
    read_apart: int = 0
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    counting: bool = False

    def reset(self, target: int) -> None:
        self.target, self.handled, self.polls = target, 0, 0
        self.rounds = self.rows = self.commits = self.marks = self.read_apart = 0
        self.done = asyncio.Event()


def _watch(runtime: RouterRuntime, runner: consumer_module.ConsumerRunner, window: Window) -> None:
    """Wrappers counting the window's polls, relay rounds, commits and marks, and setting
    ``window.done`` once the backlog is handled and its rows relayed (one comparison a
    poll and a round: nothing per interaction)."""
    relay = runtime.relay
    assert relay is not None and runner._batch_handler is not None
    handler = runner._batch_handler

    async def batch_handler(deliveries: list[consumer_module.Delivery]) -> None:
        await handler(deliveries)
        window.handled += len(deliveries)
        window.polls += 1

    runner._batch_handler = batch_handler
    publish_pending = relay.publish_pending

    async def counted_round(limit: int | None = None) -> int:
        sent = await publish_pending(limit)
        window.rounds += 1
        window.rows += sent
        if window.handled >= window.target and not len(relay.committed):
            window.done.set()
        return sent

    relay.publish_pending = counted_round  # type: ignore[method-assign]
    commit = runner._commit

    async def counted_commit(only: set | None = None) -> None:  # type: ignore[type-arg]
        window.commits += 1
        await commit(only)

    runner._commit = counted_commit  # type: ignore[method-assign]
    mark = relay.mark_published

    async def counted_mark(*, stale_only: bool = False) -> int:
        window.marks += 1
        return await mark(stale_only=stale_only)

    relay.mark_published = counted_mark  # type: ignore[method-assign]
    read_apart = relay._rows_read_apart

    async def counted_read_apart(ids: list[int]) -> dict:  # type: ignore[type-arg]
        window.read_apart += len(ids)
        return await read_apart(ids)

    relay._rows_read_apart = counted_read_apart  # type: ignore[method-assign]


async def publish(producer: EventProducer, topic: str, traffic: Traffic, count: int) -> None:
    """``count`` interactions of ``traffic`` on ``topic``, keyed and encoded as the ingest
    services publish them."""
    for start in range(0, count, 500):
        events = [
            (
                CloudEvent(
                    id=incoming.event_id,
                    source=SOURCE,
                    type=incoming.interaction.event_type(),
                    data=incoming.interaction,
                ),
                incoming.interaction.customer_key,
            )
            for incoming in traffic.poll(min(500, count - start))
        ]
        await producer.publish_many(topic, events)


async def until(window: Window, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(window.done.wait(), timeout_s)
    except TimeoutError:
        raise SystemExit(
            f"not routed and relayed within {timeout_s:.0f} s: handled {window.handled} of "
            f"{window.target}, {window.rounds} relay rounds"
        ) from None


def _default(setting: str) -> float:
    return float(RouterSettings.model_fields[setting].default)


async def run(args: argparse.Namespace, kafka: KafkaSettings, folder: Path) -> Window:
    dilate = args.dilate
    settings = RouterSettings(
        state_dir=folder,
        database_url=f"sqlite+aiosqlite:///{folder}/router.db",
        kafka=kafka,
        dev_mode=False,
        consumer_group=f"rloop-{uuid.uuid4().hex[:8]}",
        relay_interval_s=min(60.0, _default("relay_interval_s") * dilate),
        memory_upkeep_interval_s=_default("memory_upkeep_interval_s") * dilate,
    )
    await create_topics(kafka)
    runtime = RouterRuntime(settings, run_consumer=False, run_scheduler=False)
    await runtime.start()
    assert runtime.ctx is not None and runtime.producer is not None and runtime.relay is not None
    assert runtime.engine is not None
    runtime.relay._mark_interval = relay_module.MARK_INTERVAL_S * dilate
    runner = runtime.interactions_consumer()  # as RouterRuntime.start builds it
    runner._commit_interval = consumer_module.COMMIT_INTERVAL_S * dilate
    runner._session_timeout_ms = 60_000  # valgrind's slowest stretches stay in the group
    runner._heartbeat_interval_ms = 10_000
    window = Window(target=args.warm)
    _watch(runtime, runner, window)
    stop = asyncio.Event()
    consuming = asyncio.create_task(runner.run(stop))
    traffic = Traffic()
    try:
        async with EventProducer(kafka, client_id="bench-ingest") as producer:
            await runner.started.wait()
            await publish(producer, kafka.topics.interactions, traffic, args.warm)
            await until(window, args.timeout)
            print(f"warm: {window.handled} routed in {window.polls} polls", flush=True)
            consumer = runner._consumer
            assert consumer is not None
            assigned = consumer.assignment()
            consumer.pause(*assigned)
            await publish(producer, kafka.topics.interactions, traffic, args.count)
            await asyncio.sleep(1.0)  # the last idle-mode fetch of the paused partitions ends
            window.reset(args.count)
            began = time.process_time()
            profiler = cProfile.Profile(time.thread_time) if args.profile else None
            if args.callgrind:
                callgrind_instrumentation(True)
            if profiler is not None:
                profiler.enable()
            consumer.resume(*assigned)
            try:
                await until(window, args.timeout)
            finally:
                if profiler is not None:
                    profiler.disable()
                if args.callgrind:
                    callgrind_instrumentation(False)
            if profiler is not None:
                profiler.dump_stats(args.profile)
            window_cpu = time.process_time() - began
            print(f"window CPU {window_cpu:.2f} s", flush=True)
    finally:
        stop.set()
        runner.stop()
        await consuming
        await runtime.stop()
    return window


def main(args: argparse.Namespace) -> None:
    import uvloop

    kafka = KafkaSettings(
        bootstrap_servers=bootstrap_servers(),
        topics=run_topics("rloop", partitions=args.partitions),
        send_timeout_s=min(600.0, 30.0 * args.dilate),
    )
    tune_allocator(glibc(), RouterSettings())  # as the service's __main__, before threads
    tune_for_polls()
    try:
        with scratch_folder("router-loop-") as folder:
            window = uvloop.run(run(args, kafka, folder))
    finally:
        delete_run_topics(kafka)
    print(
        f"window: {window.handled} interactions in {window.polls} polls; relay {window.rounds} "
        f"rounds, {window.rows} rows; {window.commits} offset commits, {window.marks} marks; "
        f"{window.read_apart} rows read apart"
    )


_LINE = re.compile(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$")


def function_costs(path: Path) -> dict[str, int]:
    """Inclusive instructions per function of one thread's callgrind file."""
    text = annotate_inclusive(path)
    costs: dict[str, int] = defaultdict(int)
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        name = match[2].strip()
        if "PROGRAM TOTALS" in name:
            costs["TOTAL"] = int(match[1].replace(",", ""))
        elif name and not name.startswith("file:"):
            costs[name] += int(match[1].replace(",", ""))
    return costs


def report(outs: list[Path], difference: int, top: int) -> None:
    thread_report(outs, difference)
    if len(outs) != 2 or not difference:
        return
    main_a, main_b = (thread_files(out)[0] for out in outs)
    a, b = function_costs(main_a), function_costs(main_b)
    print(f"main thread, inclusive K instructions an interaction ({main_a.name} - {main_b.name}):")
    rows = sorted(((a[k] - b.get(k, 0)) / difference / 1e3, k) for k in a)
    for per, name in sorted(rows, reverse=True)[:top]:
        print(f"  {per:9.1f}  {name[:150]}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=800, help="interactions measured")
    parser.add_argument("--warm", type=int, default=2800, help="interactions routed before")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--dilate", type=float, default=1.0, help="clock intervals x this")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument(
        "--no-callgrind",
        dest="callgrind",
        action="store_false",
        help="run without switching callgrind's window (a check of the harness)",
    )
    parser.add_argument(
        "--profile", type=Path, help="cProfile the window (no valgrind) into this file"
    )
    parser.add_argument("--report", nargs="+", type=Path, help="callgrind out files")
    parser.add_argument("--difference", type=int, default=0, help="interactions more in the 1st")
    parser.add_argument("--top", type=int, default=60, help="functions listed")
    return parser.parse_args()


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.report:
        report(parsed.report, parsed.difference, parsed.top)
    else:
        main(parsed)
