"""/csat: the customer's rating, authorised by the signed link or token (no API key).

- ``GET /csat?c=…&s=…&t=…&sig=…`` (the link in the survey): a small form in the
  customer's language with the chosen score preselected; forged → 403,
  expired → 410 (friendly pages).
- ``POST /csat?c=…&s=…&t=…&sig=…`` with the form (``rating``, ``comment``): records
  the answer (one per conversation; a new answer replaces it) and thanks.
- ``POST /csat`` with JSON ``{token, rating, comment}``: the same for API clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse

from services.router.api import csat_pages
from services.router.api.deps import ContextDep
from services.router.api.schemas import CsatRead, CsatRequest
from services.router.service.agents import NotFound
from services.router.service.context import RouterContext
from services.router.service.csat import InvalidToken, TokenExpired
from services.router.service.csat_answers import (
    RatingPage,
    open_rating_link,
    record_rating,
)

router = APIRouter(prefix="/csat", tags=["csat"])

LINK_ERRORS = {
    403: {"description": "Forged link (signature or token)"},
    404: {"description": "Unknown conversation"},
    410: {"description": "Expired link"},
}


@dataclass(frozen=True)
class LinkQuery:
    """The signed link's query string (c, s, t, sig)."""

    conversation_id: str
    score: int
    token: str
    signature: str


Conversation = Annotated[str, Query(max_length=64, description="Conversation id")]
Score = Annotated[int, Query(ge=1, le=5, description="Score chosen in the survey")]
Token = Annotated[str, Query(max_length=300, description="The router's CSAT token")]
Signature = Annotated[str, Query(max_length=128, description="HMAC of c, s and t")]


async def _open(ctx: RouterContext, link: LinkQuery) -> RatingPage | HTMLResponse:
    try:
        return await open_rating_link(
            ctx,
            conversation_id=link.conversation_id,
            score=link.score,
            token=link.token,
            signature=link.signature,
        )
    except TokenExpired:
        return HTMLResponse(csat_pages.refusal("en", "expired"), status.HTTP_410_GONE)
    except InvalidToken:
        return HTMLResponse(csat_pages.refusal("en", "forged"), status.HTTP_403_FORBIDDEN)
    except NotFound:
        return HTMLResponse(csat_pages.refusal("en", "forged"), status.HTTP_404_NOT_FOUND)


@router.get("", response_class=HTMLResponse, responses=LINK_ERRORS, summary="The rating form")
async def read_rating_form(
    request: Request, ctx: ContextDep, c: Conversation, s: Score, t: Token, sig: Signature
) -> HTMLResponse:
    page = await _open(ctx, LinkQuery(c, s, t, sig))
    if isinstance(page, HTMLResponse):
        return page
    action = f"{request.url.path.rstrip('/')}/form?{request.url.query}"
    return HTMLResponse(
        csat_pages.rating_form(
            page.locale,
            reference=page.reference,
            score=page.score,
            current=page.current,
            action=action,
        )
    )


@router.post(
    "/form",
    response_class=HTMLResponse,
    responses=LINK_ERRORS,
    summary="Record the form's answer (the signed link's query string authorises it)",
)
async def create_rating_from_form(
    ctx: ContextDep,
    c: Conversation,
    s: Score,
    t: Token,
    sig: Signature,
    rating: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str | None, Form(max_length=2000)] = None,
) -> HTMLResponse:
    page = await _open(ctx, LinkQuery(c, s, t, sig))
    if isinstance(page, HTMLResponse):
        return page
    await record_rating(ctx, t, rating=rating, comment=comment or None)
    return HTMLResponse(
        csat_pages.thanks(page.locale, reference=page.reference, score=rating),
        status.HTTP_201_CREATED,
    )


@router.post(
    "",
    response_model=CsatRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record a rating (1-5) with a signed token; no API key needed",
    responses={403: {"description": "Invalid token"}, 410: {"description": "Expired token"}},
)
async def create_rating(body: CsatRequest, ctx: ContextDep) -> CsatRead:
    conversation_id = await record_rating(ctx, body.token, rating=body.rating, comment=body.comment)
    return CsatRead(conversation_id=conversation_id, rating=body.rating)
