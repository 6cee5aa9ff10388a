"""Console actions land in the audit trail with the signed-in agent as actor (#18)."""

from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.console.test_pages import console, csrf_of, signed_in
from tests.integration.privacy.test_audit_durability import AuditInsertRefused

__all__ = ["console"]
pytestmark = pytest.mark.integration


async def test_console_actions_are_audited_once_with_the_agent_as_actor(console):
    _, _, keys, _, transport = console
    async with signed_in(transport, keys["lee"]) as client:
        inbox = await client.get("/console/inbox")
        conversation_id = re.search(r'data-id="([^"]+)"', inbox.text).group(1)
        url = f"/console/conversations/{conversation_id}"
        token = csrf_of(inbox.text)
        await client.post(f"{url}/resolve", data={"csrf": token})
        refused = await client.post(f"{url}/reopen", data={"csrf": token})
        assert refused.status_code == 403
        await client.post("/console/logout", data={"csrf": token})
    async with signed_in(transport, keys["lead"]) as client:
        token = csrf_of((await client.get("/console/agents")).text)
        await client.post(
            "/console/agents/agent-lee/status", data={"csrf": token, "status": "away"}
        )

    async with httpx.AsyncClient(transport=transport, base_url="http://router") as api:
        page = await api.get("/audit", headers={"X-API-Key": keys["lead"]})
    assert page.status_code == 200
    rows = [r for r in page.json()["items"] if r["action"].startswith("console.")]
    seen = [(r["actor"], r["role"], r["action"], r["outcome"]) for r in rows]
    assert seen == [
        ("agent-lee", "agent", "console.sign_in", "ok"),
        ("agent-lee", "agent", "console.resolve", "ok"),
        ("agent-lee", "agent", "console.reopen", "403"),
        ("agent-lee", "agent", "console.sign_out", "ok"),
        ("lead-kim", "supervisor", "console.sign_in", "ok"),
        ("lead-kim", "supervisor", "console.agent_status", "ok"),
    ]
    resolve, status = rows[1], rows[5]
    assert resolve["conversation_id"] == conversation_id
    assert resolve["before"]["conversation"]["status"] != "resolved"
    assert resolve["after"]["conversation"]["status"] == "resolved"
    assert status["agent_id"] == "agent-lee" and status["after"]["agent"]["status"] == "away"
    assert all(r["address"] for r in rows)  # the caller's address (ASGI test client's)
    # No second row from the API's middleware: every row here was written by the console.
    assert not [r for r in page.json()["items"] if r["actor"] == "unknown"]
    assert not [r for r in page.json()["items"] if "/console" in r["action"]]


async def test_a_console_action_whose_row_cannot_be_written_does_not_happen(console):
    """The console's row rides the action's transaction too (service.audit)."""
    app, runtime, keys, _, _ = console
    unguarded = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with signed_in(unguarded, keys["lee"]) as client:
        inbox = await client.get("/console/inbox")
        conversation_id = re.search(r'data-id="([^"]+)"', inbox.text).group(1)
        resolve = f"/console/conversations/{conversation_id}/resolve"
        async with AuditInsertRefused(runtime.engine):
            failed = await client.post(resolve, data={"csrf": csrf_of(inbox.text)})
        assert failed.status_code == 500
        assert await status_of(runtime, conversation_id) != "resolved"
        done = await client.post(resolve, data={"csrf": csrf_of(inbox.text)})
        assert done.status_code == 303
    assert await status_of(runtime, conversation_id) == "resolved"
    async with runtime.engine.connect() as connection:
        query = sa.text("SELECT outcome FROM audit_log WHERE action = 'console.resolve'")
        assert (await connection.execute(query)).scalars().all() == ["ok"]


async def status_of(runtime, conversation_id: str) -> str:
    async with runtime.engine.connect() as connection:
        query = sa.text("SELECT status FROM conversations WHERE id = :id")
        return await connection.scalar(query, {"id": conversation_id})
