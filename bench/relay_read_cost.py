"""The SQLite relay round's read of the unsent ids (``UnsentReader``): on the event loop's
thread (``LocalUnsentRead``) against the hop to a database thread (the kept pooled
connection), alternately, in one process.

A migrated SQLite store holds ``--rows`` pending outbox rows; each round reads the next
``--limit`` unsent ids leaving out the first ``--excluded`` (one run, as the relay's
published-but-unmarked rows). Per way, the best of ``--passes`` passes of ``--rounds``
rounds: CPU a round of the process (``time.process_time``: both threads) and of the event
loop's thread (``time.thread_time``), context switches a round (``getrusage``: the
process's voluntary and involuntary), and the wall time of a read while another task
holds the loop in slices of ``--busy-ms`` of CPU (as a poll's routing does between its
awaits): the hop waits for a slice to end before the loop sees its result.

    python -m bench.relay_read_cost [--rows 6000] [--excluded 1400] [--limit 150]

Measured when the loop's-thread read came in (2 repeats each, load ~7.5), loop's thread
against the hop: 150 read past 150 left out, the process's CPU a read 134-137 against
186-196 µs (the loop's thread 134-137 against 72-77: the statement runs on it), context
switches 0.07 against 2.4-2.6, a read behind 5 ms slices 0.12 against 15.1-15.9 ms;
150 past 1,400 left out 370-398 against 389-437 µs (the loop's thread 370-398 against
175-209), 0.13-0.18 against 2.8-3.0 switches, 0.35 against 13.5-16.0 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.unsent_ids_cost import outbox_store
from services.router.store.outbox import UnsentReader


def _switches() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


async def _busy(stop: asyncio.Event, slice_s: float) -> None:
    """Holds the loop ``slice_s`` of CPU at a time, yielding between slices."""
    while not stop.is_set():
        until = time.perf_counter() + slice_s
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0)


async def _one_way(
    reader: UnsentReader, left_out: set[int], args: argparse.Namespace, expected: list[int]
) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(args.passes):
        cpu, main, switches = time.process_time(), time.thread_time(), _switches()
        for _ in range(args.rounds):
            read = await reader.unsent_ids(limit=args.limit, excluding=left_out)
        figures = {
            "cpu_us_per_round": (time.process_time() - cpu) * 1e6 / args.rounds,
            "main_thread_cpu_us_per_round": (time.thread_time() - main) * 1e6 / args.rounds,
            "switches_per_round": (_switches() - switches) / args.rounds,
        }
        assert [row.id for row in read] == expected
        for key, value in figures.items():
            best[key] = min(best.get(key, value), value)
    stop = asyncio.Event()
    busy = asyncio.create_task(_busy(stop, args.busy_ms / 1000))
    waits = []
    for _ in range(args.busy_rounds):
        began = time.perf_counter()
        await reader.unsent_ids(limit=args.limit, excluding=left_out)
        waits.append((time.perf_counter() - began) * 1000)
    stop.set()
    await busy
    best["busy_loop_read_ms_p50"] = statistics.median(waits)
    return {key: round(value, 2) for key, value in best.items()}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="relay-read-") as folder:
        engine, _, ids = await outbox_store(Path(folder), args.rows)
        left_out = set(ids[: args.excluded])
        expected = ids[args.excluded : args.excluded + args.limit]
        on_loop, hop = UnsentReader(engine), UnsentReader(engine)
        assert hop._local is not None
        hop._local.usable = False  # as for a store not in WAL mode: the hop
        results: dict[str, list[dict[str, float]]] = {"loop_thread": [], "hop": []}
        for _ in range(args.repeats):  # alternately: the machine's load drifts
            results["loop_thread"].append(await _one_way(on_loop, left_out, args, expected))
            results["hop"].append(await _one_way(hop, left_out, args, expected))
        await on_loop.close()
        await hop.close()
        await engine.dispose()
    return {
        "rows": args.rows,
        "excluded": args.excluded,
        "limit": args.limit,
        "busy_ms": args.busy_ms,
        **results,
        "load_average_1m": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6_000)
    parser.add_argument("--excluded", type=int, default=1_400)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--busy-ms", type=float, default=5.0)
    parser.add_argument("--busy-rounds", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args)), indent=1))


if __name__ == "__main__":
    main()
