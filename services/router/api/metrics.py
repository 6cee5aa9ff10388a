"""/reports/metrics: first response, resolution, SLA attainment, backlog, CSAT."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.router.api.deps import ContextDep, SupervisorKey
from services.router.api.schemas import MetricsRead, MetricsRowRead
from services.router.service.reporting import desk_metrics

router = APIRouter(prefix="/reports", tags=["metrics"])


@router.get("/metrics", response_model=MetricsRead, summary="Desk metrics per queue/channel/day")
async def read_metrics(
    ctx: ContextDep,
    _: SupervisorKey,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: Annotated[Literal["queue", "channel", "day", "all"], Query()] = "queue",
) -> MetricsRead:
    until = until or ctx.clock()
    since = since or until - timedelta(days=7)
    rows = await desk_metrics(ctx, since=since, until=until, group_by=group_by)
    return MetricsRead(
        since=since,
        until=until,
        group_by=group_by,
        rows=[MetricsRowRead.model_validate(r) for r in rows],
    )
