"""Customer- and agent-controlled text cannot add mail headers or HTML.

Routing events carrying CRLF sequences in the customer's display name, the
subject and the agent's name, and markup in the customer's text, go through
the running notifier into a real aiosmtpd on loopback; the mails it received
are checked byte for byte.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy

import pytest

from libs.common.events import AgentRef
from services.notifier.samples import SUPERVISOR, sample_events, snapshot
from tests.helpers.waiting import eventually
from tests.integration.notifier.conftest import (
    RecordingHandler,
    SmtpServer,
    free_port,
    notifier_settings,
    publish_routing,
    running_notifier,
)
from tests.integration.notifier.conftest import producer as producer

pytestmark = pytest.mark.integration

CUSTOMER = "minjun.kim@example.kr"
AGENT_MAIL = "seoyeon@desk.example"
MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
INJECTED = "X-Injected"
FLOW = [
    "support.conversation.opened",
    "support.conversation.assigned",
    "support.sla.warning",
    "support.reply.requested",
    "support.conversation.resolved",
]
HOSTILE = {
    "crlf": "\r\n",
    "lf": "\n",
    "cr": "\r",
    "folded": "\r\n ",
    "unicode-line-separator": "\u2028",
}


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), RecordingHandler())
    server.start()
    yield server
    server.stop()


def hostile_events(newline: str) -> dict:
    agent = AgentRef(
        agent_id="a-1",
        name=f"Seoyeon{newline}{INJECTED}: agent{newline}Bcc: spy@evil.example",
        email=AGENT_MAIL,
        locale="en",
    )
    conversation = snapshot(
        reference="C-4242",
        language="en",
        email=CUSTOMER,
        display_name=f"Minjun{newline}{INJECTED}: name{newline}Bcc: spy@evil.example {MARKUP}",
    ).model_copy(
        update={
            "subject": f"Refund{newline}{INJECTED}: subject{newline}{newline}{MARKUP}",
            "assignee": agent,
            "supervisor": SUPERVISOR,
        }
    )
    events = sample_events(conversation)
    for name, event in events.items():
        if hasattr(event, "agent"):
            events[name] = event.model_copy(update={"agent": agent})
    return events


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [
        line.split(b":", 1)[0].decode()
        for line in head.split(b"\n")
        if line and line[:1] not in (b" ", b"\t")
    ]


@pytest.mark.parametrize("newline", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_crlf_in_names_and_subject_adds_no_header(
    kafka_topics, tmp_path, producer, smtp_server, newline
):
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=smtp_server.port)
    events = hostile_events(newline)
    async with running_notifier(settings):
        for n, event_type in enumerate(FLOW):
            await publish_routing(producer, kafka_topics, events[event_type], f"ev-inj-{n}")
        await eventually(lambda: len(smtp_server.received) >= 5)

    received = smtp_server.received
    assert {r for m in received for r in m.rcpt_tos} == {CUSTOMER, AGENT_MAIL, SUPERVISOR.email}
    for mail in received:
        names = header_names(mail.raw)
        lowered = [n.lower() for n in names]
        assert INJECTED.lower() not in lowered, names
        assert "bcc" not in lowered, names
        assert len(set(lowered)) == len(lowered), names  # no header twice
        assert "spy@evil.example" not in mail.rcpt_tos
        message = email.message_from_bytes(mail.raw, policy=policy.default)
        for part in message.walk():  # nor in any MIME part's own headers
            assert not {k.lower() for k in part} & {"x-injected", "bcc"}, part.keys()
            for value in part.values():
                assert "\r" not in value and "\n" not in value


async def test_markup_in_customer_text_is_escaped_in_the_html_part(
    kafka_topics, tmp_path, producer, smtp_server
):
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=smtp_server.port)
    events = hostile_events(" ")
    async with running_notifier(settings):
        for n, event_type in enumerate(FLOW):
            await publish_routing(producer, kafka_topics, events[event_type], f"ev-html-{n}")
        await eventually(lambda: len(smtp_server.received) >= 5)

    shown = 0
    for mail in smtp_server.received:
        message = email.message_from_bytes(mail.raw, policy=policy.default)
        html = message.get_body(("html",))
        if html is None:
            continue
        content = html.get_content()
        assert "<script" not in content.lower()
        assert "<img src=x" not in content.lower()
        if "&lt;script&gt;" in content:
            shown += 1
    # The agent's assignment mail shows the customer's name and subject; escaped.
    assert shown >= 1
