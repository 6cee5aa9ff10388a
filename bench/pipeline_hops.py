"""Where a pipeline POST's latency goes: three hops from Kafka's record timestamps.

``bench.pipeline`` measures POST due → agent mail received. The run's own topics hold
two more instants per visitor: the interaction record chat_ingest produced and the
``ConversationAssigned`` record the router's relay produced (the event the agent's
mail is made from). Their timestamps are the producers' clocks at append (CreateTime,
epoch ms; the same machine's clock as the generator's due times and the sink's
arrivals), so a POST's latency splits into:

- **ingest**: due → the interaction appended to chat_ingest's producer batch
  (the generator's lag, the HTTP server, the request's handling);
- **route**: → the assignment appended to the relay's batch (chat_ingest's linger
  and produce request, the broker, the router's fetch wait, polls queued before it,
  the routing and its commit, the relay's wake-up);
- **notify**: → the mail received by the sink (the relay's produce request, the
  broker, the notifier's fetch wait, its polls and the SMTP exchange).

Timestamps have millisecond resolution; the hops are read after the run (never
during a measured phase).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import latency_summary_ms
from libs.common.events.routing import ConversationAssigned
from libs.common.settings import KafkaSettings

HOPS = ("ingest", "route", "notify")
_ASSIGNED = ConversationAssigned.ce_type.encode()


def visitor_pattern(run: str) -> re.Pattern[bytes]:
    """The visitor's run-unique name (``bench.pipeline.webchat_request``) in a record."""
    return re.compile(rb"pb" + re.escape(run.encode()) + rb"x(\d+)")


def first_times(
    records: Iterable[tuple[int, list[tuple[str, bytes]], bytes]],
    run: str,
    ce_type: bytes | None = None,
) -> dict[int, float]:
    """seq → the earliest timestamp (epoch s) of a record naming visitor ``run``-seq;
    ``records``: (timestamp ms, headers, value); ``ce_type``: only records of that type."""
    pattern = visitor_pattern(run)
    times: dict[int, float] = {}
    for timestamp_ms, headers, value in records:
        if ce_type is not None and (dict(headers).get("ce_type") != ce_type):
            continue
        found = pattern.search(value)
        if found is None:
            continue
        seq = int(found.group(1))
        at = timestamp_ms / 1000
        if at < times.get(seq, at + 1):
            times[seq] = at
    return times


def hop_latencies(
    due: Mapping[int, float],
    ingested: Mapping[int, float],
    assigned: Mapping[int, float],
    received: Mapping[int, float],
) -> dict[str, Any]:
    """p50/p99 of each hop over the POSTs with all four instants, how many had them, and
    ``slowest_1pct``: each hop's mean over the 1 % of those POSTs slowest end to end (what
    makes the p99: the p99s of the hops need not fall on the same POSTs)."""
    complete = [s for s in due if s in ingested and s in assigned and s in received]
    hops = {
        "ingest": [ingested[s] - due[s] for s in complete],
        "route": [assigned[s] - ingested[s] for s in complete],
        "notify": [received[s] - assigned[s] for s in complete],
    }
    result: dict[str, Any] = {name: latency_summary_ms(hops[name]) for name in HOPS}
    slowest = sorted(range(len(complete)), key=lambda i: received[complete[i]] - due[complete[i]])
    slowest = slowest[len(slowest) - max(1, len(slowest) // 100) :] if slowest else []
    result["slowest_1pct"] = {
        name: round(1000 * sum(hops[name][i] for i in slowest) / len(slowest), 1)
        for name in HOPS
        if slowest
    }
    result["posts"] = len(complete)
    result["of"] = len(due)
    return result


async def read_topic(
    kafka: KafkaSettings, topic: str
) -> list[tuple[int, list[tuple[str, bytes]], bytes]]:
    """Every record of ``topic`` up to its end offsets now: (timestamp ms, headers, value)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        records: list[tuple[int, list[tuple[str, bytes]], bytes]] = []
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000, max_records=10_000)
            for tp, polled in batch.items():
                records.extend((r.timestamp, list(r.headers), r.value or b"") for r in polled)
                if polled and polled[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        return records
    finally:
        await consumer.stop()


def phase_hops(
    kafka: KafkaSettings, run: str, phases: list[tuple[Mapping[int, float], Mapping[int, float]]]
) -> list[dict[str, Any]]:
    """Per phase (its POSTs' due times, its mails' arrivals): ``hop_latencies``."""

    async def read() -> tuple[list[Any], list[Any]]:
        return (
            await read_topic(kafka, kafka.topics.interactions),
            await read_topic(kafka, kafka.topics.routing),
        )

    interactions, routing = asyncio.run(read())
    ingested = first_times(interactions, run)
    assigned = first_times(routing, run, _ASSIGNED)
    return [hop_latencies(due, ingested, assigned, received) for due, received in phases]


def hops_section(runs: list[dict[str, Any]]) -> list[str]:
    """Markdown: per pipeline phase, each hop's p50 / p99 and its mean over the slowest 1 %."""
    measured = [r for r in runs if isinstance(r.get("hops"), dict) and "ingest" in r["hops"]]
    if not measured:
        return ["(the pipeline's phases have no hops in this run)"]
    out = [
        "Each phase's POSTs split by the record timestamps on the run's topics "
        "(`bench/pipeline_hops.py`; the producers' clocks at append, ms): **ingest** — the "
        "POST's due time to its interaction appended by chat_ingest; **route** — to the "
        "`ConversationAssigned` appended by the router's relay (chat_ingest's linger and "
        "produce request, the router's fetch wait, polls queued before it, routing, commit, "
        "the relay's wake-up); **notify** — to the mail received by the SMTP sink (the "
        "relay's produce request, the notifier's fetch wait, its polls, SMTP). The slowest "
        "1 % column is each hop's mean over the POSTs slowest end to end: where the p99 "
        "comes from.",
        "",
        "| phase | POSTs | end to end p50 / p99 | ingest p50 / p99 | route p50 / p99 "
        "| notify p50 / p99 | slowest 1 %: ingest / route / notify |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in measured:
        hops = r["hops"]
        slow = hops.get("slowest_1pct") or {}
        cells = [
            f"{_ms(r['latency'], 'p50_ms')} / {_ms(r['latency'], 'p99_ms')}",
            *(f"{_ms(hops[h], 'p50_ms')} / {_ms(hops[h], 'p99_ms')}" for h in HOPS),
            " / ".join(f"{slow[h]:,.0f}" if h in slow else "—" for h in HOPS),
        ]
        phase = f"{r['rate_per_s']:g}/s for {r['seconds']:g} s"
        out.append(f"| {phase} | {hops['posts']:,} of {hops['of']:,} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("All figures in ms.")
    return out


def _ms(summary: Mapping[str, Any], key: str) -> str:
    value = summary.get(key)
    return f"{value:,.0f}" if isinstance(value, int | float) and value == value else "—"
