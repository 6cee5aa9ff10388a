"""Console pages over the router's real store and runtime (httpx ASGI transport, SQLite).

The browser suite (tests/browser) drives the same pages in chromium; these check the
server side quickly: sign-in, CSRF, access, every page renders, actions call the services.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from services.router.app import create_app
from services.router.domain.assignment import AgentStatus
from services.router.runtime import RouterRuntime
from services.router.service.agents import set_agent_status
from services.router.service.api_keys import Role, create_api_key, key_id_of, revoke_api_key
from services.router.service.interactions import Incoming, route_batch
from services.router.settings import RouterSettings

pytestmark = pytest.mark.integration


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def mail(now: datetime, email: str, text: str, message_id: str) -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email=email, display_name="<b>Mallory</b>"),
        subject="배송 문의",
        body=MessageBody(text=text),
        thread=ThreadHints(message_id=message_id),
    )


@pytest.fixture
async def console(kafka_topics, tmp_path):
    clock = MovableClock()
    settings = RouterSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'router.db'}",
        state_dir=tmp_path,
        kafka=kafka_topics,
        consumer_group=f"router-{uuid.uuid4().hex[:8]}",
        csat_secret="integration-test-secret-0123456789",
        blob_dirs=[tmp_path / "blobs"],
        dev_mode=False,
        log_format="text",
    )
    runtime = RouterRuntime(settings, clock=clock, run_consumer=False, run_scheduler=False)
    await runtime.start()
    app = create_app(settings, clock=clock)
    app.state.runtime = runtime
    ctx = runtime.ctx
    keys = {
        "lee": await create_api_key(ctx, role=Role.AGENT, name="lee", agent_id="agent-lee"),
        "smith": await create_api_key(ctx, role=Role.AGENT, name="smith", agent_id="agent-smith"),
        "lead": await create_api_key(ctx, role=Role.SUPERVISOR, name="lead", agent_id="lead-kim"),
    }
    await set_agent_status(ctx, "agent-lee", AgentStatus.ONLINE)
    text = "한국어 문의입니다 <script>alert(1)</script> 배송이 늦어요"
    await route_batch(ctx, [Incoming("c-1", mail(clock(), "a@example.com", text, "m1@x"))])
    transport = httpx.ASGITransport(app=app)
    yield app, runtime, keys, clock, transport
    await runtime.stop()


@contextlib.asynccontextmanager
async def signed_in(transport, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        form = await client.get("/console/login")
        answer = await client.post(
            "/console/login", data={"csrf": csrf_of(form.text), "api_key": key}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/console/inbox"
        yield client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def test_sign_in_cookie_flags_and_sign_out(console):
    _, _, keys, _, transport = console
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as anon:
        assert (await anon.get("/console/inbox")).headers["location"] == "/console/login"
        form = await anon.get("/console/login")
        token = csrf_of(form.text)
        wrong = await anon.post("/console/login", data={"csrf": token, "api_key": "odk_nope"})
        assert wrong.headers["location"] == "/console/login?failed=1"
        no_csrf = await anon.post("/console/login", data={"api_key": keys["lee"]})
        assert no_csrf.status_code == 403
        ok = await anon.post(
            "/console/login",
            data={"csrf": token, "api_key": keys["lee"]},
            headers={"X-Forwarded-Proto": "https"},
        )
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        assert keys["lee"] not in ok.headers["set-cookie"]  # the cookie names the key's id only
    async with signed_in(transport, keys["lee"]) as client:
        inbox = await client.get("/console/inbox")
        assert inbox.status_code == 200 and "C-" in inbox.text
        assert "script-src 'self'" in inbox.headers["content-security-policy"]
        out = await client.post("/console/logout", data={"csrf": csrf_of(inbox.text)})
        assert out.headers["location"] == "/console/login"
        client.cookies.clear()
        assert (await client.get("/console/inbox")).status_code == 303


async def test_revoking_the_key_ends_the_session(console):
    _, runtime, keys, _, transport = console
    async with signed_in(transport, keys["lee"]) as client:
        assert (await client.get("/console/inbox")).status_code == 200
        await revoke_api_key(runtime.ctx, await key_id_of(runtime.ctx, keys["lee"]))
        assert (await client.get("/console/inbox")).headers["location"] == "/console/login"


async def test_pages_render_escaped_in_both_languages(console):
    _, _, keys, _, transport = console
    async with signed_in(transport, keys["lead"]) as client:
        inbox = await client.get("/console/inbox")
        assert "받은 문의" in inbox.text  # lead-kim's locale is ko-KR
        conversation_id = re.search(r'data-id="([^"]+)"', inbox.text).group(1)
        page = await client.get(f"/console/conversations/{conversation_id}")
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text
        switched = await client.post(
            "/console/locale",
            data={"csrf": csrf_of(page.text), "locale": "en", "next": "/console/agents"},
        )
        assert switched.headers["location"] == "/console/agents"
        agents = await client.get("/console/agents")
        assert "Agents" in agents.text and "agent-lee" in agents.text
        reports = await client.get("/console/reports?days=7")
        assert reports.status_code == 200 and reports.text.count("<svg") == 5
        volume = await client.get("/console/reports/volume.csv?days=7")
        assert volume.text.splitlines()[0] == "channel,weekday,hour,opened"
        assert volume.text.splitlines()[1] == "email,Wed,1,1"


async def test_agents_see_their_queues_only(console):
    _, _, keys, _, transport = console
    async with signed_in(transport, keys["lead"]) as lead:
        conversation_id = re.search(r'data-id="([^"]+)"', (await lead.get("/console/inbox")).text)
    async with signed_in(transport, keys["smith"]) as smith:
        assert 'class="conversation"' not in (await smith.get("/console/inbox")).text
        page = await smith.get(f"/console/conversations/{conversation_id.group(1)}")
        assert page.status_code == 403 and "You cannot open this page." in page.text
        assert (await smith.get("/console/agents")).status_code == 403
        assert (await smith.get("/console/reports")).status_code == 403


async def test_actions_need_csrf_and_go_through_the_services(console):
    _, _, keys, clock, transport = console
    async with signed_in(transport, keys["lee"]) as client:
        inbox = await client.get("/console/inbox")
        conversation_id = re.search(r'data-id="([^"]+)"', inbox.text).group(1)
        url = f"/console/conversations/{conversation_id}"
        assert (await client.post(f"{url}/resolve", data={})).status_code == 403
        assert (await client.post(f"{url}/resolve", data={"csrf": "forged"})).status_code == 403
        token = csrf_of(inbox.text)
        replied = await client.post(f"{url}/reply", data={"csrf": token, "text": "확인하겠습니다"})
        assert replied.headers["location"] == url
        page = await client.get(url)
        assert 'data-reply-state="queued"' in page.text
        clock.now += timedelta(minutes=1)
        resolved = await client.post(f"{url}/resolve", data={"csrf": token})
        assert resolved.headers["location"] == url
        assert 'id="conversation-status">resolved<' in (await client.get(url)).text
        # Reopening needs a supervisor, as in the REST API.
        assert (await client.post(f"{url}/reopen", data={"csrf": token})).status_code == 403


async def test_the_sla_countdown_follows_the_injected_clock(console):
    _, _, keys, clock, transport = console
    async with signed_in(transport, keys["lee"]) as client:
        html = (await client.get("/console/inbox")).text
        warning = datetime.fromisoformat(re.search(r'data-warning="([^"]+)"', html).group(1))
        breach = datetime.fromisoformat(re.search(r'data-breach="([^"]+)"', html).group(1))
        assert 'class="sla sla-ok"' in html
        clock.now = warning + timedelta(seconds=1)
        assert 'class="sla sla-warning"' in (await client.get("/console/inbox")).text
        clock.now = breach + timedelta(seconds=1)
        assert 'class="sla sla-breach"' in (await client.get("/console/inbox")).text
