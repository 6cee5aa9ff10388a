"""Several mails queued on one pooled connection to a real SMTP server that offers
PIPELINING (aiosmtpd; ``OffersPipelining``): each mail's content goes in one write
with the next mail's MAIL FROM / RCPT TO / DATA (RFC 2920 §3.1), and every mail's
outcome is still its own — a refused recipient, a refusal at the end of data or a
hang-up is reported for the mail it concerns and for no other, and no mail is
reported sent that the server did not accept with 250 after its content.

The server runs both ways: aiosmtpd's own protocol (a write per reply) and
``PipelinedReplies`` (the replies to a pipelined group in one write, as Postfix's
smtpd sends them), so the client reads replies however they are segmented."""

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
    SmtpRelayDown,
    TransientSmtpError,
)
from services.notifier.smtp_sink import OffersPipelining, PipelinedReplies

pytestmark = pytest.mark.integration

RAW = b"From: Desk <support@desk.example>\r\nSubject: test\r\n\r\nbody\r\n.dot line\r\n"


@dataclass
class Relay(OffersPipelining):
    """Refuses by recipient: ``nobody@`` at RCPT (550), ``big@`` at the end of data
    (552), ``drop@`` hangs up after its content without a reply (and, with
    ``gone_after_drop``, stops taking connections: the relay is down)."""

    received: list[str] = field(default_factory=list)
    gone_after_drop: bool = False
    listener: asyncio.Server | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        (recipient,) = envelope.rcpt_tos
        if recipient.startswith("drop@"):
            if self.gone_after_drop and self.listener is not None:
                self.listener.close()
            server.transport.abort()
            return "250 never sent"
        if recipient.startswith("big@"):
            return "552 5.3.4 Message too big for system"
        self.received.append(recipient)
        return "250 Message accepted"


class Recording:
    """The protocol class, keeping every segment the server reads."""

    def __init__(self, base: type[SMTP]) -> None:
        self.segments: list[bytes] = []

        class Protocol(base):  # type: ignore[misc, valid-type]
            def data_received(inner, data: bytes) -> None:
                self.segments.append(bytes(data))
                super().data_received(data)

        self.protocol = Protocol


@pytest.fixture(params=[SMTP, PipelinedReplies], ids=["reply-per-write", "replies-buffered"])
async def relay(request):
    handler = Relay()
    recording = Recording(request.param)
    listener = await asyncio.get_running_loop().create_server(
        lambda: recording.protocol(handler), "127.0.0.1", 0
    )
    handler.listener = listener
    port = listener.sockets[0].getsockname()[1]
    pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=port, pool_size=1, timeout_s=5))
    yield handler, recording.segments, pool
    await pool.close()
    listener.close()


def _mail(recipient: str) -> OutgoingMail:
    return OutgoingMail("support@desk.example", recipient, f"<{recipient}>", RAW)


async def _send_all(pool: SmtpPool, recipients: list[str]) -> dict[str, BaseException | None]:
    """All mails handed to the pool at once: they queue on its one connection."""
    results = await asyncio.gather(
        *(pool.send(_mail(r)) for r in recipients), return_exceptions=True
    )
    return dict(zip(recipients, results, strict=True))


async def test_queued_mails_go_one_write_each_content_with_the_next_envelope(relay):
    handler, segments, pool = relay
    recipients = [f"user{n}@example.kr" for n in range(6)]
    outcomes = await _send_all(pool, recipients)
    assert outcomes == dict.fromkeys(recipients)
    assert handler.received == recipients
    stuffed = RAW.replace(b"\r\n.dot", b"\r\n..dot") + b".\r\n"
    for following in recipients[1:]:
        group = stuffed + (
            f"MAIL FROM:<support@desk.example> SIZE={len(RAW)}\r\n"
            f"RCPT TO:<{following}>\r\nDATA\r\n".encode()
        )
        assert group in segments  # content N + envelope N+1 + DATA: one write
    assert stuffed in segments  # the last content has no envelope after it
    assert pool.connections_opened == 1


async def test_each_mail_gets_its_own_refusal_in_a_pipelined_batch(relay):
    handler, _, pool = relay
    recipients = [
        "a@example.kr",
        "nobody@example.kr",  # RCPT 550: this mail only, permanently
        "b@example.kr",
        "big@example.kr",  # 552 at the end of its data: this mail only
        "c@example.kr",  # its envelope went in the same write as big@'s content
        "drop@example.kr",  # hang-up after its content: not sent, retry
        "d@example.kr",  # its envelope went with drop@'s content: not sent, retry
        "e@example.kr",  # queued, never written: goes on a fresh connection
    ]
    outcomes = await _send_all(pool, recipients)
    assert isinstance(outcomes.pop("nobody@example.kr"), PermanentSmtpError)
    big = outcomes.pop("big@example.kr")
    assert isinstance(big, PermanentSmtpError) and big.code == 552
    # The pool's one retry of a mail whose connection dropped takes drop@ and d@ to a
    # fresh connection in the same order, so d@'s envelope rides drop@'s content again.
    for recipient in ("drop@example.kr", "d@example.kr"):
        dropped = outcomes.pop(recipient)
        assert isinstance(dropped, TransientSmtpError), recipient
        assert not isinstance(dropped, PermanentSmtpError), recipient
    assert outcomes == dict.fromkeys(outcomes)  # every other mail: sent
    assert handler.received == ["a@example.kr", "b@example.kr", "c@example.kr", "e@example.kr"]


async def test_a_relay_gone_mid_batch_leaves_every_mail_in_flight_or_queued_not_sent(relay):
    handler, _, pool = relay
    handler.gone_after_drop = True
    recipients = ["a@example.kr", "b@example.kr", "drop@example.kr", "c@example.kr", "d@example.kr"]
    outcomes = await _send_all(pool, recipients)
    assert outcomes["a@example.kr"] is None and outcomes["b@example.kr"] is None
    for recipient in ("drop@example.kr", "c@example.kr", "d@example.kr"):
        assert isinstance(outcomes[recipient], TransientSmtpError), recipient
    assert isinstance(outcomes["d@example.kr"], SmtpRelayDown)  # queued: no connection to go on
    assert handler.received == ["a@example.kr", "b@example.kr"]


async def test_an_address_no_command_can_carry_is_refused_alone(relay):
    handler, _, pool = relay
    outcomes = await _send_all(pool, ["a@example.kr", "민준@example.kr", "b@example.kr"])
    assert isinstance(outcomes.pop("민준@example.kr"), PermanentSmtpError)
    assert outcomes == {"a@example.kr": None, "b@example.kr": None}
    assert handler.received == ["a@example.kr", "b@example.kr"]
    assert pool.connections_opened == 1
