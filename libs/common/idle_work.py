"""Work the event loop's thread does while a task waits for another thread.

A task that awaits a hop to a database thread (aiosqlite's: the router's poll reads and
its flush and COMMIT) leaves the loop's thread idle until the hop's result is handed
back: in the router's SQLite backlog ~27 % of the wall time (``bench.router_poll_split``,
stop 42); on PostgreSQL the loop waits for the server's round trips alike.

- A task may offer a step of work it will need next (``offered``): a hop it awaits
  (``awaiting``; a coroutine, ``run_awaiting``) runs that step between loop turns while
  the hop is pending, until the hop's result is in or the step says it has nothing left.
  The interactions consumer offers the decode of its next poll (``ConsumerRunner``'s
  ``read_ahead``).
- A task may hold the loop (``hold``/``release``): while it holds it and is not in one of
  those waits, work that can wait a little (the router's outbox relay: ``until_a_wait``)
  waits for its next wait instead of taking turns with it on the CPU, up to a limit. The
  consumer holds it through a backlog, so that a poll's relay round runs in the next
  poll's waits, not between the two polls.

Only the offering task's own waits run its step: a relay round's hop, or the routing's
``sleep(0)`` between CPU slices, never do. The step runs on the loop's thread (pure
work, no awaits); between two steps the loop turns, so the hop's result is taken as soon
as it is there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")

#: a step of work: does one slice, returns whether there is more
Step = Callable[[], bool]

_OFFERS: dict[asyncio.Task[Any], Step] = {}
_HOLDERS: set[asyncio.Task[Any]] = set()
#: holders now inside ``awaiting``
_in_wait = 0
#: per loop: set when a holder begins a wait or lets go (``until_a_wait`` looks again)
_CHANGED: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = WeakKeyDictionary()


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


def hold() -> None:
    """The current task holds the loop: ``until_a_wait`` waits for its waits."""
    task = asyncio.current_task()
    assert task is not None, "hold() needs a running task"
    _HOLDERS.add(task)


def release() -> None:
    """The current task no longer holds the loop (nothing if it did not)."""
    task = asyncio.current_task()
    if task in _HOLDERS:
        _HOLDERS.discard(task)  # type: ignore[arg-type]
        _changed().set()


def busy() -> bool:
    """A holder is on the CPU: it holds the loop and is in none of its waits."""
    if not _HOLDERS or _in_wait:
        return False
    if all(task.done() for task in _HOLDERS):  # ended without letting go
        _HOLDERS.clear()
        return False
    return True


async def until_a_wait(limit_s: float) -> None:
    """Until no holder is on the CPU (none holds the loop, or one is in a wait), at most
    ``limit_s``: what can wait a little then runs in a holder's wait."""
    if not busy():
        return
    changed = _changed()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit_s):
            while busy():
                changed.clear()
                await changed.wait()


async def awaiting(future: asyncio.Future[T]) -> T:
    """``await future``; while it is pending, the current task's offered step runs
    between loop turns (until it has nothing left), and a holder counts as in a wait.
    Cancelling the wait cancels ``future``, as awaiting it directly would."""
    if not (_OFFERS or _HOLDERS):
        return await future
    task = asyncio.current_task()
    step = _OFFERS.get(task) if task is not None else None
    holds = task in _HOLDERS
    if step is None and not holds:
        return await future
    global _in_wait
    if holds:
        _in_wait += 1
        _changed().set()
    try:
        if step is not None:
            while not future.done():
                if not step():
                    del _OFFERS[task]  # type: ignore[arg-type]  # not None here
                    break
                await asyncio.sleep(0)  # the loop takes the hop's result if it is in
        return await future
    except asyncio.CancelledError:
        future.cancel()
        raise
    finally:
        if holds:
            _in_wait -= 1


async def run_awaiting(coro: Coroutine[Any, Any, T]) -> T:
    """``await coro``; if the current task offered a step or holds the loop, ``coro``
    runs as a task of its own, awaited by ``awaiting``: for waits that are not one
    future, such as a PostgreSQL round trip under SQLAlchemy's session."""
    task = asyncio.current_task()
    if task is None or (task not in _OFFERS and task not in _HOLDERS):
        return await coro
    return await awaiting(asyncio.ensure_future(coro))


def _changed() -> asyncio.Event:
    loop = asyncio.get_running_loop()
    event = _CHANGED.get(loop)
    if event is None:
        event = _CHANGED[loop] = asyncio.Event()
    return event
