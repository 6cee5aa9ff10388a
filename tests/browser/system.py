"""chat_ingest + router (over a real socket, console included) + notifier on the real broker.

Like ``tests/e2e/two_way.py``, each service is its production code; here the router's
app is served by uvicorn so a real browser can open ``/console``, and the router runs on
a ``ShiftedClock`` (real time plus an offset the SLA test moves forward).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from libs.common.settings import KafkaSettings
from libs.common.webhooks.signatures import hmac_sha256_hex
from libs.providers.integrations import Provider
from services.chat_ingest.bootstrap import create_app as create_ingest_app
from services.chat_ingest.settings import ChatIngestSettings
from services.notifier.bootstrap import run as run_notifier
from services.router.app import create_app as create_router_app
from services.router.domain.assignment import AgentStatus
from services.router.runtime import RouterRuntime
from services.router.service.agents import set_agent_status
from services.router.service.api_keys import Role, create_api_key
from tests.e2e.two_way import notifier_settings_for, router_settings_for
from tests.helpers.services import running_in_loop
from tests.provider_fakes.server import ProviderFakes, serve_app, stop_app
from tools.testing.ready import wait_ready


class ShiftedClock:
    """Real time plus an offset: the system runs normally, and tests can jump ahead."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class ConsoleSystem:
    console_url: str
    ingest: httpx.AsyncClient
    fakes: ProviderFakes
    runtime: RouterRuntime
    clock: ShiftedClock
    keys: dict[str, str]  # agent id (or "supervisor") -> API key

    async def online(self, agent_id: str) -> None:
        assert self.runtime.ctx is not None
        await set_agent_status(self.runtime.ctx, agent_id, AgentStatus.ONLINE)

    async def whatsapp_message(self, wa_id: str, name: str, text: str) -> None:
        """A signed WhatsApp Cloud API webhook with one text message (as Meta POSTs it)."""
        fake = self.fakes.whatsapp
        fake.customer_wrote(wa_id)
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "15550000000",
                "phone_number_id": fake.phone_number_id,
            },
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": f"wamid.IN{uuid.uuid4().hex}",
                    "timestamp": str(int(time.time())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
        }
        body = json.dumps(payload).encode()
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": "sha256=" + hmac_sha256_hex(fake.app_secret, body),
        }
        answer = await self.ingest.post("/webhooks/whatsapp/wa", content=body, headers=headers)
        assert answer.status_code == 200, answer.text

    async def whatsapp_delivered(self, wamid: str, wa_id: str) -> None:
        whatsapp = self.fakes.whatsapp
        body, headers = whatsapp.status_webhook([whatsapp.status(wamid, "delivered", wa_id)])
        answer = await self.ingest.post("/webhooks/whatsapp/wa", content=body, headers=headers)
        assert answer.status_code == 200, answer.text


@contextlib.asynccontextmanager
async def console_system(
    kafka: KafkaSettings, tmp_path: Path, smtp_port: int
) -> AsyncIterator[ConsoleSystem]:
    """Every part is stopped however the block ends (see ``two_way_system``)."""
    suffix = uuid.uuid4().hex[:8]
    clock = ShiftedClock()
    async with contextlib.AsyncExitStack() as parts:
        fakes = await parts.enter_async_context(ProviderFakes())
        configured = [fakes.integration(Provider.WHATSAPP, id="wa")]
        router_settings = router_settings_for(kafka, tmp_path, suffix)
        notifier_settings = notifier_settings_for(kafka, tmp_path, suffix, smtp_port, configured)
        ingest_settings = ChatIngestSettings(
            kafka=kafka, integrations=configured, dev_integrations_when_empty=False
        )
        runtime = RouterRuntime(router_settings, clock=clock)
        await runtime.start()
        parts.push_async_callback(runtime.stop)
        assert runtime.ctx is not None
        router_app = create_router_app(router_settings, clock=clock)
        router_app.state.runtime = runtime
        router_server, router_task, console_base = await serve_app(router_app)
        router_server.force_exit = True  # open event streams must not hold the shutdown
        parts.push_async_callback(stop_app, router_server, router_task)
        await parts.enter_async_context(running_in_loop(run_notifier, notifier_settings))
        ingest_server, ingest_task, ingest_url = await serve_app(
            create_ingest_app(ingest_settings), lifespan="on"
        )
        parts.push_async_callback(stop_app, ingest_server, ingest_task)
        keys = {
            agent: await create_api_key(
                runtime.ctx, role=Role.AGENT, name=f"browser-{agent}", agent_id=agent
            )
            for agent in ("agent-lee", "agent-park", "agent-smith")
        }
        keys["supervisor"] = await create_api_key(
            runtime.ctx, role=Role.SUPERVISOR, name="browser-lead", agent_id="lead-kim"
        )
        ingest = await parts.enter_async_context(httpx.AsyncClient(base_url=ingest_url, timeout=30))
        await wait_ready(ingest_url, path="/healthz")
        yield ConsoleSystem(f"{console_base}/console", ingest, fakes, runtime, clock, keys)
