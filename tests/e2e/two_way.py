"""chat_ingest + router + notifier in one process on the real broker, with provider fixtures.

Each service is its production code: chat_ingest's app (webhooks through its
lifespan producer), the router runtime (interaction consumer, outcome consumer,
relay, scheduler) behind its API app, the notifier's ``run`` with the integration
list whose ``api_base_url`` points at the strict provider fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from libs.common.settings import KafkaSettings
from libs.providers.integrations import Integration, Provider
from services.chat_ingest.bootstrap import create_app as create_ingest_app
from services.chat_ingest.settings import ChatIngestSettings
from services.notifier.bootstrap import run as run_notifier
from services.notifier.settings import NotifierSettings
from services.router.app import create_app as create_router_app
from services.router.runtime import RouterRuntime
from services.router.settings import RouterSettings
from tests.helpers.services import running_in_loop
from tests.provider_fakes.server import ProviderFakes, listening_socket, serve_app, stop_app
from tools.testing.ready import wait_ready
from tools.testing.system import free_port

ADMIN_KEY = "e2e-two-way-admin-key-0123456789"
LINK_SECRET = "e2e-two-way-csat-link-secret"
WAIT_S = 90

T = TypeVar("T")


def telegram_integrations_json(fakes: ProviderFakes) -> str:
    """NOTIFIER_/CHAT_INGEST_INTEGRATIONS for services run as processes: Telegram "tg",
    its outbound API at the strict fixture (secrets as plain values, as in an env file)."""
    integration = fakes.integration(Provider.TELEGRAM, id="tg")
    return json.dumps(
        [
            {
                "id": "tg",
                "provider": "telegram",
                "secret": integration.secret_value(),
                "outbound": {
                    "api_base_url": fakes.base_url("telegram"),
                    "token": fakes.telegram.token,
                },
            }
        ]
    )


def telegram_text_update(update_id: int, user: int, text: str) -> dict[str, Any]:
    """A Telegram ``Update`` with one private text message from ``user``."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": user, "is_bot": False, "first_name": "K", "language_code": "ko"},
            "chat": {"id": user, "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll until ``probe`` returns something truthy (bounded; content is asserted after)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            value = await probe()
            if value:
                return value
            await asyncio.sleep(0.1)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


@dataclass
class TwoWaySystem:
    ingest: httpx.AsyncClient
    api: httpx.AsyncClient
    fakes: ProviderFakes
    runtime: RouterRuntime
    ingest_url: str
    webchat_url: str  # the notifier's outbox the widget reads

    @property
    def admin(self) -> dict[str, str]:
        return {"X-API-Key": ADMIN_KEY}

    async def conversation_for(self, provider: str) -> dict[str, Any]:
        async def assigned() -> dict[str, Any] | None:
            page = await self.api.get(
                "/conversations", params={"channel": "chat"}, headers=self.admin
            )
            for item in page.json()["items"]:
                if item["provider"] == provider and item["assignee_id"]:
                    return item
            return None

        try:
            return await eventually(assigned, f"an assigned {provider} conversation")
        except TimeoutError:
            page = await self.api.get("/conversations", headers=self.admin)
            raise AssertionError(f"no assigned {provider} conversation: {page.json()}") from None

    async def reply(self, conversation_id: str, text: str) -> dict[str, Any]:
        answer = await self.api.post(
            f"/conversations/{conversation_id}/replies",
            json={"text": text, "agent_id": "agent-lee"},
            headers=self.admin,
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["state"] == "queued"
        return answer.json()

    async def reply_state(self, conversation_id: str, reply_id: str, *states: str) -> dict:
        async def reached() -> dict[str, Any] | None:
            rows = await self.api.get(
                f"/conversations/{conversation_id}/replies", headers=self.admin
            )
            row = next(r for r in rows.json() if r["id"] == reply_id)
            return row if row["state"] in states else None

        return await eventually(reached, f"reply {reply_id} in {states}")

    async def detail(self, conversation_id: str) -> dict[str, Any]:
        return (await self.api.get(f"/conversations/{conversation_id}", headers=self.admin)).json()


def router_settings_for(
    kafka: KafkaSettings, tmp_path: Path, suffix: str, **overrides: Any
) -> RouterSettings:
    """A router of the in-process test systems: SQLite, fast scheduler and relay."""
    return RouterSettings(
        **{
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'router.db'}",
            "state_dir": tmp_path / "router",
            "kafka": kafka,
            "consumer_group": f"router-{suffix}",
            "outcome_consumer_group": f"router-outcomes-{suffix}",
            "csat_secret": SecretStr("e2e-two-way-csat-token-secret"),
            "csat_link_secret": SecretStr(LINK_SECRET),
            "scheduler_interval_s": 0.2,
            "relay_interval_s": 0.05,
            "dev_mode": False,
            "log_format": "text",
            **overrides,
        }
    )


def notifier_settings_for(
    kafka: KafkaSettings,
    tmp_path: Path,
    suffix: str,
    smtp_port: int,
    integrations: list[Integration],
    *,
    webchat_port: int = 0,
) -> NotifierSettings:
    """A notifier of the in-process test systems: short retries, the link secret above."""
    return NotifierSettings(
        kafka=kafka,
        group_id=f"notifier-{suffix}",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        state_dir=tmp_path / "notifier",
        probe_port=0,
        webchat_port=webchat_port,
        integrations=integrations,
        send_attempts=3,
        send_backoff_initial_s=0.05,
        send_backoff_max_s=0.2,
        csat_signing_secret=SecretStr(LINK_SECRET),
        log_format="text",
    )


@contextlib.asynccontextmanager
async def two_way_system(
    kafka: KafkaSettings,
    tmp_path: Path,
    smtp_port: int,
    integrations: Callable[[ProviderFakes, str], list[Integration]],
) -> AsyncIterator[TwoWaySystem]:
    """``integrations(fakes, ingest_url)``: chat_ingest listens on a real socket at
    ``ingest_url`` (providers such as Twilio call back to it).

    Every part is stopped however the block ends, a part that failed to start included: a
    part left running would go on in the session's loop through later tests."""
    suffix = uuid.uuid4().hex[:8]
    async with contextlib.AsyncExitStack() as parts:
        ingest_socket = parts.enter_context(listening_socket())
        ingest_url = f"http://127.0.0.1:{ingest_socket.getsockname()[1]}"
        webchat_port = free_port()  # the notifier binds it itself, as in production
        fakes = await parts.enter_async_context(ProviderFakes())
        configured = integrations(fakes, ingest_url)
        router_settings = router_settings_for(
            kafka, tmp_path, suffix, bootstrap_admin_key=SecretStr(ADMIN_KEY)
        )
        notifier_settings = notifier_settings_for(
            kafka, tmp_path, suffix, smtp_port, configured, webchat_port=webchat_port
        )
        ingest_settings = ChatIngestSettings(
            kafka=kafka, integrations=configured, dev_integrations_when_empty=False
        )
        runtime = RouterRuntime(router_settings)
        await runtime.start()
        parts.push_async_callback(runtime.stop)
        router_app = create_router_app(router_settings)
        router_app.state.runtime = runtime
        await parts.enter_async_context(running_in_loop(run_notifier, notifier_settings))
        ingest_server, ingest_task, _ = await serve_app(
            create_ingest_app(ingest_settings), lifespan="on", sock=ingest_socket
        )
        parts.push_async_callback(stop_app, ingest_server, ingest_task)
        ingest = await parts.enter_async_context(httpx.AsyncClient(base_url=ingest_url, timeout=30))
        api = await parts.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=router_app), base_url="http://router"
            )
        )
        await wait_ready(ingest_url, path="/healthz", name="chat_ingest")
        system = TwoWaySystem(
            ingest, api, fakes, runtime, ingest_url, f"http://127.0.0.1:{webchat_port}"
        )
        online = await api.put(
            "/agents/agent-lee/status", json={"status": "online"}, headers=system.admin
        )
        assert online.status_code == 200, online.text
        yield system
