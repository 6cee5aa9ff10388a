"""The pool's MAIL / RCPT / DATA against a real SMTP server (aiosmtpd on loopback):
what ``SMTP.sendmail`` sent and how its replies were classified, without its per-mail
address parsing and line-end passes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from services.notifier.mail import OutgoingMail
from services.notifier.smtp import (
    PermanentSmtpError,
    SmtpConfig,
    SmtpPool,
    TransientSmtpError,
)
from tools.testing.system import free_port

pytestmark = pytest.mark.integration

# A mail as the composer writes it: CRLF line ends, a line that needs dot-stuffing.
RAW = (
    b"From: Desk <support@desk.example>\r\nTo: <minjun@example.kr>\r\n"
    b"Subject: test\r\n\r\nfirst line\r\n.a line starting with a dot\r\nlast\r\n"
)


@dataclass
class Envelopes:
    """aiosmtpd handler: keeps what each transaction carried; answers chosen replies."""

    mail_options: list[list[str]] = field(default_factory=list)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    mail_reply: str = "250 OK"
    rcpt_reply: str = "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        self.mail_options.append(list(mail_options))
        if self.mail_reply.startswith("250"):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return self.mail_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted"


@pytest.fixture
async def relay():
    handler = Envelopes()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=controller.port, pool_size=1))
    yield handler, pool
    await pool.close()
    controller.stop()


def _mail(recipient: str = "minjun@example.kr") -> OutgoingMail:
    return OutgoingMail("support@desk.example", recipient, "<id@desk.example>", RAW)


async def test_mail_arrives_byte_for_byte_with_its_size_declared(relay):
    handler, pool = relay
    await pool.send(_mail())
    await pool.send(_mail("seoyeon@desk.example"))
    assert handler.received == [
        ("support@desk.example", ["minjun@example.kr"], RAW),
        ("support@desk.example", ["seoyeon@desk.example"], RAW),
    ]
    # aiosmtpd offers SIZE (RFC 1870): the octets DATA carries, as sendmail declared it.
    assert handler.mail_options == [[f"SIZE={len(RAW)}"]] * 2
    assert pool.connections_opened == 1


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 No such user", PermanentSmtpError),
        ("451 4.3.0 Try again later", TransientSmtpError),
    ],
)
async def test_a_refused_recipient_is_classified_by_its_reply(relay, reply, error):
    handler, pool = relay
    handler.rcpt_reply = reply
    with pytest.raises(error, match=reply.split()[0]):
        await pool.send(_mail())
    assert handler.received == []
    handler.rcpt_reply = "250 OK"
    await pool.send(_mail())  # the pool goes on with a fresh connection
    assert len(handler.received) == 1


async def test_a_refused_sender_is_permanent(relay):
    handler, pool = relay
    handler.mail_reply = "553 5.7.1 Sender not allowed"
    with pytest.raises(PermanentSmtpError, match="553"):
        await pool.send(_mail())
    assert handler.received == []


async def test_an_address_ascii_cannot_carry_is_refused_before_any_command(relay):
    handler, pool = relay
    with pytest.raises(PermanentSmtpError, match="SMTPUTF8"):
        await pool.send(_mail("민준@example.kr"))
    assert handler.mail_options == []
