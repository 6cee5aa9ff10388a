"""A loop clock a test moves by hand, for code that sets loop timers (``time``, ``call_at``):
timers fire in order when the test moves the clock past them, nothing waits for real time."""

from __future__ import annotations

import asyncio
from typing import Any


class ManualLoop:
    """The two loop methods timer-setting code uses, with a clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Any, asyncio.TimerHandle]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(when, callback, (), asyncio.get_running_loop())
        self.timers.append((when, callback, handle))
        return handle

    def run_until(self, moment: float) -> None:
        """Move the clock to ``moment``, firing each timer due by then, in order."""
        while True:
            due = [t for t in self.timers if t[0] <= moment and not t[2].cancelled()]
            if not due:
                break
            when, callback, handle = min(due, key=lambda t: t[0])
            self.timers.remove((when, callback, handle))
            self.now = when
            callback()
        self.now = moment

    @property
    def pending_timers(self) -> int:
        return sum(1 for *_, handle in self.timers if not handle.cancelled())
