"""The router's fixed cost per poll and per round in a running system: counts and CPU split.

Installed into the router process of another bench (``bench.pipeline``) through a
``sitecustomize`` on ``PYTHONPATH``: ``python -m bench.router_poll_split -- <bench args>``
runs ``python -m bench.pipeline <bench args>`` with it. In the process whose command line
is ``-m services.router`` it

- counts, by wrapping methods (the router's code is unchanged): the interactions
  consumer's polls (with records, empty), records, offset commits; the outcome
  consumer's polls and records; relay rounds (publishing, empty), rows, publish calls,
  marks; scheduler rounds; memory upkeep runs; transactions begun (units of work);
- and samples the CPU of each of its threads by name (the event loop's "main",
  aiosqlite's connection thread) and the memory upkeep's CPU (inside the consumer's task).

The event loop is uvloop's (uvicorn's): its callbacks cannot be timed from Python, so the
main thread's split by activity comes from py-spy (``py-spy record -p <router pid> -f raw``)
beside this.

It also sums wall time (``wall ...`` seconds; ``_time_wall``): where the interactions
consumer's time goes (awaiting its poll, handling it, routing it, its hops to aiosqlite's
thread and how much of each hop the function ran in the thread: on a CPU, queued for one,
asleep (the GIL's wait, I/O)), and every thread's time on a CPU and waiting for one
(``/proc``'s schedstat): a thread's wall time is those two and its sleep; the COMMIT of
each flush (``wall commit``: WAL's fsync) split alike. ``--bench backlog_recovery
--rates ""`` runs the backlog bench instead and reports each second the router routed in.

Every second it appends the cumulative figures (``time.monotonic``) as one JSON line to
``ROUTER_POLL_SPLIT_FILE``; ``--report`` turns the lines into rates per second and CPU per
1,000 interactions for each rate of ``--rates`` (the seconds in which the router routed
within 30 % of that rate). A diagnostic only: the counters cost a dict update per call.

    python -m bench.router_poll_split --out /tmp/split.jsonl -- --rates 25:15,100:20
    python -m bench.router_poll_split --report /tmp/split.jsonl --rates 25,100
    python -m bench.router_poll_split --bench backlog_recovery --rates "" -- --count 20000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ENV_FILE = "ROUTER_POLL_SPLIT_FILE"
ROOT = Path(__file__).resolve().parent.parent

COUNTS: Counter[str] = Counter()


def _count_async(cls: type, name: str, label: str, *, result_key: str | None = None) -> None:
    original = getattr(cls, name)

    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, *args, **kwargs)
        COUNTS[label] += 1
        if result_key is not None:
            _count_result(label, result_key, result)
        return result

    setattr(cls, name, wrapper)


def _count_result(label: str, key: str, result: Any) -> None:
    if isinstance(result, dict):  # a poll: {tp: records}
        records = sum(map(len, result.values()))
        COUNTS[f"{label} {key}"] += records
        if not records:
            COUNTS[f"{label} empty"] += 1
    elif isinstance(result, int):
        COUNTS[f"{label} {key}"] += result
        if not result:
            COUNTS[f"{label} empty"] += 1


def _time_async(cls: type, name: str, label: str, *, client_id: str | None = None) -> None:
    """Wall seconds awaiting ``cls.name`` into ``wall <label>`` (only the runner of
    ``client_id`` when given)."""
    original = getattr(cls, name)

    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if client_id is not None and getattr(self, "_client_id", None) != client_id:
            return await original(self, *args, **kwargs)
        began = time.perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            COUNTS[f"wall {label}"] += time.perf_counter() - began

    setattr(cls, name, wrapper)


def _time_wall() -> None:
    """Where the interactions consumer's wall time goes (``wall ...`` seconds): awaiting
    its poll (``getmany``: buffered records at once, else the fetch in flight), the
    poll's handling (decode and routing), of which the routing handler and, within it,
    the hops to aiosqlite's thread (by the awaiting task: the consumer's, the relay's);
    the offset commit's wait (``_commit_settled``). The rest of ``wall consumer loop``
    is the yield after a poll, the lock and the between-polls hook. For each hop the
    function's own run in the database thread (wall, and that thread's CPU in it)."""
    import asyncio

    from libs.common.kafka.consumer import ConsumerRunner
    from services.router.consumer import BatchHandler
    from services.router.store.sqlite_driver import OneHopConnection

    _time_async(ConsumerRunner, "_poll", "poll (getmany)", client_id="router")
    _time_async(ConsumerRunner, "_process", "process", client_id="router")
    _time_async(ConsumerRunner, "_commit_settled", "offset commit wait", client_id="router")
    _time_async(BatchHandler, "__call__", "process: route_batch")
    run = ConsumerRunner.run

    async def run_(self: ConsumerRunner, stop: Any = None) -> None:
        if self._client_id != "router":
            return await run(self, stop)
        began = time.perf_counter()
        try:
            return await run(self, stop)
        finally:
            COUNTS["wall consumer loop"] += time.perf_counter() - began

    ConsumerRunner.run = run_  # type: ignore[method-assign]
    execute = OneHopConnection._execute

    async def _execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        who = task.get_name() if task is not None else "?"
        who = "consumer" if who == "router-consumer" else "relay" if "relay" in who else "other"

        def timed(*a: Any, **k: Any) -> Any:
            began, sched = time.perf_counter(), _own_schedstat()
            try:
                return fn(*a, **k)
            finally:
                wall = time.perf_counter() - began
                ran_at, queued_at = _own_schedstat()
                ran, queued = ran_at - sched[0], queued_at - sched[1]
                COUNTS[f"wall hop {who}: in thread"] += wall
                COUNTS[f"wall hop {who}: in thread cpu"] += ran
                COUNTS[f"wall hop {who}: in thread queued"] += queued
                # neither on a CPU nor queued for one: the GIL's wait, I/O (fsync)
                COUNTS[f"wall hop {who}: in thread asleep"] += wall - ran - queued

        began = time.perf_counter()
        try:
            return await execute(self, timed, *args, **kwargs)
        finally:
            COUNTS[f"wall hop {who}"] += time.perf_counter() - began
            COUNTS[f"hops {who}"] += 1

    OneHopConnection._execute = _execute  # type: ignore[method-assign]
    from services.router.store import bulk

    write_all = bulk._write_all

    def _write_all(writes: Any, commit: bool, connection: Any) -> None:
        """The flush's statements, then its COMMIT timed apart (WAL, synchronous=FULL:
        the fsync): ``wall commit`` and its split as the hops'."""
        write_all(writes, False, connection)
        if commit:
            began, (ran, queued) = time.perf_counter(), _own_schedstat()
            connection.commit()
            wall = time.perf_counter() - began
            ran_at, queued_at = _own_schedstat()
            COUNTS["wall commit"] += wall
            COUNTS["wall commit: cpu"] += ran_at - ran
            COUNTS["wall commit: queued"] += queued_at - queued
            COUNTS["wall commit: asleep"] += wall - (ran_at - ran) - (queued_at - queued)

    bulk._write_all = _write_all


def install() -> None:
    """Wrap the router's classes in this process (called by the ``sitecustomize``)."""
    from libs.common.kafka.consumer import ConsumerRunner
    from libs.common.memory import MemoryUpkeep
    from services.router.relay import BatchPublisher, OutboxRelay
    from services.router.scheduler import Scheduler
    from services.router.store.unit_of_work import UnitOfWorkFactory

    poll = ConsumerRunner._poll

    async def _poll(self: ConsumerRunner) -> Any:
        batch = await poll(self)
        _count_result(f"poll {self._client_id}", "records", batch)
        COUNTS[f"poll {self._client_id}"] += 1
        return batch

    ConsumerRunner._poll = _poll  # type: ignore[method-assign]
    commit = ConsumerRunner._commit

    async def _commit(self: ConsumerRunner, only: Any = None) -> None:
        if self._done:
            COUNTS[f"offset commit {self._client_id}"] += 1
        await commit(self, only)

    ConsumerRunner._commit = _commit  # type: ignore[method-assign]
    _count_async(OutboxRelay, "publish_pending", "relay round", result_key="rows")
    _count_async(OutboxRelay, "mark_published", "relay mark", result_key="rows")
    _count_async(BatchPublisher, "publish", "relay publish call")
    _count_async(Scheduler, "tick", "scheduler tick", result_key="timers")
    upkeep = MemoryUpkeep.run_if_due

    def run_if_due(self: MemoryUpkeep) -> Any:
        began = time.thread_time()
        ran = upkeep(self)
        COUNTS["memory upkeep run" if ran else "memory upkeep check"] += 1
        # inside the consumer task's callbacks: its CPU is also in router-consumer's
        COUNTS["memory upkeep cpu_s (in router-consumer)"] += time.thread_time() - began
        return ran

    MemoryUpkeep.run_if_due = run_if_due  # type: ignore[method-assign]
    from libs.common import memory

    release = memory.release_free_memory

    def release_free_memory(allocator: Any) -> bool:
        began = time.thread_time()
        released = release(allocator)
        COUNTS["memory upkeep trim"] += 1
        COUNTS["memory upkeep trim released"] += int(released)
        COUNTS["memory upkeep trim cpu_s"] += time.thread_time() - began
        return released

    memory.release_free_memory = release_free_memory  # type: ignore[assignment]
    _time_collections()
    _time_wall()
    factory_call = UnitOfWorkFactory.__call__

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        COUNTS["unit of work (write)"] += 1
        return factory_call(self, *args, **kwargs)

    UnitOfWorkFactory.__call__ = __call__  # type: ignore[method-assign]
    reader = getattr(UnitOfWorkFactory, "reader", None)
    if reader is not None:

        def reader_(self: Any, *args: Any, **kwargs: Any) -> Any:
            COUNTS["unit of work (read)"] += 1
            return reader(self, *args, **kwargs)

        UnitOfWorkFactory.reader = reader_  # type: ignore[method-assign]
    threading.Thread(target=_write_every_second, args=(os.environ[ENV_FILE],), daemon=True).start()


def _time_collections() -> None:
    """The collector's runs and CPU by generation (``gc.callbacks``), in any thread."""
    import gc

    began: dict[int, float] = {}

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[threading.get_ident()] = time.thread_time()
            return
        start = began.pop(threading.get_ident(), None)
        if start is not None:
            generation = info["generation"]
            COUNTS[f"gc gen{generation}"] += 1
            COUNTS[f"gc gen{generation} cpu_s"] += time.thread_time() - start

    gc.callbacks.append(callback)


def _thread_cpu() -> dict[str, float]:
    """CPU-seconds of each live thread of this process, by thread name."""
    out: Counter[str] = Counter()
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue
        head, _, rest = text.rpartition(")")
        name = "main" if int(task.name) == os.getpid() else head.split("(", 1)[1]
        fields = rest.split()
        out[name] += (int(fields[11]) + int(fields[12])) / tick
    return dict(out)


def _own_schedstat() -> tuple[float, float]:
    """This thread's seconds on a CPU and queued for one so far."""
    with open("/proc/thread-self/schedstat") as stat:
        ran, queued, _ = stat.read().split()
    return int(ran) / 1e9, int(queued) / 1e9


def _thread_schedstat() -> dict[str, list[float]]:
    """Seconds on a CPU and waiting for one (runnable, on the run queue) of each live
    thread, by name (``/proc/<pid>/task/<tid>/schedstat``): a thread's wall time is
    these two and its sleep (waiting for I/O, a queue, the GIL's condition)."""
    out: dict[str, list[float]] = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            ran, waited, _ = (task / "schedstat").read_text().split()
            name = (task / "comm").read_text().strip()
        except (OSError, ValueError):
            continue
        name = "main" if int(task.name) == os.getpid() else name
        total = out.setdefault(name, [0.0, 0.0])
        total[0] += int(ran) / 1e9
        total[1] += int(waited) / 1e9
    return out


def _count_checkpoints() -> None:
    """The SQLite WAL checkpointer's checkpoints so far, and the complete ones."""
    from services.router.store import sqlite_driver

    checkpointers = list(getattr(sqlite_driver, "_CHECKPOINTERS", {}).values())
    COUNTS["wal checkpoints"] = sum(c.checkpoints for c in checkpointers)
    COUNTS["wal checkpoints complete"] = sum(getattr(c, "complete", 0) for c in checkpointers)


def _write_every_second(path: str) -> None:
    with open(path, "a") as out:
        while True:
            time.sleep(1.0)
            _count_checkpoints()
            line = {
                "t": time.monotonic(),
                "process_cpu": time.process_time(),
                "threads": _thread_cpu(),
                "schedstat": _thread_schedstat(),
                "counts": dict(COUNTS),
            }
            out.write(json.dumps(line) + "\n")
            out.flush()


SITECUSTOMIZE = f"""
import os, sys
try:
    _cmd = open("/proc/self/cmdline", "rb").read().split(b"\\0")
except OSError:
    _cmd = []
if b"services.router" in _cmd and os.environ.get({ENV_FILE!r}):
    sys.path.insert(0, {str(ROOT)!r})
    import bench.router_poll_split as _split
    _split.install()
"""


def run(out: Path, bench_args: list[str], bench: str = "pipeline") -> int:
    with tempfile.TemporaryDirectory(prefix="router-poll-split-") as folder:
        Path(folder, "sitecustomize.py").write_text(SITECUSTOMIZE)
        env = {**os.environ, ENV_FILE: str(out)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, env.get("PYTHONPATH")]))
        return subprocess.call([sys.executable, "-m", f"bench.{bench}", *bench_args], env=env)


def report(path: Path, rates: list[float]) -> dict[str, Any]:
    """Per rate: counts per second, and CPU per 1,000 interactions, over the seconds in
    which the router routed within 30 % of that rate (the loaded phase of that rate)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out: dict[str, Any] = {}
    if not rates:  # a backlog: every second in which the router routed something
        busy = [(a, b) for a, b in itertools.pairwise(lines) if _delta(a, b, "poll router records")]
        if busy:
            out["routing"] = _figures(busy)
        return out
    for rate in rates:
        seconds = [
            (a, b)
            for a, b in itertools.pairwise(lines)
            if abs(_delta(a, b, "poll router records") / (b["t"] - a["t"]) - rate) < 0.3 * rate
        ]
        if seconds:
            out[f"{rate:g}/s"] = _figures(seconds)
    return out


def _delta(a: dict[str, Any], b: dict[str, Any], count: str) -> float:
    return float(b["counts"].get(count, 0) - a["counts"].get(count, 0))


def _figures(seconds: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    wall = sum(b["t"] - a["t"] for a, b in seconds)
    names = {name for _, b in seconds for name in b["counts"]}
    counts = {name: sum(_delta(a, b, name) for a, b in seconds) for name in sorted(names)}
    routed = counts.get("poll router records", 0.0)
    threads: Counter[str] = Counter()
    for a, b in seconds:
        for name, cpu in b["threads"].items():
            threads[name] += cpu - a["threads"].get(name, cpu)
    schedstat: dict[str, list[float]] = {}
    for a, b in seconds:
        for name, (ran, waited) in b.get("schedstat", {}).items():
            before = a.get("schedstat", {}).get(name, (ran, waited))
            total = schedstat.setdefault(name, [0.0, 0.0])
            total[0] += ran - before[0]
            total[1] += waited - before[1]
    process = sum(b["process_cpu"] - a["process_cpu"] for a, b in seconds)
    per_k = 1000 / routed if routed else 0.0
    return {
        "seconds": round(wall, 1),
        "per_s": {name: round(value / wall, 4) for name, value in counts.items()},
        "process_cpu_s_per_1000": round(process * per_k, 3),
        "thread_cpu_s_per_1000": {name: round(v * per_k, 3) for name, v in threads.items() if v},
        # share of the wall time each thread ran / waited runnable for a CPU / slept
        "thread_ran_queued_slept": {
            name: [
                round(part, 3) for part in (ran / wall, queued / wall, 1 - (ran + queued) / wall)
            ]
            for name, (ran, queued) in schedstat.items()
            if ran
        },
        "wall_share": {
            name.removeprefix("wall "): round(value / wall, 3)
            for name, value in counts.items()
            if name.startswith("wall ")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("/tmp/router-poll-split.jsonl"))
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument(
        "--rates",
        default="25,100",
        help="the bench's rates (events/s), comma-separated; empty: every busy second",
    )
    parser.add_argument(
        "--bench", default="pipeline", help="the bench module run: pipeline, backlog_recovery"
    )
    parser.add_argument("bench_args", nargs="*")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    if args.report is not None:
        print(json.dumps(report(args.report, rates), indent=2))
        return
    args.out.unlink(missing_ok=True)
    code = run(args.out, args.bench_args, args.bench)
    print(json.dumps(report(args.out, rates), indent=2))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
