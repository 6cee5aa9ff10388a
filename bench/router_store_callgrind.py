"""Instructions of the router's event-loop thread per routed poll, under callgrind, on
either store and for any poll size.

``bench.router_poll_callgrind`` for SQLite polls of 400, generalised: ``--store
postgresql`` routes on a private PostgreSQL server (its processes are not under
valgrind: only the router's side of each statement is counted, the driver's included),
``--size`` sets the poll (5: the pipeline's small polls, whose cost is mostly their
statements). Each measured poll runs inside ``operator.call``::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python -m bench.router_store_callgrind --store postgresql --size 5
    callgrind_annotate /tmp/cg.out | head   # total Ir / polls

Instruction counts do not depend on the machine's speed or load, unlike CPU-seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import tempfile

from bench.router_poll_callgrind import warmed_router
from services.router.service.interactions import route_batch
from tools.testing.postgres import PostgresServer


def main(args: argparse.Namespace) -> None:
    server = PostgresServer().start() if args.store == "postgresql" else None
    loop = asyncio.new_event_loop()
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            warmed_router(
                loop,
                folder,
                size=args.size,
                database_url=server.create_database() if server is not None else None,
            ) as (ctx, traffic),
        ):
            for _ in range(args.polls):
                batch = traffic.poll(args.size)
                # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
                operator.call(loop.run_until_complete, route_batch(ctx, batch))
    finally:
        loop.close()
        if server is not None:
            server.stop()
    print(f"routed {args.polls} measured polls of {args.size} on {args.store}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--polls", type=int, default=10, help="measured polls")
    main(parser.parse_args())
