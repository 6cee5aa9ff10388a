"""Timer loop: fires due SLA timers and serves waiting queues.

Time comes from the context's clock (injectable), so tests move time instead of
sleeping. Timers are rows: after a restart, overdue ones fire on the first
round; each fires once because it is claimed in the transaction that emits.

Each step of a round looks through a reader before it takes the assignment lock (the
lock every routing poll needs): a round with nothing due, or only conversations waiting
for agents who are all full, locks nothing (issue #16; ``bench.scheduler_lock``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from services.router.service.assigning import drain_queues
from services.router.service.assistant_flow import fire_quiet_checks
from services.router.service.context import RouterContext
from services.router.service.retention import RetentionPolicy, apply_retention
from services.router.service.timers import fire_due_timers

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        ctx: RouterContext,
        *,
        interval_s: float = 1.0,
        batch: int = 200,
        retention: RetentionPolicy | None = None,
    ) -> None:
        self._ctx = ctx
        self._interval = interval_s
        self._batch = batch
        self._retention = retention
        self._retention_due: datetime | None = None  # first round runs it

    async def tick(self) -> int:
        """Fire everything due now (in batches) and assign what capacity allows."""
        fired = 0
        while True:
            count = await fire_due_timers(self._ctx, limit=self._batch)
            fired += count
            if count < self._batch:
                break
        await drain_queues(self._ctx, reason="capacity available")
        await fire_quiet_checks(self._ctx, limit=self._batch)
        await self._retain()
        return fired

    async def _retain(self) -> None:
        """The retention job, at most once per its interval (clock time)."""
        policy = self._retention
        now = self._ctx.clock()
        if policy is None or (self._retention_due is not None and now < self._retention_due):
            return
        self._retention_due = now + policy.interval
        await apply_retention(self._ctx, policy)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler round failed; retrying next round")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
