"""/reports/assistant: deflection, handoff reasons, answers per article, unanswered groups."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel

from services.router.api.deps import ContextDep, SupervisorKey
from services.router.service.assistant_report import assistant_report

router = APIRouter(prefix="/reports", tags=["metrics"])


class UnansweredGroupRead(BaseModel):
    example: str
    count: int
    questions: list[str]


class AssistantReportRead(BaseModel):
    since: datetime
    until: datetime
    offered: int
    resolved: int
    handed_off: int
    holding: int
    reopened: int
    deflection_rate: float | None
    resolutions: dict[str, int]
    handoff_reasons: dict[str, int]
    answers_per_article: dict[str, int]
    unanswered: list[UnansweredGroupRead]


@router.get(
    "/assistant",
    response_model=AssistantReportRead,
    summary="The assistant: deflection rate, handoff reasons, answers per article, "
    "unanswered questions grouped",
)
async def read_assistant_report(
    ctx: ContextDep,
    _: SupervisorKey,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AssistantReportRead:
    until = until or ctx.clock()
    since = since or until - timedelta(days=7)
    report = await assistant_report(ctx, since=since, until=until)
    return AssistantReportRead.model_validate(report, from_attributes=True)
