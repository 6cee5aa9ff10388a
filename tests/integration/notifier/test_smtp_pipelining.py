"""The pool against a real SMTP server that offers PIPELINING (RFC 2920): aiosmtpd,
whose EHLO adds the keyword (``OffersPipelining``, as Postfix and Exim offer it) and
whose protocol records every segment it receives, so the test sees what went in one
write. RFC 2920 §3: DATA ends a command group, and the client checks every reply of
the group in order — a refused sender or recipient is reported as such, never as the
DATA refusal that follows it, and no message goes after a refused envelope."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiosmtpd.smtp import SMTP

from services.notifier.mail import OutgoingMail
from services.notifier.smtp import (
    PermanentSmtpError,
    SmtpConfig,
    SmtpPool,
    TransientSmtpError,
)
from services.notifier.smtp_sink import OffersPipelining

pytestmark = pytest.mark.integration

RAW = (
    b"From: Desk <support@desk.example>\r\nTo: <minjun@example.kr>\r\n"
    b"Subject: test\r\n\r\nfirst line\r\n.a line starting with a dot\r\nlast\r\n"
)


@dataclass
class Relay(OffersPipelining):
    """Replies chosen per test; keeps what each transaction delivered."""

    offer_pipelining: bool = True
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    mail_reply: str = "250 OK"
    rcpt_reply: str = "250 OK"
    #: a non-conforming server: DATA gets 354 although RCPT was refused
    keep_refused_recipient: bool = False
    data_delay_s: float = 0.0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not self.offer_pipelining:
            session.host_name = hostname
            return responses
        return await super().handle_EHLO(server, session, envelope, hostname, responses)

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if self.mail_reply.startswith("250"):
            envelope.mail_from = address
        if self.mail_reply.startswith("421"):  # say it and hang up: RCPT and DATA unanswered
            server.transport.write(f"{self.mail_reply}\r\n".encode())
            server.transport.close()
        return self.mail_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.rcpt_reply.startswith("250") or self.keep_refused_recipient:
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(self.data_delay_s)
        raw = envelope.original_content or envelope.content
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted"


class RecordingSMTP(SMTP):
    """aiosmtpd's protocol, keeping each segment it reads."""

    segments: list[bytes]

    def data_received(self, data: bytes) -> None:
        self.segments.append(bytes(data))
        super().data_received(data)


@pytest.fixture
async def relay():
    handler = Relay()
    segments: list[bytes] = []

    def protocol() -> RecordingSMTP:
        server = RecordingSMTP(handler)
        server.segments = segments
        return server

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pools: list[SmtpPool] = []

    def make_pool(timeout_s: float = 5.0) -> SmtpPool:
        pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=port, pool_size=1, timeout_s=timeout_s))
        pools.append(pool)
        return pool

    yield handler, segments, make_pool
    for pool in pools:
        await pool.close()
    server.close()
    await server.wait_closed()


def _mail(recipient: str = "minjun@example.kr") -> OutgoingMail:
    return OutgoingMail("support@desk.example", recipient, "<id@desk.example>", RAW)


def _envelope(recipient: str = "minjun@example.kr") -> bytes:
    return (
        f"MAIL FROM:<support@desk.example> SIZE={len(RAW)}\r\n"
        f"RCPT TO:<{recipient}>\r\nDATA\r\n".encode()
    )


async def test_mail_rcpt_and_data_go_in_one_write_and_the_mail_arrives_intact(relay):
    handler, segments, make_pool = relay
    pool = make_pool()
    await pool.send(_mail())
    await pool.send(_mail("seoyeon@desk.example"))
    assert handler.received == [
        ("support@desk.example", ["minjun@example.kr"], RAW),
        ("support@desk.example", ["seoyeon@desk.example"], RAW),
    ]
    assert _envelope() in segments
    assert _envelope("seoyeon@desk.example") in segments
    # The message follows the 354 as its own write, dot-stuffed (RFC 5321 §4.5.2).
    assert RAW.replace(b"\r\n.a", b"\r\n..a") + b".\r\n" in segments
    assert pool.connections_opened == 1


async def test_without_pipelining_each_command_waits_for_its_reply(relay):
    handler, segments, make_pool = relay
    handler.offer_pipelining = False
    pool = make_pool()
    await pool.send(_mail())
    assert handler.received == [("support@desk.example", ["minjun@example.kr"], RAW)]
    assert f"MAIL FROM:<support@desk.example> SIZE={len(RAW)}\r\n".encode() in segments
    assert b"RCPT TO:<minjun@example.kr>\r\n" in segments
    assert b"DATA\r\n" in segments
    assert _envelope() not in segments


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 No such user", PermanentSmtpError),
        ("451 4.3.0 Try again later", TransientSmtpError),
    ],
)
async def test_a_refused_recipient_is_reported_not_the_data_refusal_after_it(relay, reply, error):
    handler, _, make_pool = relay
    pool = make_pool()
    handler.rcpt_reply = reply
    with pytest.raises(error, match=reply.split()[0]):
        await pool.send(_mail())
    assert handler.received == []
    handler.rcpt_reply = "250 OK"
    await pool.send(_mail())  # a fresh connection carries on
    assert len(handler.received) == 1
    assert pool.connections_opened == 2


async def test_a_refused_sender_is_reported_as_the_sender_refusal(relay):
    handler, _, make_pool = relay
    handler.mail_reply = "553 5.7.1 Sender not allowed"
    with pytest.raises(PermanentSmtpError, match="553"):
        await make_pool().send(_mail())
    assert handler.received == []


async def test_a_refusal_before_a_hang_up_is_reported_as_the_refusal(relay):
    handler, _, make_pool = relay
    handler.mail_reply = "421 4.3.2 Service shutting down"
    with pytest.raises(TransientSmtpError, match="421"):
        await make_pool().send(_mail())
    assert handler.received == []


async def test_a_server_that_takes_data_after_a_refused_recipient_gets_no_message(relay):
    handler, _, make_pool = relay
    handler.rcpt_reply = "550 5.1.1 No such user"
    handler.keep_refused_recipient = True  # so aiosmtpd answers DATA with 354
    with pytest.raises(PermanentSmtpError, match="550"):
        await make_pool().send(_mail())
    await asyncio.sleep(0.2)  # the server has seen the connection drop mid-DATA
    assert handler.received == []


async def test_a_slow_reply_times_the_transaction_out_and_drops_the_connection(relay):
    handler, _, make_pool = relay
    pool = make_pool(timeout_s=0.3)
    handler.data_delay_s = 1.0
    with pytest.raises(TransientSmtpError, match="Timed out"):
        await pool.send(_mail())
    handler.data_delay_s = 0.0
    await pool.send(_mail())
    assert pool.connections_opened == 2  # the timed-out connection was not reused
