"""``idle_work.awaiting`` runs the waiting task's offered step while its future is
pending, only that task's, until the step has nothing left; cancelling cancels."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.idle_work import awaiting, hold, offered, release, run_awaiting, until_a_wait


class Steps:
    def __init__(self, count: int) -> None:
        self.left = count
        self.ran = 0

    def __call__(self) -> bool:
        self.ran += 1
        self.left -= 1
        return self.left > 0


_LATER: set[asyncio.Task[None]] = set()


async def _resolved_later(value: object, turns: int) -> asyncio.Future[object]:
    """A future resolved after ``turns`` loop turns (another thread's hop, in the small)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[object] = loop.create_future()

    async def later() -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        future.set_result(value)

    task = asyncio.ensure_future(later())
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)
    return future


async def test_without_an_offer_it_awaits_the_future():
    assert await awaiting(await _resolved_later("row", 3)) == "row"


async def test_the_offered_step_runs_while_the_future_is_pending_and_stops_when_done():
    steps = Steps(1000)
    with offered(steps):
        assert await awaiting(await _resolved_later("row", 5)) == "row"
    assert 1 <= steps.ran <= 6  # a step a turn while pending, none after


async def test_a_step_with_nothing_left_is_not_run_again():
    steps = Steps(2)
    with offered(steps):
        await awaiting(await _resolved_later(1, 10))
        await awaiting(await _resolved_later(2, 10))
    assert steps.ran == 2


async def test_another_tasks_wait_does_not_run_the_step():
    steps = Steps(1000)

    async def other_task() -> object:
        return await awaiting(await _resolved_later("other", 5))

    with offered(steps):
        assert await asyncio.create_task(other_task()) == "other"
    assert steps.ran == 0


async def test_cancelling_the_wait_cancels_the_future():
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    steps = Steps(1000)

    async def waiting() -> object:
        with offered(steps):
            return await awaiting(future)

    task = asyncio.create_task(waiting())
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert future.cancelled()
    assert steps.ran >= 1


async def test_the_offer_ends_with_its_block():
    steps = Steps(1000)
    with offered(steps):
        pass
    await awaiting(await _resolved_later(0, 3))
    assert steps.ran == 0


async def test_a_coroutine_runs_as_a_task_while_the_step_runs():
    steps = Steps(1000)

    async def round_trip() -> str:
        await asyncio.sleep(0.01)
        return "rows"

    assert await run_awaiting(round_trip()) == "rows"  # no offer: awaited in place
    assert steps.ran == 0
    with offered(steps):
        assert await run_awaiting(round_trip()) == "rows"
    assert steps.ran >= 1


async def test_until_a_wait_returns_at_once_when_nobody_holds_the_loop():
    await asyncio.wait_for(until_a_wait(10), 0.5)


async def test_until_a_wait_waits_for_the_holders_wait_on_another_thread():
    order: list[str] = []
    may_wait = asyncio.Event()

    async def holder() -> None:
        hold()
        try:
            while not may_wait.is_set():  # routing: CPU slices
                order.append("slice")
                await asyncio.sleep(0)
            order.append("hop")
            await awaiting(await _resolved_later(None, 5))
        finally:
            release()

    async def deferred() -> None:
        await until_a_wait(10)
        order.append("deferred ran")

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)  # the holder holds the loop
    waiter = asyncio.create_task(deferred())
    for _ in range(5):
        await asyncio.sleep(0)
    assert "deferred ran" not in order  # not between the holder's slices
    may_wait.set()
    await asyncio.wait_for(asyncio.gather(holding, waiter), 2)
    assert order.index("deferred ran") > order.index("hop")


async def test_until_a_wait_gives_up_after_its_limit():
    stop = asyncio.Event()

    async def holder() -> None:
        hold()
        try:
            while not stop.is_set():  # noqa: ASYNC110 - never a wait on another thread
                await asyncio.sleep(0.001)
        finally:
            release()

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    await asyncio.wait_for(until_a_wait(0.05), 1)
    stop.set()
    await holding


async def test_letting_go_or_ending_frees_what_waits():
    async def holds_then_lets_go() -> None:
        hold()
        await asyncio.sleep(0.02)
        release()

    task = asyncio.create_task(holds_then_lets_go())
    await asyncio.sleep(0)
    await asyncio.wait_for(until_a_wait(10), 1)
    await task

    async def holds_and_ends() -> None:
        hold()

    await asyncio.create_task(holds_and_ends())  # ended holding: not busy
    await asyncio.wait_for(until_a_wait(10), 0.5)
