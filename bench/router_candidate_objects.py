"""CPU per conversation of the router's candidate read: the driver's rows made the
session's objects (``ConversationRepository.candidates``) against the ORM's query
(``candidates_by_orm``), on a warmed store.

Reads ``--count`` conversations by id, each read in its own reader unit of work (an
empty session: every row becomes a new object, as in a backlog's poll), the two ways
interleaved (ORM, driver, ORM, driver, …), ``--rounds`` each; prints the event loop
thread's CPU (``time.thread_time``) per conversation, median and spread. Under callgrind
each read runs inside ``operator.call`` (``--toggle-collect=_operator_call``) and
``--only orm|driver`` keeps one of the two::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python -m bench.router_candidate_objects --store sqlite --only driver
    callgrind_annotate /tmp/cg.out | head   # total Ir / (rounds * count)
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy import select

from bench.router_poll_callgrind import warmed_router
from services.router.service.context import RouterContext
from services.router.store.models import Conversation
from tools.testing.postgres import PostgresServer


async def _ids(ctx: RouterContext, count: int) -> list[str]:
    async with ctx.uow.reader() as uow:
        ids = list(await uow.session.scalars(select(Conversation.id).limit(count)))
    if len(ids) < count:
        raise SystemExit(f"only {len(ids)} conversations stored")
    return ids


async def _read(ctx: RouterContext, ids: list[str], how: str) -> float:
    async with ctx.uow.reader() as uow:
        repository: Any = uow.conversations
        read = repository.candidates if how == "driver" else repository.candidates_by_orm
        started = time.thread_time()
        found = await read(ids=ids)
        spent = time.thread_time() - started
    if len(found) != len(ids):
        raise SystemExit(f"{how}: {len(found)} of {len(ids)} read")
    return spent


def main(args: argparse.Namespace) -> None:
    server = PostgresServer().start() if args.store == "postgresql" else None
    loop = asyncio.new_event_loop()
    ways = [args.only] if args.only else ["orm", "driver"]
    spent: dict[str, list[float]] = {how: [] for how in ways}
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            warmed_router(
                loop,
                folder,
                size=5,
                database_url=server.create_database() if server is not None else None,
            ) as (ctx, _traffic),
        ):
            ids = loop.run_until_complete(_ids(ctx, args.count))
            for how in ways:  # warm: statements prepared, caches filled
                loop.run_until_complete(_read(ctx, ids, how))
            for _ in range(args.rounds):
                for how in ways:
                    # callgrind collects inside operator.call only
                    spent[how].append(operator.call(loop.run_until_complete, _read(ctx, ids, how)))
    finally:
        loop.close()
        if server is not None:
            server.stop()
    for how, times in spent.items():
        per = sorted(t / args.count * 1e6 for t in times)
        print(
            f"{args.store} {how}: {statistics.median(per):.1f} µs a conversation"
            f" (min {per[0]:.1f}, max {per[-1]:.1f}; {args.rounds} reads of {args.count})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--only", choices=("orm", "driver"))
    main(parser.parse_args())
