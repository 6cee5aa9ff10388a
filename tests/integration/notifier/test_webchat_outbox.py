"""The web-chat outbox against the real SQLite sent-log, read over HTTP as the widget does."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from libs.common.events import ReplyPath, utc_now
from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import OutboundMessage, OutboundPurpose, QuickReply, SendVerdict
from libs.providers.webchat.visitor import issue_visitor_token
from services.notifier.sentlog import SentLog, webchat_outbox
from services.notifier.webchat import (
    ServerStartError,
    WebchatSender,
    messages_after,
    outbox_app,
    serve_outbox,
)
from tools.testing.system import free_port

pytestmark = pytest.mark.integration

SITE = Integration(id="site", provider=Provider.WEBCHAT, secret=SecretStr("webchat-secret-0123"))


def message(visitor: str, key: str, text: str, **extra) -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=key,
        purpose=OutboundPurpose.AGENT_REPLY,
        text=text,
        path=ReplyPath(provider="webchat", integration="site", address=visitor),
        **extra,
    )


@pytest.fixture
async def sentlog(tmp_path):
    log = SentLog(f"sqlite+aiosqlite:///{tmp_path / 'sentlog.db'}")
    await log.open()
    yield log
    await log.close()


async def test_messages_are_stored_once_and_only_their_visitor_reads_them(sentlog):
    sender = WebchatSender(SITE, sentlog)
    first = await sender.send(message("v-1", "reply-1", "안녕하세요, 확인해 드릴게요."))
    again = await sender.send(message("v-1", "reply-1", "안녕하세요, 확인해 드릴게요."))
    assert first.verdict is SendVerdict.ACCEPTED and first.provider_message_id == "webchat-1"
    assert again.provider_message_id == first.provider_message_id  # a redelivery: one message
    buttons = [QuickReply(label=str(n), payload=f"csat:{n}") for n in (1, 2, 3, 4, 5)]
    await sender.send(message("v-1", "csat-1", "How did we do?", quick_replies=buttons))
    await sender.send(message("v-2", "reply-2", "for someone else"))
    app = outbox_app(sentlog, [SITE])
    token = issue_visitor_token(SITE, "v-1", now=utc_now())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notifier"
    ) as client:
        auth = {"Authorization": f"Bearer {token}"}
        page = (await client.get("/webchat/site/messages", headers=auth)).json()
        assert [m["text"] for m in page["messages"]] == [
            "안녕하세요, 확인해 드릴게요.",
            "How did we do?",
        ]
        assert page["messages"][1]["quick_replies"][4]["payload"] == "csat:5"
        later = await client.get(
            "/webchat/site/messages", params={"after": page["next_after"]}, headers=auth
        )
        assert later.json()["messages"] == []
        assert (await client.get("/webchat/site/messages")).status_code == 401
        forged = {"Authorization": f"Bearer {token[:-2]}xx"}
        assert (await client.get("/webchat/site/messages", headers=forged)).status_code == 401
        expired = issue_visitor_token(SITE, "v-1", now=utc_now() - timedelta(days=2))
        refused = await client.get(
            "/webchat/site/messages", headers={"Authorization": f"Bearer {expired}"}
        )
        assert refused.status_code == 401 and "expired" in refused.text
        assert (await client.get("/webchat/other/messages", headers=auth)).status_code == 404


async def test_the_stream_sends_each_message_as_a_server_sent_event(sentlog):
    """Over a real socket (the ASGI test transport buffers whole responses)."""
    await WebchatSender(SITE, sentlog).send(message("v-9", "r-9", "streamed"))
    stop, port = asyncio.Event(), free_port()
    server = asyncio.create_task(
        serve_outbox(sentlog, [SITE], host="127.0.0.1", port=port, stop=stop)
    )
    token = issue_visitor_token(SITE, "v-9", now=utc_now())
    seen: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async with asyncio.timeout(20):
                while True:  # the server is starting
                    try:
                        await client.get("/webchat/site/messages")
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.05)
                url = "/webchat/site/stream"
                async with client.stream("GET", url, params={"token": token}) as events:
                    assert events.headers["content-type"].startswith("text/event-stream")
                    async for line in events.aiter_lines():
                        seen.append(line)
                        if line.startswith("data: "):
                            break
    finally:
        stop.set()
        await server
    data = json.loads(seen[-1].removeprefix("data: "))
    assert data["text"] == "streamed" and "id: 1" in seen


@pytest.fixture
async def any_sentlog(sentlog_url):
    log = SentLog(sentlog_url)
    await log.open()
    yield log
    await log.close()


async def test_a_polls_messages_are_stored_at_once_in_order_and_once(any_sentlog):
    """On SQLite and PostgreSQL: outbox ids follow the poll's order (the widget's order);
    a key repeated within the poll or stored by an earlier poll is stored once and
    reported with its first id."""
    sender = WebchatSender(SITE, any_sentlog)
    first = await sender.send_many(
        [message("v-1", f"k-{n}", f"message {n}") for n in range(5)]
        + [message("v-1", "k-2", "message 2")]
    )
    ids = [int(o.provider_message_id.removeprefix("webchat-")) for o in first]
    assert ids[:5] == sorted(ids[:5]) and len(set(ids[:5])) == 5
    assert ids[5] == ids[2] and {o.verdict for o in first} == {SendVerdict.ACCEPTED}
    again = await sender.send_many([message("v-1", "k-4", "message 4"), message("v-1", "k-5", "5")])
    assert again[0].provider_message_id == first[4].provider_message_id
    stored = await messages_after(any_sentlog, "site", "v-1", 0)
    assert [m["text"] for m in stored] == [*(f"message {n}" for n in range(5)), "5"]
    assert await sender.send_many([]) == []


async def test_stored_rows_are_the_core_inserts_rows(any_sentlog):
    """The outbox insert with hand-bound parameters (one trip on SQLite) stores exactly
    what SQLAlchemy's Core insert of the same values stores (the created_at text on
    SQLite, the timestamp on PostgreSQL, the JSON body), read back raw."""
    sender = WebchatSender(SITE, any_sentlog)
    buttons = [QuickReply(label="도움이 됐어요", payload="도움이 됐어요")]
    sent = message("v-7", "fast", "안녕하세요 😀", quick_replies=buttons)
    await sender.send_many([sent])
    core = sender._row(message("v-7", "core", "안녕하세요 😀", quick_replies=buttons), utc_now())
    stored_at = select(webchat_outbox.c.created_at).where(
        webchat_outbox.c.idempotency_key == "fast"
    )
    async with any_sentlog.engine.begin() as conn:
        core["created_at"] = await conn.scalar(stored_at)
        await conn.execute(webchat_outbox.insert(), [core])
        raw = {
            key: tuple(row)
            for key, *row in (
                await conn.exec_driver_sql(
                    "SELECT idempotency_key, integration, visitor, purpose, body, created_at"
                    " FROM notifier_webchat_outbox WHERE visitor = 'v-7'"
                )
            ).all()
        }
    assert raw["fast"] == raw["core"]


async def test_a_taken_port_fails_the_outbox_at_once_instead_of_exiting_the_process(sentlog):
    """uvicorn's own ``sys.exit`` would escape every task of the notifier; the outbox raises
    a ``ServerStartError`` that names the address, before anything asked it to stop."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stop = asyncio.Event()
        with pytest.raises(ServerStartError, match=f"127.0.0.1:{port}"):
            await asyncio.wait_for(
                serve_outbox(sentlog, [SITE], host="127.0.0.1", port=port, stop=stop), 20
            )
        assert not stop.is_set()


async def test_a_polls_many_messages_each_get_their_own_id(any_sentlog):
    """SQLite reads the ids with an ``IN`` list padded to a recurring size (its last
    key repeated): each key still gets its own id, once."""
    sender = WebchatSender(SITE, any_sentlog)
    sent = await sender.send_many([message("v-9", f"many-{n}", f"m {n}") for n in range(21)])
    ids = [int(o.provider_message_id.removeprefix("webchat-")) for o in sent]
    assert ids == sorted(ids) and len(set(ids)) == 21
