"""The assistant's report (issue #13 item 4), read from what the router recorded.

Deflection = conversations resolved by the assistant ÷ conversations offered to it
(opened in the period); one the customer reopened later no longer counts as resolved.
Handoff reasons and answers per article come from the conversations and their
timeline rows; the questions it could not answer
(``low_confidence`` handoffs) are grouped by similarity — the report that tells
the team which article to write next.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from libs.common.clustering import group_questions
from services.router.service.assistant_flow import ANSWER_KIND, HANDOFF_KIND
from services.router.service.context import RouterContext
from services.router.store.models import ASSISTANT_HOLDING, Conversation, InteractionRecord

UNANSWERED_REASON = "low_confidence"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class UnansweredGroup:
    example: str
    count: int
    questions: list[str]


@dataclass(frozen=True)
class AssistantReport:
    since: datetime
    until: datetime
    offered: int
    resolved: int
    handed_off: int
    holding: int
    reopened: int
    deflection_rate: float | None
    resolutions: dict[str, int] = field(default_factory=dict)
    handoff_reasons: dict[str, int] = field(default_factory=dict)
    answers_per_article: dict[str, int] = field(default_factory=dict)
    unanswered: list[UnansweredGroup] = field(default_factory=list)


def _words(text: str) -> list[str]:
    """Plain words: the router does not load the assistant's Korean analyser (memory)."""
    return [w.lower() for w in _WORD.findall(text)]


async def assistant_report(
    ctx: RouterContext, *, since: datetime, until: datetime, max_groups: int = 20
) -> AssistantReport:
    async with ctx.uow.reader() as uow:
        rows = (
            await uow.session.execute(
                select(
                    Conversation.assistant_status,
                    Conversation.assistant_outcome,
                    func.count(),
                )
                .where(Conversation.assistant_status.is_not(None))
                .where(Conversation.opened_at >= since, Conversation.opened_at <= until)
                .group_by(Conversation.assistant_status, Conversation.assistant_outcome)
            )
        ).all()
        answers = (
            await uow.session.execute(
                select(InteractionRecord.subject, func.count())
                .where(InteractionRecord.kind == ANSWER_KIND)
                .where(InteractionRecord.occurred_at >= since)
                .where(InteractionRecord.occurred_at <= until)
                .group_by(InteractionRecord.subject)
            )
        ).all()
        unanswered = list(
            await uow.session.scalars(
                select(InteractionRecord.text)
                .where(InteractionRecord.kind == HANDOFF_KIND)
                .where(InteractionRecord.note.like(f"handoff: {UNANSWERED_REASON};%"))
                .where(InteractionRecord.occurred_at >= since)
                .where(InteractionRecord.occurred_at <= until)
                .order_by(InteractionRecord.occurred_at)
            )
        )
    by_status: Counter[str] = Counter()
    resolutions: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for status, outcome, count in rows:
        by_status[status] += count
        if status == "resolved" and outcome:
            resolutions[outcome] += count
        if status == "handed_off" and outcome:
            reasons[outcome] += count
    offered = sum(by_status.values())
    groups = group_questions(unanswered, terms=_words, idf={})[:max_groups]
    return AssistantReport(
        since=since,
        until=until,
        offered=offered,
        resolved=by_status["resolved"],
        handed_off=by_status["handed_off"],
        holding=sum(by_status[s] for s in ASSISTANT_HOLDING),
        reopened=by_status["reopened"],
        deflection_rate=round(by_status["resolved"] / offered, 4) if offered else None,
        resolutions=dict(resolutions),
        handoff_reasons=dict(reasons.most_common()),
        answers_per_article={a or "?": n for a, n in sorted(answers, key=lambda r: -r[1])},
        unanswered=[UnansweredGroup(g.example, g.size, list(g.questions)) for g in groups],
    )
