"""The whole system as processes: Kafka, Dovecot, an SMTP server, five services."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from libs.common.kafka.admin import create_topics
from libs.common.settings import KafkaSettings
from services.router.settings import RouterSettings
from tools.testing.dovecot import DovecotServer
from tools.testing.system import LocalSystem, free_port, run_topics

MAILBOX_USER = "support"
MAILBOX_PASSWORD = "support-e2e-password"


class SmtpInbox:
    """A real SMTP server that keeps what it received."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_inbox() -> Iterator[tuple[SmtpInbox, int]]:
    inbox, port = SmtpInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    with DovecotServer() as server:
        server.add_user(MAILBOX_USER, MAILBOX_PASSWORD)
        yield server


def demo_policies(folder: Path, minutes: int = 1) -> Path:
    """The sample policies with the demo SLA shortened to ``minutes``."""
    sample = RouterSettings.model_fields["policies_path"].default.read_text()
    text = sample.replace("first_response_minutes: 2\n", f"first_response_minutes: {minutes}\n", 1)
    assert text != sample, "the sample demo policy changed shape"
    path = folder / "policies.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def system(kafka_broker, dovecot, smtp_inbox, tmp_path_factory) -> Iterator[LocalSystem]:
    home = tmp_path_factory.mktemp("system")
    kafka = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers, topics=run_topics("e2e")
    )
    asyncio.run(create_topics(kafka))
    mailboxes = (
        f'[{{"id": "demo", "host": "127.0.0.1", "port": {dovecot.imap_port}, "tls": "plain", '
        f'"username": "{MAILBOX_USER}", "password": "{MAILBOX_PASSWORD}"}}]'
    )
    sut = LocalSystem(
        home=home,
        kafka=kafka,
        smtp_port=smtp_inbox[1],
        mailboxes_json=mailboxes,
        extra_env={"router": {"ROUTER_POLICIES_PATH": str(demo_policies(home))}},
    )
    try:
        sut.start_all()
        yield sut
    finally:
        sut.stop_all()
