"""Instructions of the router's event-loop thread per routed interaction, under callgrind.

Routes polls of 400 ``bench.router_poll_cpu`` interactions on a warmed SQLite store
(agents seeded, earlier customers to come back), each measured poll run inside
``operator.call`` so that callgrind collects exactly those polls on the thread that
runs them (the event loop's; aiosqlite's worker thread is not collected)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python -m bench.router_poll_callgrind [--polls 3]
    callgrind_annotate /tmp/cg.out | head   # total Ir / (polls * 400)

Without valgrind it runs the same polls (a check that the harness works). Instruction
counts do not depend on the machine's speed or load, unlike CPU-seconds; they do depend
on the wall clock: the traffic is stamped with the time it runs at, and the SLA clocks'
due times are worked out in business-hours calendars (open or closed then: probably why
one tree counted 788.2 K an interaction at 08:29 UTC and 777.0 K at 09:35, stop 33,
17:29 and 18:35 in Seoul). Compare two trees by runs of the same minutes, or by a bench
that replays captured values (``bench.outbox_add_callgrind``). Stop 34 did both: two
trees' runs of 3 and of 1 measured polls started together (12:25 UTC), the difference
/ 800: 779.3 (b80a547) -> 757.8 K an interaction (1b7b0a3, the outbox's fields writer
and ordinal ids), where the replay said -27.7 K.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import operator
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from bench.router_poll_cpu import Traffic
from libs.common.gc_tuning import tune_for_polls
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import route_batch
from services.router.settings import RouterSettings

POLL = 400


@contextlib.contextmanager
def warmed_router(
    loop: asyncio.AbstractEventLoop, folder: str, *, size: int, database_url: str | None = None
) -> Iterator[tuple[RouterContext, Traffic]]:
    """A router context on a warmed store (agents seeded, earlier customers to come back,
    caches and statements warm, the collector tuned as the service tunes it) and the
    traffic that goes on from there: the set-up every router callgrind bench measures after."""
    url = database_url or f"sqlite+aiosqlite:///{folder}/router.db"
    settings = RouterSettings(
        state_dir=Path(folder), database_url=url, kafka=KafkaSettings(), dev_mode=False
    )
    engine = loop.run_until_complete(open_store(settings))
    ctx = build_context(settings, engine)
    loop.run_until_complete(seed_agents(ctx))
    traffic = Traffic()
    for _ in range(4):
        loop.run_until_complete(route_batch(ctx, traffic.poll(500)))
    tune_for_polls()
    for _ in range(2):
        loop.run_until_complete(route_batch(ctx, traffic.poll(size)))
    try:
        yield ctx, traffic
    finally:
        loop.run_until_complete(engine.dispose())


def route_recorded(
    polls: int,
    replacements: Mapping[tuple[type, str], Callable[..., object]],
    *,
    before_poll: Callable[[], object] | None = None,
) -> None:
    """Route ``polls`` polls of ``POLL`` on a warmed router with methods replaced by
    recording ones (owner and name -> the replacement, which calls the original itself),
    the originals put back after: how the replay benches capture what a routed poll
    hands to the part they measure. ``before_poll`` runs before each poll."""
    loop = asyncio.new_event_loop()
    originals = {key: getattr(*key) for key in replacements}
    with (
        tempfile.TemporaryDirectory() as folder,
        warmed_router(loop, folder, size=POLL) as (ctx, traffic),
    ):
        for (owner, name), replacement in replacements.items():
            setattr(owner, name, replacement)
        try:
            for _ in range(polls):
                if before_poll is not None:
                    before_poll()
                loop.run_until_complete(route_batch(ctx, traffic.poll(POLL)))
        finally:
            for (owner, name), original in originals.items():
                setattr(owner, name, original)
    loop.close()


def main(args: argparse.Namespace) -> None:
    loop = asyncio.new_event_loop()
    with (
        tempfile.TemporaryDirectory() as folder,
        warmed_router(loop, folder, size=args.size) as (ctx, traffic),
    ):
        for _ in range(args.polls):
            batch = traffic.poll(args.size)
            # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
            operator.call(loop.run_until_complete, route_batch(ctx, batch))

    loop.close()
    print(f"routed {args.polls} measured polls of {args.size}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=3, help="measured polls")
    parser.add_argument(
        "--size", type=int, default=POLL, help="interactions per poll (5: fixed per-poll costs)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
