"""The agent/ops REST API over a real store and broker (httpx ASGI transport)."""

from __future__ import annotations

import asyncio
import json
import os
import signal

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
from services.router.runtime import RouterRuntime
from services.router.service.api_keys import Role, authenticate, create_api_key
from services.router.service.interactions import Incoming, route_batch
from services.router.service.replies import apply_outcome
from services.router.store.outbox import rows_for_conversation
from tests.integration.router.helpers import reply_outcome

pytestmark = pytest.mark.integration


def mail(clock, email: str, text: str = "Where is my deposit?") -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email=email),
        subject="Deposit",
        body=MessageBody(text=text),
        thread=ThreadHints(message_id=f"{email}-1@mail"),
    )


@pytest.fixture
async def api(router_settings, clock):
    runtime = RouterRuntime(router_settings, clock=clock, run_consumer=False, run_scheduler=False)
    await runtime.start()
    app = create_app(router_settings, clock=clock)
    app.state.runtime = runtime  # the ASGI transport runs no lifespan; we started it ourselves
    ctx = runtime.ctx
    keys = {
        role: await create_api_key(
            ctx,
            role=role,
            name=f"test-{role}",
            agent_id="agent-smith" if role is Role.AGENT else None,
        )
        for role in Role
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        yield client, keys, runtime
    await runtime.stop()


def auth(keys, role: Role) -> dict[str, str]:
    return {"X-API-Key": keys[role]}


async def test_keys_and_roles_are_enforced(api):
    client, keys, _ = api
    assert (await client.get("/agents")).status_code == 401
    assert (await client.get("/agents", headers={"X-API-Key": "odk_wrong"})).status_code == 401
    assert (await client.get("/agents", headers=auth(keys, Role.AGENT))).status_code == 200
    assert (await client.get("/reports/metrics", headers=auth(keys, Role.AGENT))).status_code == 403
    body = {"id": "agent-new", "name": "New", "queues": ["general"]}
    assert (
        await client.post("/agents", json=body, headers=auth(keys, Role.SUPERVISOR))
    ).status_code == 403
    created = await client.post("/agents", json=body, headers=auth(keys, Role.ADMIN))
    assert created.status_code == 201 and created.json()["capacity"]["chat"] == 3
    assert (
        await client.post("/agents", json=body, headers=auth(keys, Role.ADMIN))
    ).status_code == 409
    issued = await client.post(
        "/api-keys",
        json={"role": "agent", "name": "lee", "agent_id": "agent-lee"},
        headers=auth(keys, Role.ADMIN),
    )
    assert issued.status_code == 201 and issued.json()["key"].startswith("odk_")
    lee = {"X-API-Key": issued.json()["key"]}
    assert (
        await client.put("/agents/agent-lee/status", json={"status": "away"}, headers=lee)
    ).status_code == 200
    other = await client.put(
        "/agents/agent-lee/status", json={"status": "online"}, headers=auth(keys, Role.AGENT)
    )
    assert other.status_code == 403  # an agent sets only their own status


async def test_conversation_lifecycle_through_the_api(api, clock):
    client, keys, runtime = api
    ctx = runtime.ctx
    await route_batch(ctx, [Incoming("api-1", mail(clock, "buyer@example.com"))])
    sup = auth(keys, Role.SUPERVISOR)
    page = (await client.get("/conversations", params={"queue": "en-support"}, headers=sup)).json()
    assert page["total"] == 1 and page["items"][0]["assignee_id"] is None  # nobody online: queued
    filtered = await client.get(
        "/conversations", params={"language": "en", "breached": "false", "limit": 1}, headers=sup
    )
    assert filtered.json()["total"] == 1
    none = await client.get("/conversations", params={"breached": "true"}, headers=sup)
    assert none.json()["total"] == 0
    conversation_id = page["items"][0]["id"]

    online = await client.put(
        "/agents/agent-smith/status", json={"status": "online"}, headers=auth(keys, Role.AGENT)
    )
    assert online.status_code == 200
    detail = (await client.get(f"/conversations/{conversation_id}", headers=sup)).json()
    assert detail["assignee_id"] == "agent-smith"  # assigned as soon as an agent came online
    types = [e["type"] for e in detail["timeline"]]
    assert types[0] == "inbound.message" and "support.conversation.assigned" in types

    offline = await client.put(
        "/agents/agent-smith/status", json={"status": "offline"}, headers=auth(keys, Role.AGENT)
    )
    assert offline.status_code == 200
    requeued = (await client.get(f"/conversations/{conversation_id}", headers=sup)).json()
    assert requeued["assignee_id"] is None and requeued["queued_at"] is not None
    await client.put(
        "/agents/agent-smith/status", json={"status": "online"}, headers=auth(keys, Role.AGENT)
    )
    back = (await client.get(f"/conversations/{conversation_id}", headers=sup)).json()
    assert back["assignee_id"] == "agent-smith"

    reply = await client.post(
        f"/conversations/{conversation_id}/replies",
        json={"text": "We found it."},
        headers=auth(keys, Role.AGENT),
    )
    assert reply.status_code == 202 and reply.json()["state"] == "queued"
    queued = (await client.get(f"/conversations/{conversation_id}", headers=sup)).json()
    assert queued["first_response_at"] is None  # queued is not answered
    await apply_outcome(
        ctx, "relay-250", reply_outcome(reply.json()["reply_id"], conversation_id, clock())
    )
    after = (await client.get(f"/conversations/{conversation_id}", headers=sup)).json()
    assert after["status"] == "waiting_on_customer" and after["first_response_at"] is not None

    moved = await client.post(
        f"/conversations/{conversation_id}/transfer", json={"to_queue": "general"}, headers=sup
    )
    assert moved.status_code == 200 and moved.json()["queue"] == "general"
    too_full = await client.post(
        f"/conversations/{conversation_id}/transfer", json={"to_agent": "agent-park"}, headers=sup
    )
    assert too_full.status_code == 409  # agent-park is offline

    resolved = await client.post(
        f"/conversations/{conversation_id}/resolve", headers=auth(keys, Role.AGENT)
    )
    assert resolved.json()["status"] == "resolved"
    assert (
        await client.post(f"/conversations/{conversation_id}/resolve", headers=sup)
    ).status_code == 409
    async with ctx.uow.reader() as uow:
        rows = await rows_for_conversation(uow.session, conversation_id)
    by_type = {r.ce_type: r for r in rows}
    assert "support.reply.requested" in by_type
    assert '"in_reply_to":"buyer@example.com-1@mail"' in by_type["support.reply.requested"].payload
    token = json.loads(by_type["support.conversation.resolved"].payload)["csat_token"]

    rated = await client.post("/csat", json={"token": token, "rating": 5, "comment": "fast"})
    assert rated.status_code == 201
    assert (await client.post("/csat", json={"token": token + "x", "rating": 1})).status_code == 403

    metrics = (await client.get("/reports/metrics", params={"group_by": "all"}, headers=sup)).json()
    (row,) = metrics["rows"]
    assert row["opened"] == 1 and row["resolved"] == 1 and row["csat_average"] == 5.0
    assert row["sla_attainment"] == 1.0 and row["first_response_minutes_avg"] == 0.0

    reopened = await client.post(f"/conversations/{conversation_id}/reopen", headers=sup)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


async def test_queues_policies_reload_and_openapi(api):
    client, keys, _ = api
    queues = (await client.get("/queues", headers=auth(keys, Role.AGENT))).json()
    assert {q["name"] for q in queues} >= {"ko-support", "escalations"}
    policies = (await client.get("/policies", headers=auth(keys, Role.AGENT))).json()
    assert policies[-1]["match"] == {"queues": [], "priorities": [], "channels": []}
    assert (
        await client.post("/config/reload", headers=auth(keys, Role.SUPERVISOR))
    ).status_code == 403
    reload = await client.post("/config/reload", headers=auth(keys, Role.ADMIN))
    assert reload.status_code == 200 and reload.json()["queues"] == len(queues)
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    for path in (
        "/conversations/{conversation_id}/transfer",
        "/csat",
        "/reports/metrics",
        "/readyz",
    ):
        assert path in spec["paths"]
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "workers": "ok"}


async def test_dev_admin_key_is_created_once_and_kept(router_settings, clock):
    settings = router_settings.model_copy(update={"dev_mode": True})
    first = RouterRuntime(settings, clock=clock, run_consumer=False, run_scheduler=False)
    await first.start()
    try:
        key = first.dev_admin_key
        assert key and (settings.state_dir / "dev-admin-key").read_text().strip() == key
        found = await authenticate(first.ctx, key)
        assert found is not None and found.role == "admin"
    finally:
        await first.stop()
    again = RouterRuntime(settings, clock=clock, run_consumer=False, run_scheduler=False)
    await again.start()
    await again.stop()
    assert again.dev_admin_key is None  # not a second key


async def test_sighup_reloads_and_keeps_the_old_config_when_invalid(
    router_settings, clock, tmp_path
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(router_settings.rules_path.read_text())
    settings = router_settings.model_copy(update={"rules_path": rules})
    runtime = RouterRuntime(settings, clock=clock, run_consumer=False, run_scheduler=False)
    await runtime.start()
    try:
        before = runtime.ctx.config.current
        rules.write_text("rules: [{name: x, then: {queue: atlantis}}]")
        runtime.reload_config()
        await settled(runtime)
        assert runtime.ctx.config.current is before  # invalid: kept
        rules.write_text("defaults: {queue: general}\nrules: []\n")
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(500):  # the handler runs on a coming loop iteration, then a task
            if runtime.ctx.config.current is not before:
                break
            await asyncio.sleep(0.01)
        assert runtime.ctx.config.current.rules.rules == []
    finally:
        await runtime.stop()


async def settled(runtime: RouterRuntime) -> None:
    """Wait for the reload task a SIGHUP (or ``reload_config``) started."""
    reloads = [t for t in runtime._tasks if t.get_name() == "router-config-reload"]
    await asyncio.gather(*reloads)
