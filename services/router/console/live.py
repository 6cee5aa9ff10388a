"""Live updates: tail the router's outbox and fan new routing events out to SSE streams.

The outbox row is committed in the same transaction as the change it reports, so
tailing it shows a change ``live_poll_s`` after its commit, before the relay has
even published it (the routing topic lags the outbox by the relay's interval).
One tailer per router process serves every open page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from services.router.service.context import RouterContext
from services.router.store.models import OutboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveEvent:
    outbox_id: int
    type: str
    conversation_id: str
    queue: str
    assignee_id: str | None

    def sse(self) -> str:
        data = json.dumps({"type": self.type, "conversation_id": self.conversation_id})
        return f"id: {self.outbox_id}\nevent: routing\ndata: {data}\n\n"


def live_event(row_id: int, ce_type: str, conversation_id: str, payload: str) -> LiveEvent:
    snapshot = json.loads(payload).get("conversation") or {}
    assignee = snapshot.get("assignee") or {}
    return LiveEvent(
        row_id, ce_type, conversation_id, str(snapshot.get("queue", "")), assignee.get("id")
    )


class LiveFeed:
    def __init__(self, ctx: RouterContext, *, poll_s: float) -> None:
        self._ctx = ctx
        self._poll_s = poll_s
        self._subscribers: set[asyncio.Queue[LiveEvent]] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[LiveEvent]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._tail(), name="console-live-feed")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent]) -> None:
        self._subscribers.discard(queue)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _tail(self) -> None:
        table = OutboxRow.__table__
        async with self._ctx.uow.reader() as uow:
            last = int(await uow.session.scalar(select(func.max(table.c.id))) or 0)
        while self._subscribers:
            try:
                async with self._ctx.uow.reader() as uow:
                    rows = list(
                        await uow.session.execute(
                            select(
                                table.c.id,
                                table.c.ce_type,
                                table.c.conversation_id,
                                table.c.payload,
                            )
                            .where(table.c.id > last)
                            .order_by(table.c.id)
                            .limit(500)
                        )
                    )
            except Exception:  # the database may be restarting; the pages keep their stream
                log.exception("console live feed: reading the outbox failed")
                rows = []
            for row in rows:
                last = max(last, row.id)
                event = live_event(row.id, row.ce_type, row.conversation_id, row.payload)
                for queue in list(self._subscribers):
                    if queue.full():  # a stalled page; it reloads on reconnect
                        continue
                    queue.put_nowait(event)
            if len(rows) < 500:
                await asyncio.sleep(self._poll_s)
