"""LazyDeadline expires its timeout when the last deadline it was moved to is due, as a
``reschedule`` per move would, with a timer set only when one fires early or the
deadline moves earlier (a fake loop: the timers are fired by hand)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from services.notifier.lazy_deadline import LazyDeadline


class FakeHandle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    def __init__(self) -> None:
        self.timers: list[FakeHandle] = []

    def call_at(self, when: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle(when, callback)
        self.timers.append(handle)
        return handle

    def live(self) -> list[FakeHandle]:
        return [t for t in self.timers if not t.cancelled]

    def fire(self) -> None:
        """The next live timer runs (its time has come)."""
        handle = min(self.live(), key=lambda t: t.when)
        handle.cancelled = True  # ran: no longer pending
        handle.callback()


class FakeTimeout:
    def __init__(self) -> None:
        self.rescheduled: list[float | None] = []

    def reschedule(self, when: float | None) -> None:
        self.rescheduled.append(when)


def lazy() -> tuple[LazyDeadline, FakeLoop, FakeTimeout]:
    loop, timeout = FakeLoop(), FakeTimeout()
    deadline = LazyDeadline(cast(asyncio.AbstractEventLoop, loop), cast(Any, timeout))
    return deadline, loop, timeout


def test_the_first_move_sets_a_timer_later_ones_only_the_deadline() -> None:
    deadline, loop, timeout = lazy()
    deadline.move(10.0)
    deadline.move(10.5)
    deadline.move(11.0)
    assert [t.when for t in loop.timers] == [10.0]
    assert timeout.rescheduled == []


def test_a_timer_for_a_moved_deadline_is_set_again_for_the_new_one() -> None:
    deadline, loop, timeout = lazy()
    deadline.move(10.0)
    deadline.move(12.0)
    loop.fire()  # at 10: the deadline is 12 now
    assert timeout.rescheduled == []
    assert [t.when for t in loop.live()] == [12.0]
    loop.fire()  # at 12: due
    assert timeout.rescheduled == [12.0]
    assert loop.live() == []


def test_a_deadline_not_moved_since_the_timer_was_set_expires_the_timeout_then() -> None:
    deadline, loop, timeout = lazy()
    deadline.move(10.0)
    deadline.move(10.0)
    loop.fire()
    assert timeout.rescheduled == [10.0]


def test_a_deadline_moved_earlier_gets_its_own_timer() -> None:
    deadline, loop, timeout = lazy()
    deadline.move(10.0)
    deadline.move(5.0)
    assert [t.when for t in loop.live()] == [5.0]
    loop.fire()
    assert timeout.rescheduled == [5.0]


def test_cancel_leaves_no_timer() -> None:
    deadline, loop, timeout = lazy()
    deadline.move(10.0)
    deadline.cancel()
    assert loop.live() == []
    deadline.cancel()  # twice: nothing to cancel
    assert timeout.rescheduled == []


async def test_with_a_real_timeout_the_last_deadline_expires_it() -> None:
    loop = asyncio.get_running_loop()
    expired = False
    try:
        async with asyncio.timeout(None) as timeout:
            deadline = LazyDeadline(loop, timeout)
            try:
                deadline.move(loop.time() + 0.01)
                deadline.move(loop.time() + 0.02)
                await asyncio.Event().wait()  # only the timeout ends this
            finally:
                deadline.cancel()
    except TimeoutError:
        expired = True
    assert expired
