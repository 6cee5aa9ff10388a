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
import functools
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
from services.notifier.lazy_deadline import LazyDeadline
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
    """``pool_size`` lanes, each one connection at a time and the mails queued on it.

    A mail goes to the lane with the fewest mails queued or in flight. On a relay
    that offers PIPELINING a lane writes each mail's content together with the next
    queued mail's envelope (see :meth:`Lane._pipeline`): one write per mail when the
    caller keeps more mails in flight than there are lanes (the handler keeps
    ``pool_size * NOTIFIER_SMTP_PIPELINE_DEPTH``).
    """

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._lanes = [Lane(self) for _ in range(config.pool_size)]
        self.connections_opened = 0

    async def send(self, mail: OutgoingMail) -> None:
        try:
            await self._deliver(mail)
        except aiosmtplib.SMTPException as exc:
            raise classify(exc) from exc
        except OSError as exc:  # refused, reset, TLS handshake
            raise SmtpRelayDown(f"SMTP connection failed: {exc!r}") from exc

    async def close(self) -> None:
        await asyncio.gather(*(lane.close() for lane in self._lanes))

    async def check(self) -> bool:
        """Readiness: the relay answers (connect, NOOP, QUIT)."""
        client = await self._handshake()
        try:
            await client.noop()
        finally:
            await _quit(client)
        return True

    async def _deliver(self, mail: OutgoingMail) -> None:
        try:
            await self._least_busy().submit(mail)
        except aiosmtplib.SMTPServerDisconnected:
            # The connection went while this mail was on it (a reused connection the
            # server closed while idle, most often): once more, on a fresh connection.
            await self._least_busy().submit(mail)

    def _least_busy(self) -> Lane:
        return min(self._lanes, key=Lane.load)

    async def connect(self) -> SmtpConnection:
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

    @property
    def timeout_s(self) -> float:
        return self._config.timeout_s


class _Queued:
    """A mail waiting in a lane, or in flight on its connection, and its caller's future."""

    __slots__ = ("content", "deadline", "envelope", "mail", "outcome")

    def __init__(self, mail: OutgoingMail, outcome: asyncio.Future[None]) -> None:
        self.mail = mail
        self.outcome = outcome
        self.deadline = 0.0  # set when its envelope is written
        # set when taken off the queue to be written (content: dot-stuffed, no final dot)
        self.envelope = self.content = b""

    def settle(self, error: BaseException | None = None) -> None:
        if self.outcome.done():  # the caller gave up (cancelled)
            return
        if error is None:
            self.outcome.set_result(None)
        else:
            self.outcome.set_exception(error)


class Lane:
    """One pooled connection and the mails queued on it, written by one task (the
    pump) that runs while mails are queued. A mail's outcome is its own: what the
    server answered to *its* commands, whatever happened to the mails around it."""

    def __init__(self, pool: SmtpPool) -> None:
        self._pool = pool
        self._queue: deque[_Queued] = deque()
        self._in_flight = 0
        self._connection: SmtpConnection | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closed = False

    def load(self) -> int:
        return len(self._queue) + self._in_flight

    async def submit(self, mail: OutgoingMail) -> None:
        if self._closed:
            raise aiosmtplib.SMTPServerDisconnected("SMTP pool closed")
        queued = _Queued(mail, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        if self._pump is None:
            self._pump = asyncio.create_task(self._run())
        await queued.outcome

    async def close(self) -> None:
        self._closed = True
        pump = self._pump
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if self._connection is not None:
            await self._connection.quit()
            self._connection = None

    async def _run(self) -> None:
        try:
            while self._queue:
                connection = self._connection
                if connection is None or not connection.is_open:
                    self._connection = None
                    try:
                        connection = self._connection = await self._pool.connect()
                    except Exception as exc:  # SMTPException, OSError: classified by send
                        # Each queued mail would have met the same relay: all get its error.
                        self._fail_queued(exc)
                        return
                if connection.pipelining:
                    await self._pipeline(connection)
                else:
                    await self._one_by_one(connection)
        finally:
            self._pump = None
            # Empty unless the pump was stopped (pool closed) or failed: no caller waits forever.
            self._fail_queued(aiosmtplib.SMTPServerDisconnected("SMTP pool closed"))

    def _next(self) -> _Queued | None:
        while self._queue:
            queued = self._queue.popleft()
            if not queued.outcome.done():
                return queued
        return None

    def _next_prepared(self, connection: SmtpConnection) -> _Queued | None:
        """The next queued mail with its commands and content built; a mail whose
        address no command can carry is settled with that (permanent) error."""
        while (queued := self._next()) is not None:
            try:
                queued.envelope, queued.content = connection.prepare(queued.mail)
            except PermanentSmtpError as exc:
                queued.settle(exc)
                continue
            return queued
        return None

    def _fail_queued(self, error: BaseException) -> None:
        while self._queue:
            self._queue.popleft().settle(error)

    async def _one_by_one(self, connection: SmtpConnection) -> None:
        """A relay without PIPELINING: each command after the previous reply."""
        while connection.is_open and (queued := self._next()) is not None:
            self._in_flight = 1
            try:
                await connection.transaction(queued.mail, self._pool.timeout_s)
            except (aiosmtplib.SMTPException, PermanentSmtpError) as exc:
                await connection.quit()  # a failed transaction leaves no envelope behind
                queued.settle(exc)
            except BaseException as exc:
                connection.abort()
                queued.settle(aiosmtplib.SMTPServerDisconnected(f"SMTP pool stopped: {exc!r}"))
                raise
            else:
                queued.settle()
            finally:
                self._in_flight = 0

    async def _pipeline(self, connection: SmtpConnection) -> None:
        """RFC 2920 §3.1: "the actual transfer of message content is explicitly allowed
        to be the first 'command' in a group", and DATA must be the last. So the content
        of mail N (after its 354) goes in one write with MAIL FROM / RCPT TO / DATA of
        mail N+1: one write, and one wake-up of the server, per mail instead of two.
        Replies come in order (RFC 2920 §3.1: the server answers each command of the
        group): N's end of data, then N+1's three; each settles only its own mail.

        After a refused envelope the connection is closed (QUIT: a refused recipient
        leaves the sender's transaction open on the server, and we send no RSET) and
        the queued mails go on a fresh one — nothing was written after that envelope. A dropped
        connection or a timeout settles every mail written on it (at most two) with
        that error, never "sent"; mails still queued go on a fresh connection.
        """
        timeout_s = self._pool.timeout_s
        loop = asyncio.get_running_loop()
        current = self._next_prepared(connection)
        if current is None:
            return
        written: list[_Queued] = [current]  # on the wire, not settled yet
        self._in_flight = 1
        try:
            async with asyncio.timeout(None) as timeout:
                # moved to each mail's own deadline without a new timer per mail
                deadline = LazyDeadline(loop, timeout)
                try:
                    current.deadline = loop.time() + timeout_s
                    connection.write(current.envelope)
                    while current is not None:
                        deadline.move(current.deadline)
                        refusal = await connection.envelope_replies(current.mail)
                        if refusal is not None:
                            written.remove(current)
                            current.settle(refusal)
                            await connection.quit()
                            return
                        following = self._next_prepared(connection)
                        if following is None:
                            connection.write(current.content + END_OF_DATA)
                        else:
                            following.deadline = loop.time() + timeout_s
                            # one copy of the content, not two (its end, then the envelope)
                            connection.write(
                                b"".join((current.content, END_OF_DATA, following.envelope))
                            )
                            written.append(following)
                            self._in_flight = 2
                        reply = await connection.end_of_data()
                        written.remove(current)
                        self._in_flight = len(written)
                        # RFC 5321 §4.1.1.4: the end-of-data reply ends the transaction,
                        # whatever its code: the following envelope starts a new one.
                        current.settle(_end_of_data_error(reply))
                        current = following
                finally:
                    deadline.cancel()  # its timer must not outlive the timeout
        except TimeoutError:
            connection.abort()
            _settle_all(written, aiosmtplib.SMTPReadTimeoutError(TIMED_OUT))
        except aiosmtplib.SMTPException as exc:  # the connection dropped, or a bad reply
            connection.abort()
            _settle_all(written, exc)
        except BaseException as exc:
            connection.abort()
            _settle_all(written, aiosmtplib.SMTPServerDisconnected(f"SMTP pool stopped: {exc!r}"))
            raise
        finally:
            self._in_flight = 0


TIMED_OUT = "Timed out waiting for server response"
#: The line that ends a mail's content (RFC 5321 §4.1.1.4).
END_OF_DATA = b".\r\n"


def _settle_all(written: list[_Queued], error: BaseException) -> None:
    for queued in written:
        queued.settle(error)


def _end_of_data_error(reply: SMTPResponse) -> aiosmtplib.SMTPDataError | None:
    if reply.code == SMTPStatus.completed:
        return None
    return aiosmtplib.SMTPDataError(reply.code, reply.message)


class SmtpConnection:
    """One connection after its handshake: the mail transactions on it.

    MAIL, RCPT and DATA for one recipient, with the replies ``SMTP.sendmail`` would
    turn into the same exceptions, but cheaper per mail (this was ~30 % of the
    notifier's CPU in the backlog profile):

    - where the server offers PIPELINING (RFC 2920; Postfix, Exim and most relays
      do), MAIL FROM, RCPT TO and DATA go in one write and their replies are read
      after (RFC 2920 §3.1: DATA ends the group, every reply is checked in order); the
      message follows the 354, in the same write as the next mail's envelope when
      one is queued (:meth:`Lane._pipeline`). One write per mail instead of four —
      on loopback each write also does the receiving side's TCP work;
    - one deadline per transaction (``asyncio.timeout``) instead of
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

    def prepare(self, mail: OutgoingMail) -> tuple[bytes, bytes]:
        """The mail's envelope (MAIL FROM, RCPT TO, DATA) and its content as DATA
        carries it, dot-stuffed, without the final dot (:data:`END_OF_DATA`, written
        with it). Raises ``PermanentSmtpError`` for an address no command can carry —
        before anything is written."""
        sender, recipient = _path(mail.sender), _path(mail.recipient)
        # A mail from our own writer ends every line in CRLF by construction: not
        # scanned again (three passes over the mail, ~3.7 µs of ~2.6 KB).
        content = mail.raw if mail.crlf_lines else _crlf_lines(mail.raw)
        size = b" SIZE=%d" % len(content) if self._size else b""
        envelope = b"MAIL FROM:%s%s\r\nRCPT TO:%s\r\nDATA\r\n" % (sender, size, recipient)
        return envelope, _dot_stuffed(content)

    async def transaction(self, mail: OutgoingMail, timeout_s: float) -> None:
        """One mail, each command after the previous reply: a relay without
        PIPELINING (pipelined mails go through :meth:`Lane._pipeline`)."""
        envelope, content = self.prepare(mail)  # before any command
        mail_from, rcpt_to, data = envelope.splitlines(keepends=True)
        try:
            async with asyncio.timeout(timeout_s):
                self.write(mail_from)
                _check_sender(await self._replies.reply(), mail)
                self.write(rcpt_to)
                _check_recipient(await self._replies.reply(), mail)
                self.write(data)
                _check_data(await self._replies.reply())
                self.write(content + END_OF_DATA)
                reply = await self._replies.reply()
        except TimeoutError as exc:
            self.abort()
            raise aiosmtplib.SMTPReadTimeoutError(TIMED_OUT) from exc
        if reply.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)

    async def envelope_replies(self, mail: OutgoingMail) -> aiosmtplib.SMTPException | None:
        """The replies to a pipelined MAIL, RCPT and DATA: ``None`` on 354, else the
        refusal as ``SMTP.sendmail`` raises it (RFC 2920 §3.1: every reply checked in
        order; a refused sender or recipient is reported as such, not as the DATA
        refusal after it). A dropped connection raises ``SMTPServerDisconnected``."""
        replies: list[SMTPResponse] = []
        try:
            while len(replies) < 3:
                replies.append(await self._replies.reply())
        except aiosmtplib.SMTPServerDisconnected:
            # A server that refuses and hangs up (421) answers no further command of
            # the group: its refusal, not the hang-up, is what happened to this mail.
            for reply, refusal in zip(replies, (_sender_refusal, _recipient_refusal), strict=False):
                if (error := refusal(reply, mail)) is not None:
                    return error
            raise
        sender_reply, recipient_reply, data_reply = replies
        refused = _sender_refusal(sender_reply, mail) or _recipient_refusal(recipient_reply, mail)
        if refused is not None and data_reply.code == SMTPStatus.start_input:
            # RFC 2920 §3.1: a server may take DATA although it refused the envelope;
            # the connection is dropped mid-DATA, so nothing is delivered (RFC 5321 §3.8).
            self.abort()
        if refused is None and data_reply.code != SMTPStatus.start_input:
            refused = aiosmtplib.SMTPDataError(data_reply.code, data_reply.message)
        return refused

    async def end_of_data(self) -> SMTPResponse:
        return await self._replies.reply()

    async def quit(self) -> None:
        if self.is_open:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                async with asyncio.timeout(5):
                    self.write(b"QUIT\r\n")
                    await self._replies.reply()
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def write(self, data: bytes) -> None:
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
        ``code text``); a partial one stays for the next segment. The complete lines
        are split in one call: a pipelined group's replies arrive together."""
        buffer = self._buffer
        end = buffer.rfind(b"\n") + 1
        if end:
            lines = bytes(buffer[:end]).split(b"\n")
            lines.pop()  # after the last newline: nothing
            consumed = position = 0
            continued: list[bytes] = []
            for line in lines:
                position += len(line) + 1
                if not continued and (known := _ONE_LINE_REPLIES.get(line)) is not None:
                    self._replies.append(known)  # a line checked and parsed before
                    consumed = position
                    continue
                if len(line) > MAX_LINE_LENGTH or not line[:3].isdigit():
                    raise _invalid(f"Malformed SMTP reply line: {line[:80]!r}")
                if line[3:4] == b"-":
                    continued.append(line)
                    continue
                if continued:
                    self._replies.append(_reply(continued, line))
                    continued = []
                else:
                    self._replies.append(_one_line_reply(line))
                consumed = position
            del buffer[:consumed]  # a multi-line reply without its last line stays
        if len(buffer) > MAX_RESPONSE_LENGTH:
            raise _invalid("Reply too long")


#: One-line replies by their line: a relay answers MAIL, RCPT and DATA with the same
#: few lines mail after mail (the end of data's often carries a queue id: those pass).
#: A reply is an immutable tuple, so one object serves every time its line comes.
_ONE_LINE_REPLIES: dict[bytes, SMTPResponse] = {}


def _one_line_reply(line: bytes) -> SMTPResponse:
    """A checked one-line reply (``code text``), remembered by its line."""
    if len(_ONE_LINE_REPLIES) >= 64:
        _ONE_LINE_REPLIES.clear()
    reply = _ONE_LINE_REPLIES[line] = _reply([], line)
    return reply


def _reply(continued: list[bytes], last: bytes) -> SMTPResponse:
    text = "\n".join([*map(_text_of, continued), _text_of(last)]) if continued else _text_of(last)
    return SMTPResponse(int(last[:3]), text)


def _text_of(line: bytes) -> str:
    return line[4:].strip(b" \t\r").decode("utf-8", "surrogateescape")


def _invalid(text: str) -> aiosmtplib.SMTPResponseException:
    return aiosmtplib.SMTPResponseException(SMTPStatus.invalid_response.value, text)


def _sender_refusal(reply: SMTPResponse, mail: OutgoingMail) -> aiosmtplib.SMTPException | None:
    if reply.code == SMTPStatus.completed:
        return None
    return aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail.sender)


def _check_sender(reply: SMTPResponse, mail: OutgoingMail) -> None:
    if (refused := _sender_refusal(reply, mail)) is not None:
        raise refused


def _recipient_refusal(reply: SMTPResponse, mail: OutgoingMail) -> aiosmtplib.SMTPException | None:
    if reply.code in (SMTPStatus.completed, SMTPStatus.will_forward):
        return None
    refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, mail.recipient)
    return aiosmtplib.SMTPRecipientsRefused([refused])


def _check_recipient(reply: SMTPResponse, mail: OutgoingMail) -> None:
    if (refused := _recipient_refusal(reply, mail)) is not None:
        raise refused


def _check_data(reply: SMTPResponse) -> None:
    if reply.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


@functools.lru_cache(maxsize=1024)  # our sender in every mail, agents in most
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
    # find, not ``in``: ``in`` takes a bytes operand for a byte's value first, and that
    # raises a formatted TypeError, cleared (~1 K instructions a mail)
    if content.startswith(b".") or content.find(b"\n.") >= 0:
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
