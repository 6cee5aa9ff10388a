"""SMTP delivery: a few persistent connections, reused; aiosmtplib for the handshake
(connect, TLS, EHLO, AUTH), our own reply queue for the mail transactions, pipelined
(RFC 2920) where the server offers it — see :class:`SmtpConnection`.

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
from collections import deque
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import SMTPResponse, SMTPStatus
from aiosmtplib.protocol import (
    COMMAND_INJECTION_REGEX,
    MAX_LINE_LENGTH,
    MAX_RESPONSE_LENGTH,
    PERIOD_REGEX,
    normalize_message_line_endings,
)

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
        self._idle: list[SmtpConnection] = []
        self._slots = asyncio.Semaphore(config.pool_size)
        self.connections_opened = 0

    async def send(self, mail: OutgoingMail) -> None:
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            try:
                connection = await self._deliver(connection, mail)
            except aiosmtplib.SMTPException as exc:
                raise classify(exc) from exc
            except OSError as exc:  # refused, reset, TLS handshake
                raise SmtpRelayDown(f"SMTP connection failed: {exc!r}") from exc
            self._idle.append(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(connection.quit() for connection in idle))

    async def check(self) -> bool:
        """Readiness: the relay answers (connect, NOOP, QUIT)."""
        client = await self._handshake()
        try:
            await client.noop()
        finally:
            await _quit(client)
        return True

    async def _deliver(
        self, connection: SmtpConnection | None, mail: OutgoingMail
    ) -> SmtpConnection:
        if connection is None or not connection.is_open:
            connection = await self._connect()
        try:
            await self._send_on(connection, mail)
        except aiosmtplib.SMTPServerDisconnected:
            # A reused connection the server closed while idle: one fresh connection.
            await connection.quit()
            connection = await self._connect()
            await self._send_on(connection, mail)
        return connection

    async def _send_on(self, connection: SmtpConnection, mail: OutgoingMail) -> None:
        try:
            await connection.transaction(mail, self._config.timeout_s)
        except BaseException:
            await connection.quit()  # a failed transaction leaves no envelope behind (no RSET)
            raise

    async def _connect(self) -> SmtpConnection:
        connection = SmtpConnection.take_over(await self._handshake())
        self.connections_opened += 1
        return connection

    async def _handshake(self) -> aiosmtplib.SMTP:
        """Connect, TLS, EHLO and AUTH: aiosmtplib's part of the conversation."""
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
        return client


class SmtpConnection:
    """One connection after its handshake: the mail transactions on it.

    MAIL, RCPT and DATA for one recipient, with the replies ``SMTP.sendmail`` would
    turn into the same exceptions, but cheaper per mail (this was ~30 % of the
    notifier's CPU in the backlog profile):

    - where the server offers PIPELINING (RFC 2920; Postfix, Exim and most relays
      do), MAIL FROM, RCPT TO and DATA go in one write and their replies are read
      after (RFC 2920 §3: DATA ends the group, every reply is checked in order); the
      message follows the 354. Two writes per mail instead of four — on loopback each
      write also does the receiving side's TCP work;
    - one deadline for the whole transaction (``asyncio.timeout``) instead of
      aiosmtplib's ``wait_for`` per reply; on expiry the connection is dropped, as
      aiosmtplib drops it, and the caller gets its ``SMTPReadTimeoutError``;
    - no per-mail address parsing (the composer checked both addresses) and the line
      ends rewritten only when the mail does not already end every line in CRLF.
    """

    def __init__(self, transport: asyncio.Transport, *, pipelining: bool, size: bool) -> None:
        self._transport = transport
        self._replies = ReplyQueue(transport)
        transport.set_protocol(self._replies)
        self.pipelining = pipelining
        self._size = size

    @classmethod
    def take_over(cls, client: aiosmtplib.SMTP) -> SmtpConnection:
        """The handshaken connection of ``client``, read from now on by a
        :class:`ReplyQueue` (``client`` is done with: its protocol no longer hears)."""
        if client.transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        return cls(
            client.transport,
            pipelining=client.supports_extension("pipelining"),
            size=client.supports_extension("size"),
        )

    @property
    def is_open(self) -> bool:
        return self._replies.is_open

    async def transaction(self, mail: OutgoingMail, timeout_s: float) -> None:
        sender, recipient = _path(mail.sender), _path(mail.recipient)  # before any command
        content = _crlf_lines(mail.raw)
        size = b" SIZE=%d" % len(content) if self._size else b""
        envelope = (b"MAIL FROM:" + sender + size + b"\r\n", b"RCPT TO:" + recipient + b"\r\n")
        try:
            async with asyncio.timeout(timeout_s):
                await self._envelope(mail, *envelope)
                self._write(_dot_stuffed(content) + b".\r\n")
                reply = await self._replies.reply()
        except TimeoutError as exc:
            self.abort()
            raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from exc
        if reply.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)

    async def _envelope(self, mail: OutgoingMail, mail_from: bytes, rcpt_to: bytes) -> None:
        """MAIL, RCPT, DATA up to the server's 354."""
        if not self.pipelining:
            self._write(mail_from)
            _check_sender(await self._replies.reply(), mail)
            self._write(rcpt_to)
            _check_recipient(await self._replies.reply(), mail)
            self._write(b"DATA\r\n")
            _check_data(await self._replies.reply())
            return
        self._write(mail_from + rcpt_to + b"DATA\r\n")
        replies: list[SMTPResponse] = []
        try:
            while len(replies) < 3:
                replies.append(await self._replies.reply())
        except aiosmtplib.SMTPServerDisconnected:
            # A server that refuses and hangs up (421) answers no further command of
            # the group: its refusal, not the hang-up, is what happened to this mail.
            for reply, check in zip(replies, (_check_sender, _check_recipient), strict=False):
                check(reply, mail)
            raise
        sender_reply, recipient_reply, data_reply = replies
        if data_reply.code == SMTPStatus.start_input and (
            sender_reply.code != SMTPStatus.completed or not _accepted(recipient_reply)
        ):
            # RFC 2920 §3: a server may take DATA although it refused the envelope; the
            # connection is dropped mid-DATA, so nothing is delivered (RFC 5321 §3.8).
            self.abort()
        _check_sender(sender_reply, mail)
        _check_recipient(recipient_reply, mail)
        _check_data(data_reply)

    async def quit(self) -> None:
        if self.is_open:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                async with asyncio.timeout(5):
                    self._write(b"QUIT\r\n")
                    await self._replies.reply()
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def _write(self, data: bytes) -> None:
        if not self.is_open:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._transport.write(data)


class ReplyQueue(asyncio.Protocol):
    """The connection's protocol once aiosmtplib has done the handshake: every reply
    the server sends is parsed and queued, in order, so replies to pipelined commands
    (several on one segment, or one per segment) are all kept. aiosmtplib's protocol
    reads one reply per written command and drops what arrives while that reply waits
    to be picked up, so it cannot pipeline (RFC 2920)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._replies: deque[SMTPResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: aiosmtplib.SMTPException | None = None

    @property
    def is_open(self) -> bool:
        return self._failure is None and not self.transport.is_closing()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse_replies()
        except aiosmtplib.SMTPResponseException as exc:
            self._fail(exc)
            self.transport.abort()
        self._wake()

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._fail(lost)

    async def reply(self) -> SMTPResponse:
        while not self._replies:
            if self._failure is not None:
                raise self._failure
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()

    def _fail(self, exc: aiosmtplib.SMTPException) -> None:
        if self._failure is None:
            self._failure = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _parse_replies(self) -> None:
        """Complete replies off the buffer (RFC 5321 §4.2: ``code-text`` lines, then
        ``code text``); a partial one stays for the next segment."""
        buffer = self._buffer
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            reply_start, lines = start, []
            while end != -1:
                line = bytes(buffer[start : end + 1])
                if len(line) > MAX_LINE_LENGTH or not line[:3].isdigit():
                    raise _invalid(f"Malformed SMTP reply line: {line[:80]!r}")
                lines.append(line)
                start = end + 1
                if line[3:4] != b"-":
                    break
                end = buffer.find(b"\n", start)
            else:
                start = reply_start  # the reply's last line has not arrived yet
                break
            text = "\n".join(
                line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape") for line in lines
            )
            self._replies.append(SMTPResponse(int(lines[-1][:3]), text))
        del buffer[:start]
        if len(buffer) > MAX_RESPONSE_LENGTH:
            raise _invalid("Reply too long")


def _invalid(text: str) -> aiosmtplib.SMTPResponseException:
    return aiosmtplib.SMTPResponseException(SMTPStatus.invalid_response.value, text)


def _check_sender(reply: SMTPResponse, mail: OutgoingMail) -> None:
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail.sender)


def _accepted(reply: SMTPResponse) -> bool:
    return reply.code in (SMTPStatus.completed, SMTPStatus.will_forward)


def _check_recipient(reply: SMTPResponse, mail: OutgoingMail) -> None:
    if not _accepted(reply):
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, mail.recipient)
        raise aiosmtplib.SMTPRecipientsRefused([refused])


def _check_data(reply: SMTPResponse) -> None:
    if reply.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO (RFC 5321 §4.1.2). The composer refused
    anything but an addr-spec; what ASCII cannot carry needs SMTPUTF8, which we do not
    ask for — the server would refuse it: refused here, for good."""
    try:
        path = b"<" + address.encode("ascii") + b">"
    except UnicodeEncodeError:
        raise PermanentSmtpError(f"SMTP: {address!r} needs SMTPUTF8") from None
    if COMMAND_INJECTION_REGEX.search(path):
        raise PermanentSmtpError(f"SMTP: {address!r} holds a control character")
    return path


def _crlf_lines(raw: bytes) -> bytes:
    """The message as DATA carries it: every line ended in CRLF, the last too (RFC
    5321 §4.1.1.4; RFC 1870 counts these octets). The composer writes it so already;
    anything else is rewritten as aiosmtplib would."""
    crlf = raw.count(b"\r\n")
    if crlf == raw.count(b"\n") == raw.count(b"\r") and raw.endswith(b"\r\n"):
        return raw
    return normalize_message_line_endings(raw)


def _dot_stuffed(content: bytes) -> bytes:
    """A line starting with "." gets another (RFC 5321 §4.5.2)."""
    if content.startswith(b".") or b"\n." in content:
        return PERIOD_REGEX.sub(b"..", content)
    return content


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
