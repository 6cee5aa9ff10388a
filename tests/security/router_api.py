"""The router API on SQLite in a tmp dir and the real broker, for the security tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from libs.common.settings import KafkaSettings
from services.router.app import create_app
from services.router.runtime import RouterRuntime
from services.router.service.api_keys import Role, create_api_key
from services.router.settings import RouterSettings


@dataclass
class RouterApi:
    client: httpx.AsyncClient
    runtime: RouterRuntime
    keys: dict[Role, str]

    def auth(self, role: Role) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def router_settings(kafka: KafkaSettings, state: Path) -> RouterSettings:
    return RouterSettings(
        database_url=f"sqlite+aiosqlite:///{state / 'router.db'}",
        state_dir=state,
        kafka=kafka,
        consumer_group=f"router-sec-{uuid.uuid4().hex[:8]}",
        csat_secret="security-test-secret-0123456789abcdef",
        dev_mode=False,
        log_format="text",
    )


@asynccontextmanager
async def router_api(kafka: KafkaSettings, state: Path) -> AsyncIterator[RouterApi]:
    settings = router_settings(kafka, state)
    runtime = RouterRuntime(settings, run_consumer=False, run_scheduler=False)
    await runtime.start()
    try:
        app = create_app(settings)
        app.state.runtime = runtime  # the ASGI transport runs no lifespan
        assert runtime.ctx is not None
        keys = {
            role: await create_api_key(
                runtime.ctx,
                role=role,
                name=f"sec-{role}",
                agent_id="agent-sec" if role is Role.AGENT else None,
            )
            for role in Role
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            yield RouterApi(client, runtime, keys)
    finally:
        await runtime.stop()
