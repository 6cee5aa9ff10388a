"""The notifier sent-log's cost per notice: claim + finish of polls at a grown table.

SQLite only (the notifier's default). The table is grown to ``--rows`` with the same
polls (claim, then finish as ``sent``), then ``--polls`` polls of ``--batch`` notices
are measured: CPU per notice of the whole process and of the database threads
(aiosqlite's, where the statements and the COMMIT run), and the bytes the process
wrote (``/proc/self/io`` ``wchar``: WAL frames and checkpoints). Then a few polls with
the WAL emptied before each and no autocheckpoint during it count the WAL frames a
poll writes. Keys as the backlog's: routing-event ids in time order (the router's
outbox ids, ``libs.common.ids.time_ordered_id_beside``), customers' addresses new,
agents' recurring; ``--random-ids`` for uuid4 event ids.

    python -m bench.sentlog_cost [--rows 70000] [--batch 500] [--polls 20] [--json out.json]

Prints JSON; writes it only where ``--json`` says (a micro-bench for A/B runs, not one
of ``bench/results``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import scratch_folder
from bench.store_growth import wal_pages
from libs.common.privacy.identifiers import IdentifierHasher
from services.notifier.sentlog import Finish, SendInfo, SendKey, SentLog, Status

_TEMPLATES = ("customer_ack", "agent_assigned", "customer_csat")
_AGENTS = [f"agent-{n}@desk.example" for n in range(40)]


def _written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def _other_threads_cpu() -> float:
    """CPU seconds of every thread but the main one (aiosqlite's worker)."""
    total = 0.0
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.ident is None:
            continue
        try:
            total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (OSError, ProcessLookupError):
            continue
    return total


class Polls:
    """Notices of successive polls, keyed as the backlog's."""

    def __init__(self, *, random_ids: bool) -> None:
        self._random = random_ids
        self._n = itertools.count()
        self._millis = int(datetime(2026, 11, 29, tzinfo=UTC).timestamp() * 1000)

    def _event_id(self, n: int) -> str:
        if self._random:
            return str(uuid.uuid4())
        millis = (self._millis + n * 3).to_bytes(6, "big").hex()  # a few ms apart
        x = uuid.uuid4().hex
        return f"{millis[:8]}-{millis[8:]}-{x[:4]}-{x[4:8]}-{x[8:20]}"

    def poll(self, size: int) -> list[tuple[SendKey, SendInfo]]:
        jobs = []
        for _ in range(size):
            n = next(self._n)
            event_id = self._event_id(n)
            template = _TEMPLATES[n % 3]
            recipient = (
                _AGENTS[n % len(_AGENTS)]
                if template == "agent_assigned"
                else f"customer-{n}@mail.example"
            )
            info = SendInfo("support.conversation.opened", f"C-{n}", "email", "ko")
            jobs.append((SendKey(event_id, recipient, template), info))
        return jobs


async def _one_poll(sentlog: SentLog, jobs: list[tuple[SendKey, SendInfo]]) -> None:
    now = datetime.now(UTC)
    claims = await sentlog.claim_many(jobs, now=now)
    finishes = [Finish(key, Status.SENT, now, f"<{key.event_id}@x>") for key in claims]
    await sentlog.finish_many(finishes)


async def _pragma(sentlog: SentLog, sql: str) -> Any:
    async with sentlog.engine.connect() as conn:
        row = (await conn.exec_driver_sql(sql)).first()
        await conn.commit()
    return row


async def run(args: argparse.Namespace) -> dict[str, Any]:
    hasher = IdentifierHasher(b"bench-key" * 4) if args.hasher else None
    polls = Polls(random_ids=args.random_ids)
    with scratch_folder("sentlog-cost-") as folder:
        database = folder / "sent.db"
        sentlog = SentLog(f"sqlite+aiosqlite:///{database}", hasher=hasher)
        await sentlog.open()
        try:
            while await sentlog.count() < args.rows:  # grow the table as the backlog does
                await _one_poll(sentlog, polls.poll(args.batch))
            await _one_poll(sentlog, polls.poll(args.batch))  # warm up
            measured = [polls.poll(args.batch) for _ in range(args.polls)]  # not measured
            written, cpu, db_cpu = _written_bytes(), time.process_time(), _other_threads_cpu()
            for jobs in measured:
                await _one_poll(sentlog, jobs)
            notices = args.polls * args.batch
            cpu_us = (time.process_time() - cpu) / notices * 1e6
            db_us = (_other_threads_cpu() - db_cpu) / notices * 1e6
            written_per_poll = (_written_bytes() - written) / args.polls
            # WAL frames of one poll: the WAL emptied before it, no checkpoint during it.
            (autocheckpoint,) = await _pragma(sentlog, "PRAGMA wal_autocheckpoint")
            await _pragma(sentlog, "PRAGMA wal_autocheckpoint=0")
            frames = []
            for _ in range(3):
                await _pragma(sentlog, "PRAGMA wal_checkpoint(TRUNCATE)")
                await _one_poll(sentlog, polls.poll(args.batch))
                frames.append(len(wal_pages(Path(f"{database}-wal"))))
            await _pragma(sentlog, f"PRAGMA wal_autocheckpoint={autocheckpoint}")
            (page_size,) = await _pragma(sentlog, "PRAGMA page_size")
            rows = await sentlog.count()
        finally:
            await sentlog.close()
    return {
        "rows": rows,
        "batch": args.batch,
        "polls": args.polls,
        "ids": "random" if args.random_ids else "time-ordered",
        "hasher": bool(args.hasher),
        "page_size": page_size,
        "cpu_us_per_notice": round(cpu_us, 1),
        "db_thread_cpu_us_per_notice": round(db_us, 1),
        "written_kb_per_poll": round(written_per_poll / 1024, 1),
        "wal_frames_per_poll": statistics.median(frames),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=70_000, help="Table size measured at.")
    parser.add_argument("--batch", type=int, default=500, help="Notices per poll.")
    parser.add_argument("--polls", type=int, default=20, help="Polls measured.")
    parser.add_argument("--random-ids", action="store_true", help="uuid4 routing-event ids.")
    parser.add_argument("--hasher", action="store_true", help="Recipients' keyed hashes on.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    figures = asyncio.run(run(args))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
