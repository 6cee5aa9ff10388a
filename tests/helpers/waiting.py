"""Waiting for a condition in a test, bounded: a guard against hanging, not a timing assertion."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, within_s: float = 45.0
) -> None:
    """Until ``check()`` (plain or async) holds, polling every 50 ms; fails after ``within_s``."""
    async with asyncio.timeout(within_s):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
