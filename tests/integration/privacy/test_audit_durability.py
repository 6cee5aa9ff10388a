"""No committed action without its audit row (issue #18), on SQLite AND PostgreSQL.

The row of an API action rides the action's own transaction, so:
- the database refusing the audit insert (a trigger, injected for the test)
  rolls the action back — the conversation stays as it was;
- a router that dies right after the action's commit (its commit callback
  fails and every later write with it, injected through the composition
  root's unit-of-work hooks) still leaves the row — the old middleware wrote
  it afterwards, in a transaction that never came (and not at all when the
  request ended in an exception).
Configuration reloads commit their row before they apply (no row → not
applied); API-key changes made by the CLI carry theirs in the key's
transaction.
"""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa

from services.router.service.api_keys import Role, create_api_key, revoke_api_key
from services.router.service.audit import cli_audit_entry
from services.router.service.interactions import route_batch
from services.router.store.unit_of_work import UnitOfWork
from tests.integration.privacy.test_router_erasure import interactions, router
from tests.integration.router.conftest import clock, database_url, postgres_server, router_settings

__all__ = ["clock", "database_url", "postgres_server", "router", "router_settings"]
pytestmark = pytest.mark.integration

RESOLVE = "POST /conversations/{conversation_id}/resolve"


async def rows(runtime, action: str | None = None) -> list[dict]:
    async with runtime.engine.connect() as connection:
        query = sa.text("SELECT * FROM audit_log ORDER BY id")
        found = [dict(r._mapping) for r in (await connection.execute(query)).all()]
    return [r for r in found if action is None or r["action"] == action]


async def status_of(runtime, conversation_id: str) -> str:
    async with runtime.engine.connect() as connection:
        query = sa.text("SELECT status FROM conversations WHERE id = :id")
        return await connection.scalar(query, {"id": conversation_id})


async def one_conversation(client, keys, runtime, clock) -> str:
    await route_batch(runtime.ctx, interactions(clock)[:1])
    listed = await client.get("/conversations", headers={"X-API-Key": keys[Role.SUPERVISOR]})
    [conversation] = listed.json()["items"]
    return conversation["id"]


def unguarded(client) -> httpx.AsyncClient:
    """The same app, but a failing request answers 500 instead of raising in the test."""
    transport = httpx.ASGITransport(
        app=client.transport_for_tests.app, client=("127.0.0.1", 5000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url="http://router")


class AuditInsertRefused:
    """The database refuses audit rows (as a full or broken audit table would)."""

    SQLITE = (
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'audit trail unavailable'); END"
    )
    PG_FUNCTION = (
        "CREATE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN"
        " RAISE EXCEPTION 'audit trail unavailable'; END; $$ LANGUAGE plpgsql"
    )
    PG_TRIGGER = (
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_down()"
    )

    def __init__(self, engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    async def __aenter__(self) -> None:
        async with self.engine.begin() as connection:
            if self.postgres:
                await connection.execute(sa.text(self.PG_FUNCTION))
                await connection.execute(sa.text(self.PG_TRIGGER))
            else:
                await connection.execute(sa.text(self.SQLITE))

    async def __aexit__(self, *exc: object) -> None:
        async with self.engine.begin() as connection:
            if self.postgres:
                await connection.execute(sa.text("DROP TRIGGER audit_down ON audit_log"))
                await connection.execute(sa.text("DROP FUNCTION audit_down()"))
            else:
                await connection.execute(sa.text("DROP TRIGGER audit_down"))


class DiesAfterCommit:
    """Installed on the composition root's unit-of-work factory: the first commit that
    wakes the outbox relay is the last one — its callback fails (the process is going
    down) and every transaction after it fails too."""

    def __init__(self, uow_factory) -> None:
        self.audit_hook = uow_factory.before_commit
        self.dead = False
        uow_factory.before_commit = self.before_commit
        uow_factory.on_commit = self.on_commit

    async def before_commit(self, uow: UnitOfWork) -> None:
        if self.dead:
            raise ConnectionError("router died after the action committed")
        await self.audit_hook(uow)

    def on_commit(self) -> None:
        self.dead = True
        raise ConnectionError("router dying right after the commit")


async def test_a_refused_audit_row_rolls_the_action_back(router, clock):
    client, keys, runtime = router
    conversation_id = await one_conversation(client, keys, runtime, clock)
    supervisor = {"X-API-Key": keys[Role.SUPERVISOR]}
    async with unguarded(client) as failing, AuditInsertRefused(runtime.engine):
        answer = await failing.post(f"/conversations/{conversation_id}/resolve", headers=supervisor)
    assert answer.status_code == 500
    assert await status_of(runtime, conversation_id) != "resolved"  # not done: not recorded
    assert await rows(runtime, RESOLVE) == []

    answer = await client.post(f"/conversations/{conversation_id}/resolve", headers=supervisor)
    assert answer.status_code == 200
    [row] = await rows(runtime, RESOLVE)
    assert (row["actor"], row["outcome"], row["conversation_id"]) == (
        "sup-1",
        "ok",
        conversation_id,
    )
    assert sa_json(row["after"])["conversation"]["status"] == "resolved"
    assert sa_json(row["before"])["conversation"]["status"] != "resolved"


async def test_the_row_survives_a_router_dying_right_after_the_commit(router, clock):
    client, keys, runtime = router
    conversation_id = await one_conversation(client, keys, runtime, clock)
    fault = DiesAfterCommit(runtime.ctx.uow)
    async with unguarded(client) as dying:
        answer = await dying.post(
            f"/conversations/{conversation_id}/resolve", headers={"X-API-Key": keys[Role.ADMIN]}
        )
    assert answer.status_code == 500 and fault.dead
    assert await status_of(runtime, conversation_id) == "resolved"  # committed …
    [row] = await rows(runtime, RESOLVE)  # … with its row, in the same transaction
    assert row["role"] == "admin" and row["outcome"] == "ok"
    assert sa_json(row["after"])["conversation"]["status"] == "resolved"


async def test_a_reload_applies_only_once_its_row_is_committed(router):
    client, keys, runtime = router
    admin = {"X-API-Key": keys[Role.ADMIN]}
    before = runtime.ctx.config.current
    async with unguarded(client) as failing, AuditInsertRefused(runtime.engine):
        refused = await failing.post("/config/reload", headers=admin)
    assert refused.status_code == 503 and "NOT reloaded" in refused.json()["detail"]
    assert runtime.ctx.config.current is before
    assert await rows(runtime, "POST /config/reload") == []

    assert (await client.post("/config/reload", headers=admin)).status_code == 200
    assert runtime.ctx.config.current is not before
    [row] = await rows(runtime, "POST /config/reload")
    assert row["outcome"] == "ok" and sa_json(row["after"])["queues"] >= 1

    runtime.reload_config()  # SIGHUP's path: the system reloads
    reloads = [t for t in runtime._tasks if t.get_name() == "router-config-reload"]
    await reloads[-1]
    [system] = await rows(runtime, "config.reload")
    assert (system["actor"], system["outcome"]) == ("system", "ok")


async def test_key_changes_by_the_cli_carry_their_row_in_the_keys_transaction(router):
    _, _, runtime = router
    ctx = runtime.ctx
    await create_api_key(
        ctx, role=Role.AGENT, name="night-shift", audit=cli_audit_entry(ctx, "cli.create-api-key")
    )
    [created] = await rows(runtime, "cli.create-api-key")
    assert created["actor"].startswith("cli:") and created["role"] == "cli"
    assert sa_json(created["after"]) == {
        "key": {"role": "agent", "name": "night-shift", "agent_id": None, "revoked": False}
    }
    await revoke_api_key(ctx, created["key_id"], audit=cli_audit_entry(ctx, "cli.revoke-api-key"))
    await revoke_api_key(  # already revoked: nothing changes, nothing recorded
        ctx, created["key_id"], audit=cli_audit_entry(ctx, "cli.revoke-api-key")
    )
    [revoked] = await rows(runtime, "cli.revoke-api-key")
    assert revoked["key_id"] == created["key_id"]
    assert sa_json(revoked["before"])["key"]["revoked"] is False
    assert sa_json(revoked["after"])["key"]["revoked"] is True
    assert "key_hash" not in str(revoked)


async def test_a_key_created_through_the_api_is_named_by_its_row(router):
    client, keys, runtime = router
    created = await client.post(
        "/api-keys",
        json={"role": "agent", "name": "weekend"},
        headers={"X-API-Key": keys[Role.ADMIN]},
    )
    assert created.status_code == 201
    [row] = await rows(runtime, "POST /api-keys")  # one row, in the key's transaction
    assert row["key_id"] == created.json()["id"] and row["role"] == "admin"
    assert sa_json(row["after"])["key"] == {
        "role": "agent",
        "name": "weekend",
        "agent_id": None,
        "revoked": False,
    }


def sa_json(value):
    """JSON columns come back parsed on PostgreSQL, as text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value
