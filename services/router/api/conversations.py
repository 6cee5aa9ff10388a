"""/conversations: list, detail with timeline, transfer, resolve, reopen, reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.api.deps import AgentKey, ContextDep, SupervisorKey, caller_name
from services.router.api.schemas import (
    ConversationDetail,
    ConversationPage,
    ConversationRead,
    ReplyAccepted,
    ReplyRead,
    ReplyRefusedRead,
    ReplyRequest,
    TimelineEntryRead,
    TransferRequest,
)
from services.router.domain.lifecycle import ConversationStatus
from services.router.service import conversations as ops
from services.router.service import replies
from services.router.service.reporting import conversation_detail

router = APIRouter(prefix="/conversations", tags=["conversations"])

ERRORS = {
    404: {"description": "Conversation or agent not found"},
    409: {"description": "Not allowed in the conversation's status, or no capacity"},
}


@router.get("", response_model=ConversationPage, summary="List conversations (filtered, paged)")
async def read_conversations(
    ctx: ContextDep,
    _: AgentKey,
    status_: Annotated[ConversationStatus | None, Query(alias="status")] = None,
    queue: str | None = None,
    channel: Channel | None = None,
    priority: Priority | None = None,
    assignee_id: str | None = None,
    contact_id: str | None = None,
    language: str | None = None,
    breached: bool | None = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    filters = {
        "status": status_.value if status_ else None,
        "queue": queue,
        "channel": channel.value if channel else None,
        "priority": priority.value if priority else None,
        "assignee_id": assignee_id,
        "contact_id": contact_id,
        "language": language,
        "breached": breached,
    }
    async with ctx.uow.reader() as uow:
        items, total = await uow.conversations.search(filters=filters, offset=offset, limit=limit)
    return ConversationPage(
        items=[ConversationRead.model_validate(c) for c in items],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.get(
    "/{conversation_id}",
    response_model=ConversationDetail,
    responses=ERRORS,
    summary="A conversation with its full timeline",
)
async def read_conversation(
    conversation_id: str, ctx: ContextDep, _: AgentKey
) -> ConversationDetail:
    conversation, timeline = await conversation_detail(ctx, conversation_id)
    base = ConversationRead.model_validate(conversation).model_dump()
    entries = [TimelineEntryRead.model_validate(e, from_attributes=True) for e in timeline]
    return ConversationDetail(**base, timeline=entries)


@router.post(
    "/{conversation_id}/transfer",
    response_model=ConversationRead,
    responses=ERRORS,
    summary="Transfer to an agent or a queue",
)
async def transfer_conversation(
    conversation_id: str, body: TransferRequest, ctx: ContextDep, key: AgentKey
) -> ConversationRead:
    if body.to_agent is None and body.to_queue is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "name to_agent or to_queue")
    if body.force and key.role == "agent":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "force needs the supervisor role")
    try:
        conversation = await ops.transfer(
            ctx,
            conversation_id,
            to_agent=body.to_agent,
            to_queue=body.to_queue,
            by=caller_name(key),
            force=body.force,
        )
    except ValueError as exc:  # an unknown queue (InvalidTransition is a ValueError too)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return ConversationRead.model_validate(conversation)


@router.post(
    "/{conversation_id}/resolve",
    response_model=ConversationRead,
    responses=ERRORS,
    summary="Resolve (stops all clocks, sends a CSAT link)",
)
async def resolve_conversation(
    conversation_id: str, ctx: ContextDep, key: AgentKey
) -> ConversationRead:
    conversation = await ops.resolve(ctx, conversation_id, by=caller_name(key))
    return ConversationRead.model_validate(conversation)


@router.post(
    "/{conversation_id}/reopen",
    response_model=ConversationRead,
    responses=ERRORS,
    summary="Reopen a resolved conversation",
)
async def reopen_conversation(
    conversation_id: str, ctx: ContextDep, key: SupervisorKey
) -> ConversationRead:
    conversation = await ops.reopen(ctx, conversation_id, by=caller_name(key))
    return ConversationRead.model_validate(conversation)


@router.post(
    "/{conversation_id}/replies",
    response_model=ReplyAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: ERRORS[404],
        409: {"model": ReplyRefusedRead, "description": "The channel cannot be answered"},
        422: {"model": ReplyRefusedRead, "description": "Longer than the provider accepts"},
    },
    summary="Queue an agent reply (the clock stops when the provider accepts it)",
)
async def create_reply(
    conversation_id: str, body: ReplyRequest, ctx: ContextDep, key: AgentKey
) -> ReplyAccepted | JSONResponse:
    agent_id = body.agent_id or key.agent_id
    if agent_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "agent_id required")
    try:
        result = await replies.request_reply(
            ctx, conversation_id, agent_id=agent_id, text=body.text
        )
    except replies.ReplyRefused as exc:
        refusal = exc.refusal
        body_ = ReplyRefusedRead(code=refusal.code, detail=refusal.detail, limit=refusal.limit)
        return JSONResponse(body_.model_dump(), status_code=refusal.status)
    return ReplyAccepted(
        reply_id=result.reply_id,
        conversation_id=conversation_id,
        state=result.state.value,
        created_at=result.created_at,
    )


@router.get(
    "/{conversation_id}/replies",
    response_model=list[ReplyRead],
    responses={404: ERRORS[404]},
    summary="Replies of a conversation with their delivery states",
)
async def read_replies(conversation_id: str, ctx: ContextDep, _: AgentKey) -> list[ReplyRead]:
    rows = await replies.replies_of(ctx, conversation_id)
    return [ReplyRead.model_validate(r) for r in rows]
