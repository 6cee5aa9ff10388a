"""/csat: a customer's rating, authorised by the signed token from the resolution mail."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from services.router.api.deps import ContextDep
from services.router.api.schemas import CsatRead, CsatRequest
from services.router.service.agents import NotFound
from services.router.service.csat import InvalidToken
from services.router.service.reporting import record_csat

router = APIRouter(prefix="/csat", tags=["csat"])


@router.post(
    "",
    response_model=CsatRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record a rating (1-5) with a signed token; no API key needed",
    responses={403: {"description": "Invalid or expired token"}},
)
async def create_rating(body: CsatRequest, ctx: ContextDep) -> CsatRead:
    try:
        conversation_id = await record_csat(
            ctx, body.token, rating=body.rating, comment=body.comment
        )
    except InvalidToken as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return CsatRead(conversation_id=conversation_id, rating=body.rating)
