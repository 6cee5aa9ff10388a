"""CSAT answers: from a signed rating link (web form) or the customer's chat reply.

One answer per conversation; a later answer within the token's validity
replaces the earlier one (the customer changed their mind).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.common.csat_links import SCORES, verify_rating_link
from services.router.metrics import CSAT_ANSWERS
from services.router.service.agents import NotFound
from services.router.service.context import RouterContext
from services.router.service.csat import InvalidToken
from services.router.store.models import Conversation, CsatRating
from services.router.store.unit_of_work import UnitOfWork

#: "csat:4" (a quick-reply payload), "4", "4점", "⭐4" … — nothing else on the line.
CHAT_ANSWER = re.compile(r"^\s*(?:csat:)?\s*[⭐★]?\s*([1-5])\s*(?:점|/5|stars?)?\s*$", re.I)


class LinkForged(InvalidToken):
    """The link's signature does not match its contents: 403."""


@dataclass(frozen=True)
class RatingPage:
    conversation_id: str
    reference: str
    locale: str
    score: int
    current: int | None


def page_locale(conversation: Conversation) -> str:
    language = conversation.language or (conversation.customer or {}).get("locale") or ""
    return "ko" if language.lower().startswith("ko") else "en"


async def open_rating_link(
    ctx: RouterContext, *, conversation_id: str, score: int, token: str, signature: str
) -> RatingPage:
    """Check a rating link (forged → LinkForged, expired → TokenExpired) and describe the form."""
    if not verify_rating_link(ctx.csat_link_secret, conversation_id, score, token, signature):
        raise LinkForged("the link's signature does not match")
    if ctx.csat.verify(token, ctx.clock()) != conversation_id:
        raise LinkForged("the token belongs to another conversation")
    async with ctx.uow.reader() as uow:
        conversation = await uow.conversations.get(conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id}")
        existing = await uow.session.get(CsatRating, conversation_id)
    return RatingPage(
        conversation_id,
        conversation.reference,
        page_locale(conversation),
        score,
        existing.rating if existing else None,
    )


async def record_rating(ctx: RouterContext, token: str, *, rating: int, comment: str | None) -> str:
    now = ctx.clock()
    conversation_id = ctx.csat.verify(token, now)
    async with ctx.uow() as uow:
        if await uow.conversations.get(conversation_id) is None:
            raise NotFound(f"conversation {conversation_id}")
        await store_rating(uow, conversation_id, rating, comment, now)
        await uow.commit()
    return conversation_id


async def store_rating(
    uow: UnitOfWork, conversation_id: str, rating: int, comment: str | None, at: datetime
) -> None:
    if rating not in SCORES:
        raise ValueError(f"rating {rating} is not 1-5")
    existing = await uow.session.get(CsatRating, conversation_id)
    if existing is None:
        uow.session.add(
            CsatRating(conversation_id=conversation_id, rating=rating, comment=comment, rated_at=at)
        )
    else:  # a customer may change their mind; the last rating counts
        existing.rating, existing.comment, existing.rated_at = rating, comment, at
    CSAT_ANSWERS.labels(str(rating)).inc()


def chat_answer(text: str) -> int | None:
    """The score in a customer's chat reply to a survey, if that is all it says."""
    match = CHAT_ANSWER.match(text or "")
    return int(match.group(1)) if match else None


def survey_open(conversation: Conversation, now: datetime, valid_for: timedelta) -> bool:
    """A resolved conversation whose survey can still be answered."""
    resolved = conversation.resolved_at
    return resolved is not None and now - resolved <= valid_for
