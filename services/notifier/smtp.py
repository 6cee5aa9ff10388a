"""A thin aiosmtplib adapter: a few persistent connections, reused.

Connections are opened lazily, kept after a successful send and reused (one
TCP+TLS+AUTH handshake serves many mails); a connection that fails is closed.
A pooled connection the server dropped while idle is replaced once, at once.
Failures are classified for the caller: 5xx replies are permanent (the same
mail will be refused again), everything else — 4xx, timeouts, refused
connections, TLS trouble — is transient and worth a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import SMTPStatus
from aiosmtplib.protocol import normalize_message_line_endings

from services.notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RelayUnavailable,
    TransientDeliveryError,
)
from services.notifier.mail import OutgoingMail
from services.notifier.settings import NotifierSettings, SmtpTls

log = logging.getLogger(__name__)


class TransientSmtpError(TransientDeliveryError):
    """Worth retrying later: the server is away, busy or said 4xx."""


class SmtpRelayDown(TransientSmtpError, RelayUnavailable):
    """No SMTP conversation was possible: the relay is down or unreachable."""


class PermanentSmtpError(PermanentDeliveryError):
    """The server refused this mail with a 5xx reply: retrying will not help."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    tls: SmtpTls = SmtpTls.NONE
    user: str | None = None
    password: str | None = None
    timeout_s: float = 15.0
    validate_certs: bool = True
    ca_file: str | None = None
    pool_size: int = 4

    @classmethod
    def from_settings(cls, settings: NotifierSettings) -> SmtpConfig:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=password,
            timeout_s=settings.smtp_timeout_s,
            validate_certs=settings.smtp_validate_certs,
            ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            pool_size=settings.smtp_pool_size,
        )


class SmtpPool:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(config.pool_size)
        self.connections_opened = 0

    async def send(self, mail: OutgoingMail) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                client = await self._deliver(client, mail)
            except aiosmtplib.SMTPException as exc:
                raise classify(exc) from exc
            except OSError as exc:  # refused, reset, TLS handshake
                raise SmtpRelayDown(f"SMTP connection failed: {exc!r}") from exc
            self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(client) for client in idle))

    async def check(self) -> bool:
        """Readiness: the relay answers (connect, NOOP, QUIT)."""
        client = await self._connect()
        try:
            await client.noop()
        finally:
            await _quit(client)
        return True

    async def _deliver(self, client: aiosmtplib.SMTP | None, mail: OutgoingMail) -> aiosmtplib.SMTP:
        if client is None or not client.is_connected:
            client = await self._connect()
        try:
            await self._send_on(client, mail)
        except aiosmtplib.SMTPServerDisconnected:
            # A reused connection the server closed while idle: one fresh connection.
            await _quit(client)
            client = await self._connect()
            await self._send_on(client, mail)
        return client

    async def _send_on(self, client: aiosmtplib.SMTP, mail: OutgoingMail) -> None:
        try:
            await transaction(client, mail)
        except BaseException:
            await _quit(client)  # a failed transaction leaves no envelope behind (no RSET)
            raise

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self._config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.tls is SmtpTls.IMPLICIT,
            start_tls=config.tls is SmtpTls.STARTTLS,  # False: never opportunistic on loopback
            validate_certs=config.validate_certs,
            cert_bundle=config.ca_file,
            timeout=config.timeout_s,
            username=config.user,
            password=config.password,
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # no STARTTLS or AUTH: connect() sent no EHLO
            await client.ehlo()
        self.connections_opened += 1
        return client


async def transaction(client: aiosmtplib.SMTP, mail: OutgoingMail) -> None:
    """MAIL, RCPT and DATA for one recipient, as ``SMTP.sendmail`` sends them (same
    exceptions for the same replies), without what it does again per mail: parse both
    addresses twice (the composer checked them) and rewrite the line ends twice for
    ``SIZE`` and ``DATA`` (the mail is written with CRLF) — ~8 % of the notifier's CPU.

    aiosmtplib reads one reply per command, so the three commands are not pipelined
    (RFC 2920) even where the server offers PIPELINING; see the README."""
    sender, recipient = _path(mail.sender), _path(mail.recipient)  # before any command
    options = [b"SIZE=%d" % _wire_size(mail.raw)] if client.supports_extension("size") else []
    reply = await client.execute_command(b"MAIL", b"FROM:" + sender, *options)
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail.sender)
    reply = await client.execute_command(b"RCPT", b"TO:" + recipient)
    if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, mail.recipient)
        raise aiosmtplib.SMTPRecipientsRefused([refused])
    await client.data(mail.raw)


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO (RFC 5321 §4.1.2). The composer refused
    anything but an addr-spec; what ASCII cannot carry needs SMTPUTF8, which we do not
    ask for — the server would refuse it: refused here, for good."""
    try:
        return b"<" + address.encode("ascii") + b">"
    except UnicodeEncodeError:
        raise PermanentSmtpError(f"SMTP: {address!r} needs SMTPUTF8") from None


def _wire_size(raw: bytes) -> int:
    """The message's size as DATA sends it (RFC 1870: lines end in CRLF, the last too)."""
    crlf = raw.count(b"\r\n")
    if crlf == raw.count(b"\n") == raw.count(b"\r") and raw.endswith(b"\r\n"):
        return len(raw)
    return len(normalize_message_line_endings(raw))


def classify(exc: aiosmtplib.SMTPException) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPConnectTimeoutError):
        return SmtpRelayDown(f"SMTP connection failed: {_text(exc)}")
    code = _reply_code(exc)
    if (
        code is not None
        and 500 <= code < 600
        and not isinstance(exc, aiosmtplib.SMTPAuthenticationError)
    ):
        return PermanentSmtpError(f"SMTP {code}: {_text(exc)}", code=code)
    return TransientSmtpError(f"SMTP {code or type(exc).__name__}: {_text(exc)}", code=code)


def _reply_code(exc: aiosmtplib.SMTPException) -> int | None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        # Permanent only when every recipient was refused permanently.
        return min(codes) if codes else None
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code
    return None


def _text(exc: aiosmtplib.SMTPException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
    return str(getattr(exc, "message", exc))[:500]


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
        await asyncio.wait_for(client.quit(), 5)
    with contextlib.suppress(Exception):
        client.close()
