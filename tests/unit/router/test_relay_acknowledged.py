"""The relay's wait for a round's acks (``relay.acknowledged``): resumed in the loop turn
after the last ack, the first failure raised in order, the others retrieved."""

from __future__ import annotations

import asyncio
import gc

import pytest

from services.router.relay import acknowledged


async def test_resumes_in_the_turn_after_the_last_ack():
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    waiting = asyncio.ensure_future(acknowledged(futures))
    await asyncio.sleep(0)  # waiting for the first
    for future in reversed(futures):
        future.set_result(None)
    await asyncio.sleep(0)  # one turn: gather took two (its callbacks, then its future)
    assert waiting.done() and waiting.result() is None


async def test_waits_for_every_future():
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(2)]
    waiting = asyncio.ensure_future(acknowledged(futures))
    futures[0].set_result(None)
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    futures[1].set_result(None)
    await waiting


async def test_raises_the_first_failure_and_retrieves_the_others(caplog):
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    futures[0].set_result(None)
    futures[1].set_exception(ValueError("first"))
    futures[2].set_exception(ValueError("second"))
    with pytest.raises(ValueError, match="first"):
        await acknowledged(futures)
    await asyncio.sleep(0)  # the retrieving callbacks
    futures.clear()
    gc.collect()
    assert "never retrieved" not in caplog.text
