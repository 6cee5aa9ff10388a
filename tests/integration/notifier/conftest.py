"""Real servers for the notifier: aiosmtpd on loopback, an HTTP receiver, Kafka helpers."""

from __future__ import annotations

import asyncio
import contextlib
import email
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from libs.common.cloudevents import CloudEvent, decode
from libs.common.events import RoutingEvent
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from libs.common.webhooks.signatures import verify_hmac_sha256
from services.notifier.bootstrap import run
from services.notifier.settings import NotifierSettings
from tests.helpers.services import running_in_loop
from tests.helpers.waiting import eventually
from tests.provider_fakes.server import listening_socket, serve_app, stop_app
from tools.testing.postgres import PostgresServer, postgres_for_tests
from tools.testing.system import free_port

# --- SMTP -------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=policy.default)


@dataclass
class RecordingHandler:
    """aiosmtpd handler: keeps every message; refuses chosen recipients."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    rcpt_attempts: Counter = field(default_factory=Counter)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        self.rcpt_attempts[address] += 1
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received if address in m.rcpt_tos]

    async def wait_for_mail_to(self, address: str, count: int = 1) -> list[Received]:
        await eventually(lambda: len(self.to(address)) >= count)
        return self.to(address)


@pytest.fixture
def smtp_server() -> SmtpServer:
    server = SmtpServer(free_port(), RecordingHandler())
    server.start()
    yield server
    server.stop()


# --- databases --------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    with postgres_for_tests() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def sentlog_url(request, tmp_path) -> str:
    """The sent-log runs on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/state/sentlog.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


# --- HTTP receiver ----------------------------------------------------------


@dataclass
class HookCall:
    name: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None


@dataclass
class HttpReceiver:
    """A real HTTP server on loopback that records calls and checks signatures."""

    port: int
    secrets: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, list[int]] = field(default_factory=dict)  # consumed per call
    calls: list[HookCall] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        secret = self.secrets.get(name)
        signature = request.headers.get("x-omnidesk-signature")
        ok = verify_hmac_sha256(secret, body, signature, prefix="sha256=") if secret else None
        self.calls.append(HookCall(name, dict(request.headers), body, ok))
        if ok is False:
            return Response("bad signature", status_code=401)
        planned = self.statuses.get(name) or [200]
        status = planned.pop(0) if len(planned) > 1 else planned[0]
        return Response("ok" if status < 300 else "nope", status_code=status)

    def to(self, name: str) -> list[HookCall]:
        return [c for c in self.calls if c.name == name]


@pytest.fixture
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    with listening_socket() as sock:
        receiver = HttpReceiver(sock.getsockname()[1])
        app = Starlette(routes=[Route("/hooks/{name}", receiver.endpoint, methods=["POST"])])
        server, task, _ = await serve_app(app, sock=sock)
        try:
            yield receiver
        finally:
            await stop_app(server, task)


# --- notifier and Kafka -----------------------------------------------------


def notifier_settings(
    kafka: KafkaSettings, state: Path, *, smtp_port: int, **overrides: Any
) -> NotifierSettings:
    values: dict[str, Any] = {
        "kafka": kafka,
        "smtp_port": smtp_port,
        "sentlog_url": f"sqlite+aiosqlite:///{state / 'sentlog.db'}",
        "state_dir": state,
        "group_id": f"notifier-{uuid.uuid4().hex[:8]}",
        "from_address": "support@desk.example",
        "from_name": "코인데스크 고객지원",
        "mail_domain": "desk.example",
        "send_attempts": 3,
        "send_backoff_initial_s": 0.05,
        "send_backoff_max_s": 0.2,
        "claim_lease_s": 5,
        "smtp_timeout_s": 5,
        "probe_port": 0,
    }
    return NotifierSettings(**(values | overrides))


def running_notifier(
    settings: NotifierSettings,
) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
    return running_in_loop(run, settings)


@pytest.fixture
async def producer(kafka_topics: KafkaSettings) -> AsyncIterator[EventProducer]:
    async with EventProducer(kafka_topics, client_id="test-router") as events:
        yield events


async def publish_routing(
    producer: EventProducer, kafka: KafkaSettings, event: RoutingEvent, event_id: str
) -> None:
    conversation_id = event.conversation.conversation_id
    cloud_event = CloudEvent(
        id=event_id,
        source="omnidesk/router",
        type=event.ce_type,
        data=event,
        subject=conversation_id,
    )
    await producer.publish(kafka.topics.routing, cloud_event, key=conversation_id)


async def read_topic(
    kafka: KafkaSettings,
    topic: str,
    until: Callable[[list[ConsumerRecord]], bool],
    *,
    within_s: float = 45.0,
) -> list[ConsumerRecord]:
    """Read ``topic`` from the start until ``until(records)`` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(within_s):
            while not until(records):
                batch = await consumer.getmany(timeout_ms=200)
                for partition_records in batch.values():
                    records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


def outcomes(records: list[ConsumerRecord]) -> list[CloudEvent]:
    return [decode(r.headers, r.value) for r in records]


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None
