"""A service's ``run(settings, stop)`` in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

S = TypeVar("S")


@contextlib.asynccontextmanager
async def running_in_loop(
    run: Callable[[S, asyncio.Event], Awaitable[None]], settings: S, *, stop_within_s: float = 60
) -> AsyncIterator[asyncio.Task[None]]:
    """``run(settings, stop)`` for the block; at its end ``stop`` is set and the service
    awaited, so a service that failed fails the block's end."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, stop_within_s)
