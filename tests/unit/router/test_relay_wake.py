"""The relay round's wait: a commit's wake resumes it at the loop's next turn (each turn
may wait behind a slice of the next poll's CPU), and the stop ends it."""

from __future__ import annotations

import asyncio

from services.router.relay import _set_when, _wait_for_wake


async def _turns_until_resumed(wake: asyncio.Event, seconds: float) -> int:
    resumed = asyncio.Event()

    async def round_wait() -> None:
        await _wait_for_wake(wake, seconds)
        resumed.set()

    waiting = asyncio.create_task(round_wait())
    for _ in range(3):  # the wait has begun
        await asyncio.sleep(0)
    wake.set()
    turns = 0
    while not resumed.is_set():
        await asyncio.sleep(0)
        turns += 1
    await waiting
    return turns


async def test_a_wake_resumes_the_waiting_round_at_the_next_turn():
    assert await _turns_until_resumed(asyncio.Event(), 60.0) == 1


async def test_a_wake_set_before_the_wait_returns_at_once():
    wake = asyncio.Event()
    wake.set()
    await asyncio.wait_for(_wait_for_wake(wake, 60.0), 5.0)


async def test_the_wait_ends_after_its_interval_without_a_wake():
    await asyncio.wait_for(_wait_for_wake(asyncio.Event(), 0.01), 5.0)


async def test_the_stop_wakes_the_waiting_round():
    stop, wake = asyncio.Event(), asyncio.Event()
    setter = asyncio.create_task(_set_when(stop, wake))
    waiting = asyncio.create_task(_wait_for_wake(wake, 60.0))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(waiting, 5.0)
    await setter
    assert wake.is_set()
