"""Work the event loop's thread does while a task waits for another thread.

A task that awaits a hop to a database thread (aiosqlite's: the router's poll reads and
its flush and COMMIT) leaves the loop's thread idle until the hop's result is handed
back: in the router's SQLite backlog ~27 % of the wall time (``bench.router_poll_split``,
stop 42); on PostgreSQL the loop waits for the server's round trips alike. A task may
offer a step of work it will need next (``offered``): a hop it awaits (``awaiting``; a
coroutine, ``run_awaiting``) runs that step between loop turns while the hop is pending,
until the hop's result is in or the step says it has nothing left. The interactions
consumer offers the decode of its next poll (``ConsumerRunner``'s ``read_ahead``).

Only the offering task's own waits run its step: a relay round's hop, or the routing's
``sleep(0)`` between CPU slices, never do. The step runs on the loop's thread (pure
work, no awaits); between two steps the loop turns, so the hop's result is taken as soon
as it is there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: a step of work: does one slice, returns whether there is more
Step = Callable[[], bool]

_OFFERS: dict[asyncio.Task[Any], Step] = {}


@contextmanager
def offered(step: Step) -> Iterator[None]:
    """While in this block, the current task's hops (``awaiting``) run ``step``."""
    task = asyncio.current_task()
    assert task is not None, "offered() needs a running task"
    _OFFERS[task] = step
    try:
        yield
    finally:
        _OFFERS.pop(task, None)


async def awaiting(future: asyncio.Future[T]) -> T:
    """``await future``; while it is pending, the current task's offered step runs
    between loop turns (until it has nothing left). Cancelling the wait cancels
    ``future``, as awaiting it directly would."""
    if _OFFERS:
        task = asyncio.current_task()
        step = _OFFERS.get(task) if task is not None else None
        if step is not None:
            try:
                while not future.done():
                    if not step():
                        del _OFFERS[task]  # type: ignore[arg-type]  # not None here
                        break
                    await asyncio.sleep(0)  # the loop takes the hop's result if it is in
            except asyncio.CancelledError:
                future.cancel()
                raise
    return await future


async def run_awaiting(coro: Coroutine[Any, Any, T]) -> T:
    """``await coro``; if the current task offered a step, ``coro`` runs as a task of its
    own and the step runs while it is pending (``awaiting``): for waits that are not one
    future, such as a PostgreSQL round trip under SQLAlchemy's session."""
    task = asyncio.current_task()
    if task is None or task not in _OFFERS:
        return await coro
    return await awaiting(asyncio.ensure_future(coro))
