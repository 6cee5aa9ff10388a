"""Routing's output, byte for byte: a fixed mixed traffic on a fixed clock, every outbox
payload and every stored row compared with a golden file.

The router's per-decision code is tuned for CPU (issue #16); this pins down that such
work changes nothing a consumer or the database sees. Regenerate the file only for an
intended change of output: ``OMNIDESK_UPDATE_GOLDEN=1 pytest <this file> -k sqlite``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from libs.common.events.interaction import (
    CallDetails,
    Channel,
    CustomerIdentity,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    ThreadHints,
)
from services.router.domain.assignment import AgentStatus
from services.router.service.agents import seed_agents, set_agent_status
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.store.models import Base

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parent / "golden" / "routing_batches.json"
#: Tables whose rows carry no routing output (or ids a fresh database makes differently).
SKIPPED_TABLES = {"api_keys", "audit_log", "alembic_version"}


def mail(
    at: datetime, email: str, message_id: str, *, reply_to: str | None = None, **extra: Any
) -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(email=email, display_name=extra.pop("name", None)),
        subject=extra.pop("subject", "Deposit not credited"),
        body=MessageBody(text=extra.pop("text", "My deposit is missing")),
        thread=ThreadHints(message_id=message_id, in_reply_to=[reply_to] if reply_to else []),
        **extra,
    )


def chat(at: datetime, phone: str, thread: str, text: str, **extra: Any) -> Interaction:
    return Interaction(
        channel=Channel.CHAT,
        provider="whatsapp",
        integration=extra.pop("integration", "wa"),
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(phone=phone),
        body=MessageBody(text=text),
        thread=ThreadHints(provider_thread_id=thread),
        **extra,
    )


def missed_call(at: datetime, phone: str, call_id: str) -> Interaction:
    return Interaction(
        channel=Channel.PHONE,
        provider="twilio",
        integration="main",
        kind=InteractionKind.CALL_MISSED,
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(phone=phone),
        body=MessageBody(text=""),
        call=CallDetails(
            call_id=call_id,
            group_id=call_id,
            from_number=phone,
            to_number="+8215880000",
            status="missed",
            callback_requested=True,
        ),
    )


CHAT_TEXTS = ("입금이 안 들어왔어요", "로그인이 안 돼요", "출금이 지연되고 있어요")


def batches(start: datetime) -> list[list[Incoming]]:
    """Three polls: Wednesday morning, Wednesday just before closing, Friday night."""
    evening = start.replace(hour=8, minute=45)  # 17:45 KST: clocks run over the night
    friday = start + timedelta(days=2, hours=12)  # 22:00 KST: over the weekend
    first = [
        Incoming("g-mail-1", mail(start, "kim@example.com", "<m1@kim>", name="김민지")),
        Incoming(
            "g-mail-1-reply",
            mail(start, "kim@example.com", "<m2@kim>", reply_to="<m1@kim>", text="still nothing"),
        ),
        Incoming(
            "g-mail-en", mail(start, "ann@example.com", "<a1@ann>", text="Where is my money?")
        ),
        Incoming("g-mail-vip", mail(start, "vip@example.com", "<v1@vip>", text="Hello")),
        Incoming("g-mail-hacked", mail(start, "lee@example.com", "<h1@lee>", text="I was hacked")),
        Incoming("g-call", missed_call(start, "+821012340000", "CA-1")),
        *(
            Incoming(f"g-chat-{n}", chat(start, f"+8210555{n:05d}", f"t{n}", CHAT_TEXTS[n % 3]))
            for n in range(10)  # more chats than online agents can take: some queue
        ),
        Incoming("g-chat-0-again", chat(start, "+821055500000", "t0", "언제 되나요?")),
        Incoming(
            "g-chat-faq", chat(start, "+821077700000", "f1", "how do I deposit?", integration="faq")
        ),
        Incoming(
            "g-chat-flagged",
            chat(start, "+821088800000", "t-flag", "hello", flags=Flags(vip=True)),
        ),
    ]
    second = [
        Incoming(
            "g-mail-1-again",
            mail(evening, "kim@example.com", "<m3@kim>", reply_to="<m2@kim>", text="please"),
        ),
        Incoming("g-mail-new-evening", mail(evening, "late@example.com", "<l1@late>")),
        Incoming("g-call-again", missed_call(evening, "+821012340000", "CA-2")),
        Incoming("g-chat-3-again", chat(evening, "+821055500003", "t3", "hello?")),
        Incoming("g-mail-1-reply", mail(start, "kim@example.com", "<m2@kim>")),  # a duplicate
    ]
    third = [
        Incoming("g-mail-weekend", mail(friday, "weekend@example.com", "<w1@weekend>")),
        Incoming(
            "g-mail-en-again",
            mail(friday, "ann@example.com", "<a2@ann>", reply_to="<a1@ann>", text="Hello?"),
        ),
        Incoming("g-chat-weekend", chat(friday, "+821099900000", "tw", "주말에도 되나요")),
    ]
    return [first, second, third]


async def routed_output(ctx: RouterContext, clock: Any) -> dict[str, Any]:
    await seed_agents(ctx)
    for agent_id in ("agent-park", "agent-lee", "lead-kim"):
        await set_agent_status(ctx, agent_id, AgentStatus.ONLINE)
    for batch in batches(clock()):
        clock.set(batch[0].interaction.received_at + timedelta(seconds=5))
        await route_batch(ctx, batch)
    return await stored_rows(ctx)


async def stored_rows(ctx: RouterContext) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    async with ctx.uow() as uow:
        for table in Base.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            order = [*table.primary_key.columns] or [*table.columns]
            rows = (await uow.session.execute(select(table).order_by(*order))).mappings()
            tables[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return tables


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


async def test_routing_output_is_the_golden_one(
    ctx: RouterContext, clock: Any, database_url: str
) -> None:
    output = await routed_output(ctx, clock)
    if os.environ.get("OMNIDESK_UPDATE_GOLDEN") and database_url.startswith("sqlite"):
        GOLDEN.write_text(json.dumps(output, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert golden["outbox"], "the golden traffic emits events"
    for table, rows in golden.items():
        assert output[table] == rows, f"table {table} differs from the golden output"
    assert set(output) == set(golden)
