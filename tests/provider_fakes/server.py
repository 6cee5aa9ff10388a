"""Run the provider fixtures in-process, each on a free 127.0.0.1 port (uvicorn).

async with ProviderFakes() as fakes:
    integration = fakes.integration(Provider.TELEGRAM)   # api_base_url → the fixture
    sender = make_sender(integration, client)
    ...
    assert len(fakes.telegram.accepted) == 1
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from libs.providers.integrations import Integration, OutboundCredentials, Provider
from services.notifier.webchat import EmbeddedServer, ServerStartError
from tests.provider_fakes.base import FakeProvider
from tests.provider_fakes.channeltalk import ChannelTalkFake
from tests.provider_fakes.kakao import KakaoFake
from tests.provider_fakes.line import LineFake
from tests.provider_fakes.slack import SlackFake
from tests.provider_fakes.telegram import TelegramFake
from tests.provider_fakes.twilio import TwilioFake
from tests.provider_fakes.whatsapp import WhatsAppFake

STARTUP_TIMEOUT_S = 10.0


@dataclass
class RunningFake:
    fake: FakeProvider
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str


@dataclass
class ProviderFakes:
    telegram: TelegramFake = field(default_factory=TelegramFake)
    whatsapp: WhatsAppFake = field(default_factory=WhatsAppFake)
    twilio: TwilioFake = field(default_factory=TwilioFake)
    line: LineFake = field(default_factory=LineFake)
    slack: SlackFake = field(default_factory=SlackFake)
    channeltalk: ChannelTalkFake = field(default_factory=ChannelTalkFake)
    kakao: KakaoFake = field(default_factory=KakaoFake)
    running: dict[str, RunningFake] = field(default_factory=dict)

    def fakes(self) -> list[FakeProvider]:
        return [
            self.telegram,
            self.whatsapp,
            self.twilio,
            self.line,
            self.slack,
            self.channeltalk,
            self.kakao,
        ]

    async def __aenter__(self) -> ProviderFakes:
        for fake in self.fakes():
            self.running[fake.name] = await _start(fake)
        self.kakao.base_url = self.base_url("kakao")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for running in self.running.values():
            running.server.should_exit = True
        for running in self.running.values():
            with contextlib.suppress(asyncio.CancelledError):
                await running.task
        self.running.clear()

    def base_url(self, name: str) -> str:
        return self.running[name].base_url

    def reset(self) -> None:
        for fake in self.fakes():
            fake.reset()

    def integration(self, provider: Provider, id: str = "main", **outbound: Any) -> Integration:
        """An integration whose outbound credentials match the fixture's, API at the fixture."""
        credentials: dict[str, Any] = {
            "api_base_url": self.running[provider.value].base_url
            if provider.value in self.running
            else None
        }
        credentials.update(self._credentials(provider))
        credentials.update(outbound)
        return Integration(
            id=id,
            provider=provider,
            secret=SecretStr(self._inbound_secret(provider)),
            api_key=SecretStr("webchat-api-key") if provider is Provider.WEBCHAT else None,
            outbound=OutboundCredentials(**credentials),
        )

    def _credentials(self, provider: Provider) -> dict[str, Any]:
        match provider:
            case Provider.TELEGRAM:
                return {"token": self.telegram.token}
            case Provider.WHATSAPP:
                return {
                    "token": self.whatsapp.access_token,
                    "phone_number_id": self.whatsapp.phone_number_id,
                    "api_version": self.whatsapp.api_version,
                }
            case Provider.TWILIO:
                return {
                    "account_sid": self.twilio.account_sid,
                    "auth_token": self.twilio.auth_token,
                    "from_number": self.twilio.from_number,
                }
            case Provider.LINE:
                return {"token": self.line.channel_access_token}
            case Provider.SLACK:
                return {"token": self.slack.bot_token}
            case Provider.CHANNELTALK:
                return {
                    "access_key": self.channeltalk.access_key,
                    "access_secret": self.channeltalk.access_secret,
                }
        return {}

    def _inbound_secret(self, provider: Provider) -> str:
        if provider is Provider.WHATSAPP:
            return self.whatsapp.app_secret
        if provider is Provider.TWILIO:
            return self.twilio.auth_token
        return f"inbound-secret-{provider.value}-0123456789"


def listening_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port, for a server whose URL must be known before
    it starts (``serve_app(sock=...)``): no other bind can take the port in between, as it
    can between a ``free_port()`` and the server's own bind."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve_app(
    app: ASGIApp, *, lifespan: str = "off", sock: socket.socket | None = None
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Serve any ASGI app in this loop on ``sock`` or a free 127.0.0.1 port; returns server,
    task, base URL once it listens. A failed start raises here (``ServerStartError``).

    Tests use it for a chat_ingest the fixtures can POST status webhooks to.
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan, access_log=False
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve([sock] if sock is not None else None))
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    task.result()  # raises the startup error
                await asyncio.sleep(0.01)
    except BaseException:
        await stop_app(server, task)
        raise
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def stop_app(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Stop a server of ``serve_app``; one that never started is simply gone."""
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError, ServerStartError):
        await task


async def _start(fake: FakeProvider) -> RunningFake:
    server, task, base_url = await serve_app(fake.app())
    return RunningFake(fake, server, task, base_url)
